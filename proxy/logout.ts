import type http from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ResolvedOAuth2, ResolvedOptions, UpstreamEndpoint } from './options';
import type { Upstream } from './upstream';
import { sendJson } from './errors';
import { upstreamAuthHeader } from './headers';
import { needsRefresh, refreshInFlight, refreshTokens, type RefreshOutcome } from './refresh';
import { endSessions, tokensProducedAfterEnd, type NewestTokens } from './refresh-memory';
import { appendSetCookie, clearedSessionCookies, readSessionCookies, type SessionCookies } from './session-cookie';
import { callUpstream, type UpstreamCall } from './upstream-call';
import { oauth2Request } from './oauth2';

/**
 * The refresh to wait for before telling the upstream: one already under way for this refresh token
 * (another tab's), or, when the access token has expired (a browser drops an expired access cookie, so
 * only the refresh token is left), one started now so the upstream gets an access token it accepts.
 */
function refreshToWaitFor(cookies: SessionCookies, options: ResolvedOptions, agent: http.Agent): Promise<RefreshOutcome> | undefined {
  if (cookies.conflict || cookies.refresh === undefined) return undefined;
  return (
    refreshInFlight(options, cookies.refresh) ??
    (needsRefresh(cookies.access, options, cookies.accessExpiresAt) ? refreshTokens(options, agent, cookies.refresh) : undefined)
  );
}

/** What the upstream logout is given to revoke: the newest tokens of the session, once the refresh (if any) landed. */
async function tokensToRevoke(
  cookies: SessionCookies,
  options: ResolvedOptions,
  refresh: Promise<RefreshOutcome> | undefined,
  newest: NewestTokens,
) {
  if (cookies.conflict) return undefined;
  const outcome = await refresh;
  // A refresh that landed after the session ended: its tokens were kept for the logout, never sent.
  const produced = cookies.refresh === undefined ? undefined : tokensProducedAfterEnd(options, cookies.refresh);
  if (produced) return { access: produced.access, refresh: produced.refresh ?? cookies.refresh };
  // Another tab's rotation in the reuse window: its tokens are the session's newest.
  if (newest.access !== undefined) return newest;
  // A refresh token the upstream refused is already dead; the access token may still be live.
  if (outcome?.kind === 'rejected') return { access: cookies.access, refresh: undefined };
  return { access: cookies.access, refresh: cookies.refresh };
}

type Tokens = { access?: string | undefined; refresh?: string | undefined };

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

/**
 * Ends the request's session: at once for this process (a refresh of its token still under way lands
 * as a refusal, so no other tab gets new tokens from it, and no late request with an older refresh token
 * gets the session back from the reuse memory), and upstream with the session's newest tokens, as
 * configured: `logout.perform`, or `logout.upstreamPath`, and RFC 7009 revocation at
 * `oauth2.revocationUrl`. A failed upstream logout is logged, never thrown: the caller clears the
 * cookies whatever happens.
 */
export async function endSession(req: IncomingMessage, options: ResolvedOptions, agent: http.Agent): Promise<void> {
  const { perform, upstream } = options.logout;
  const revocation = options.oauth2?.revocation;
  const tellsUpstream = perform !== undefined || upstream !== undefined || revocation !== undefined;
  const cookies = readSessionCookies(req, options);
  // Started (or joined) before the session is ended, so its result is kept for the revocation below.
  const refresh = tellsUpstream ? refreshToWaitFor(cookies, options, agent) : undefined;
  const newest = endSessions(options, [cookies.refresh], [cookies.access]);
  if (!tellsUpstream) return;
  const told = (async () => {
    const tokens = await tokensToRevoke(cookies, options, refresh, newest);
    if (!tokens || (tokens.access === undefined && tokens.refresh === undefined)) return;
    if (perform) return performLogout(options, perform, tokens);
    await Promise.all([
      upstream && upstreamLogout(options, agent, upstream, tokens),
      revocation && options.oauth2 && revokeTokens(options, agent, options.oauth2, revocation, tokens),
    ]);
  })();
  // The browser's logout waits at most `timeoutMs` in all (a refresh first, then the calls): past it the
  // cookies are cleared and the calls finish (and log) on their own.
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, options.timeoutMs);
  });
  await Promise.race([told, deadline]);
  clearTimeout(timer);
}

/** Answers `POST /api/logout` itself: the session ends (see endSession) and its cookies are cleared whatever happens upstream. */
export async function answerLogout(req: IncomingMessage, res: ServerResponse, options: ResolvedOptions, upstream: Upstream): Promise<void> {
  // Any request body is of no use here; reading it lets the connection be reused.
  req.resume();
  await endSession(req, options, upstream.agent);
  if (res.headersSent || res.destroyed) return;
  appendSetCookie(res, ...clearedSessionCookies(req, options));
  sendJson(res, 200, JSON.stringify({ loggedOut: true }));
}
