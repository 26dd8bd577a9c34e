import type { ApiProxyOptions } from './proxy/index';

/**
 * The app's one proxy configuration, shared by the API route and server-side rendering (server-lib),
 * so cookie name, header format and API_URL cannot drift apart. API_URL itself comes from the env.
 */
export const bffOptions = {
  // The demo API revokes the token on logout.
  logout: { upstreamPath: '/logout' },
  // DEMO_CSRF_HEADER=1 turns on the stricter anti-forgery header (the demo's fetch always sends it).
  csrf: process.env.DEMO_CSRF_HEADER === '1' ? { requireHeader: { name: 'x-csrf', value: '1' } } : {},
  // DEMO_REFRESH_SKEW_SECONDS lets the end-to-end test use access tokens of a few seconds.
  refresh: { skewSeconds: Number(process.env.DEMO_REFRESH_SKEW_SECONDS ?? 30) },
} satisfies ApiProxyOptions;
