import type http from 'node:http';
import type { ResolvedOAuth2, ResolvedOptions, UpstreamEndpoint } from './options';
import { upstreamAuthHeader } from './headers';
import { callUpstream, type UpstreamCall } from './upstream-call';
import { oauth2Request } from './oauth2';

// Telling the upstream that a session ended, in its dialect: `logout.perform`, `logout.upstreamPath`,
// RFC 7009 revocation at `oauth2.revocationUrl`. Never thrown: a failure is logged, and the caller
// clears the session whatever happens.

export type Tokens = { access?: string | undefined; refresh?: string | undefined };

/** Logs an upstream logout that failed: never thrown, the cookies are cleared anyway. */
function warnLogoutFailed(options: ResolvedOptions, what: string, detail: string): void {
  options.logger.warn(`[next-bff-proxy] ${what} ${detail}: the tokens may still be valid upstream; the cookies are cleared anyway`);
}

async function tell(options: ResolvedOptions, agent: http.Agent, what: string, call: UpstreamCall): Promise<void> {
  try {
    const reply = await callUpstream(options, agent, call);
    if (reply.status < 200 || reply.status > 299) warnLogoutFailed(options, what, `answered ${reply.status}`);
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    warnLogoutFailed(options, what, `failed (${typeof code === 'string' ? code : 'error'})`);
  }
}

/** How the refresh token rides on the upstream logout: as the refresh dialect presents it. */
function presentForLogout(
  options: ResolvedOptions,
  refreshToken: string | undefined,
  hasBody: boolean,
): Pick<UpstreamCall, 'headers' | 'body'> {
  const refresh = options.refresh;
  if (refreshToken === undefined || !refresh) return {};
  switch (refresh.dialect) {
    case 'json':
      return hasBody
        ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify({ [refresh.bodyField]: refreshToken }) }
        : {};
    case 'cookie':
      return { headers: { cookie: `${refresh.upstreamCookieName}=${refreshToken}` } };
    case 'oauth2':
      // An OpenID Connect logout endpoint (Keycloak's) takes the refresh token and the client's credentials as a form.
      return hasBody && options.oauth2 ? oauth2Request(options.oauth2, { refresh_token: refreshToken }) : {};
    case 'bearer':
      // Authorization carries the access token here; the API ends the session from it.
      return {};
  }
}

/** `{logout.upstreamMethod} {logout.upstreamPath}` with the access token and the refresh token in the API's dialect. */
function upstreamLogout(options: ResolvedOptions, agent: http.Agent, endpoint: UpstreamEndpoint, tokens: Tokens): Promise<void> {
  const hasBody = options.logout.method !== 'GET';
  const presented = presentForLogout(options, tokens.refresh, hasBody);
  // An OAuth 2.0 / OpenID Connect logout endpoint authenticates the client (its Authorization is the
  // client's Basic credentials), not the user's access token.
  const withAccess = tokens.access !== undefined && options.refresh?.dialect !== 'oauth2';
  return tell(options, agent, 'upstream logout', {
    method: options.logout.method,
    path: endpoint.path,
    target: endpoint.target,
    headers: { ...(withAccess && tokens.access !== undefined ? upstreamAuthHeader(options, tokens.access) : {}), ...presented.headers },
    body: presented.body,
  });
}

/** RFC 7009: the refresh token revoked (which §2.1 says should end its access tokens too), then, if asked, the access token. */
async function revokeTokens(
  options: ResolvedOptions,
  agent: http.Agent,
  oauth2: ResolvedOAuth2,
  endpoint: UpstreamEndpoint,
  tokens: Tokens,
) {
  const revoke = (token: string, hint: 'refresh_token' | 'access_token') =>
    tell(options, agent, `token revocation (${hint})`, {
      method: 'POST',
      path: endpoint.path,
      target: endpoint.target,
      ...oauth2Request(oauth2, { token, token_type_hint: hint }),
    });
  // Side by side: a slow server costs one timeout, not two.
  await Promise.all([
    tokens.refresh !== undefined && revoke(tokens.refresh, 'refresh_token'),
    oauth2.revokeAccessToken && tokens.access !== undefined && revoke(tokens.access, 'access_token'),
  ]);
}

/** The escape hatch: the user's own logout, bounded by `timeoutMs`; what it throws is logged by name only. */
async function performLogout(options: ResolvedOptions, perform: NonNullable<ResolvedOptions['logout']['perform']>, tokens: Tokens) {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolve) => {
    timer = setTimeout(() => {
      warnLogoutFailed(options, 'logout.perform', 'did not settle within timeoutMs');
      resolve();
    }, options.timeoutMs);
  });
  try {
    await Promise.race([perform({ accessToken: tokens.access, refreshToken: tokens.refresh }), timeout]);
  } catch (err) {
    warnLogoutFailed(options, 'logout.perform', `threw ${err instanceof Error ? err.name : 'a value'}`);
  } finally {
    clearTimeout(timer);
  }
}

/** Whether logout tells the upstream anything at all. */
export function tellsUpstreamAtLogout(options: ResolvedOptions): boolean {
  return options.logout.perform !== undefined || options.logout.upstream !== undefined || options.oauth2?.revocation !== undefined;
}

/** Tells the upstream that the session holding these tokens is over, as configured. */
export async function tellUpstreamLogout(options: ResolvedOptions, agent: http.Agent, tokens: Tokens): Promise<void> {
  if (tokens.access === undefined && tokens.refresh === undefined) return;
  const { perform, upstream } = options.logout;
  if (perform) return performLogout(options, perform, tokens);
  const revocation = options.oauth2?.revocation;
  await Promise.all([
    upstream && upstreamLogout(options, agent, upstream, tokens),
    revocation && options.oauth2 && revokeTokens(options, agent, options.oauth2, revocation, tokens),
  ]);
}

/**
 * Waits for `work` at most `timeoutMs`: the browser's logout is answered by then, and the calls finish
 * (and log) on their own.
 */
export async function withinTimeout(options: ResolvedOptions, work: Promise<unknown>): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, options.timeoutMs);
  });
  await Promise.race([work.catch(() => undefined), deadline]);
  clearTimeout(timer);
}
