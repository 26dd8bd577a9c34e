import type { ApiProxyOptions } from './proxy/index';

/**
 * The app's one proxy configuration, shared by the API route and server-side rendering (server-lib),
 * so cookie name, header format and API_URL cannot drift apart. API_URL itself comes from the env.
 */
// OAUTH_TOKEN_URL runs the demo on an OAuth 2.0 server instead of the demo API (the password grant at
// login, the refresh token grant, RFC 7009 revocation at logout). See .env.example.
const oauth2 = process.env.OAUTH_TOKEN_URL
  ? {
      tokenUrl: process.env.OAUTH_TOKEN_URL,
      clientId: process.env.OAUTH_CLIENT_ID ?? '',
      clientSecret: process.env.OAUTH_CLIENT_SECRET,
      revocationUrl: process.env.OAUTH_REVOCATION_URL || undefined,
      scope: process.env.OAUTH_SCOPE || undefined,
    }
  : undefined;

export const bffOptions = {
  // The demo API revokes the token on logout; an OAuth 2.0 server is told at its revocation endpoint.
  ...(oauth2 ? { oauth2 } : { logout: { upstreamPath: '/logout' } }),
  // DEMO_CSRF_HEADER=1 turns on the stricter anti-forgery header (the demo's fetch always sends it).
  csrf: process.env.DEMO_CSRF_HEADER === '1' ? { requireHeader: { name: 'x-csrf', value: '1' } } : {},
  // DEMO_REFRESH_SKEW_SECONDS lets the end-to-end test use access tokens of a few seconds.
  refresh: { skewSeconds: Number(process.env.DEMO_REFRESH_SKEW_SECONDS ?? 30) },
} satisfies ApiProxyOptions;
