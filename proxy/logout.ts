import type http from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ResolvedOptions } from './options';
import type { Upstream } from './upstream';
import { sendJson } from './errors';
import { upstreamAuthHeader } from './headers';
import { needsRefresh, refreshInFlight, refreshTokens, type RefreshOutcome } from './refresh';
import { endSessions, tokensProducedAfterEnd, type NewestTokens } from './refresh-memory';
import { appendSetCookie, clearedSessionCookies, readSessionCookies, type SessionCookies } from './session-cookie';
import { callUpstream } from './upstream-call';

/**
 * The refresh to wait for before telling the upstream: one already under way for this refresh token
 * (another tab's), or, when the access token has expired (a browser drops an expired access cookie, so
 * only the refresh token is left), one started now so the upstream gets an access token it accepts.
 */
function refreshToWaitFor(cookies: SessionCookies, options: ResolvedOptions, agent: http.Agent): Promise<RefreshOutcome> | undefined {
  if (cookies.conflict || cookies.refresh === undefined) return undefined;
  return (
    refreshInFlight(options, cookies.refresh) ??
    (needsRefresh(cookies.access, options) ? refreshTokens(options, agent, cookies.refresh) : undefined)
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

/**
 * Ends the request's session: at once for this process (a refresh of its token still under way lands
 * as a refusal, so no other tab gets new tokens from it, and no late request with an older refresh token
 * gets the session back from the reuse memory), and, with `logout.upstreamPath`, at the API too, told
 * with the newest access token and (in the JSON body) refresh token so it can revoke both. A failed
 * upstream logout is logged, never thrown: the caller clears the cookies whatever happens.
 */
export async function endSession(req: IncomingMessage, options: ResolvedOptions, agent: http.Agent): Promise<void> {
  const upstreamPath = options.logout.upstreamPath;
  const cookies = readSessionCookies(req, options);
  // Started (or joined) before the session is ended, so its result is kept for the revocation below.
  const refresh = upstreamPath === undefined ? undefined : refreshToWaitFor(cookies, options, agent);
  const newest = endSessions(options, [cookies.refresh], [cookies.access]);
  const tokens = upstreamPath === undefined ? undefined : await tokensToRevoke(cookies, options, refresh, newest);
  if (upstreamPath === undefined || !tokens || (tokens.access === undefined && tokens.refresh === undefined)) return;
  const { access, refresh: refreshToken } = tokens;
  const body = refreshToken !== undefined && options.refresh ? JSON.stringify({ [options.refresh.bodyField]: refreshToken }) : undefined;
  try {
    const reply = await callUpstream(options, agent, {
      method: 'POST',
      path: upstreamPath,
      headers: {
        ...(access === undefined ? {} : upstreamAuthHeader(options, access)),
        ...(body ? { 'content-type': 'application/json' } : {}),
      },
      body,
    });
    if (reply.status < 200 || reply.status > 299) {
      options.logger.warn(
        `[next-bff-proxy] upstream logout answered ${reply.status}: the tokens may still be valid upstream; the cookies are cleared anyway`,
      );
    }
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    options.logger.warn(
      `[next-bff-proxy] upstream logout failed (${typeof code === 'string' ? code : 'error'}); the cookies are cleared anyway`,
    );
  }
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
