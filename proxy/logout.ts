import type http from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ResolvedOptions, ResolvedSessionStore } from './options';
import type { Upstream } from './upstream';
import { sendJson } from './errors';
import { needsRefresh, refreshInFlight, refreshTokens, type RefreshOutcome } from './refresh';
import { endSessions, tokensProducedAfterEnd, type NewestTokens } from './refresh-memory';
import { appendSetCookie, clearedSessionCookies, readSessionCookies, type SessionCookies } from './session-cookie';
import { tellsUpstreamAtLogout, tellUpstreamLogout, withinTimeout } from './upstream-logout';
import { readSession } from './session-source';
import { storeKeyOf } from '../session-store/server-session';
import { isSessionStoreError } from '../session-store/types';
import { endStoredUserSessions } from './store-sessions';

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

/**
 * Ends the request's session: at once for this process (a refresh of its token still under way lands
 * as a refusal, so no other tab gets new tokens from it, and no late request with an older refresh token
 * gets the session back from the reuse memory), and upstream with the session's newest tokens, as
 * configured: `logout.perform`, or `logout.upstreamPath`, and RFC 7009 revocation at
 * `oauth2.revocationUrl`. A failed upstream logout is logged, never thrown: the caller clears the
 * cookies whatever happens.
 */
export async function endSession(req: IncomingMessage, options: ResolvedOptions, agent: http.Agent): Promise<void> {
  if (options.sessionStore) return endStoredSession(req, options, options.sessionStore, agent);
  const cookies = readSessionCookies(req, options);
  const tellsUpstream = tellsUpstreamAtLogout(options);
  // Started (or joined) before the session is ended, so its result is kept for the revocation below.
  const refresh = tellsUpstream ? refreshToWaitFor(cookies, options, agent) : undefined;
  const newest = endSessions(options, [cookies.refresh], [cookies.access]);
  if (!tellsUpstream) return;
  await withinTimeout(
    options,
    tokensToRevoke(cookies, options, refresh, newest).then((tokens) => tokens && tellUpstreamLogout(options, agent, tokens)),
  );
}

/** A stored session ends everywhere at once: it is deleted from the store, then the API is told with its tokens. */
async function endStoredSession(
  req: IncomingMessage,
  options: ResolvedOptions,
  store: ResolvedSessionStore,
  agent: http.Agent,
): Promise<void> {
  // The id alone: the tokens told to the upstream are the ones the delete took out (a refresh that
  // landed since is in them).
  const key = storeKeyOf(readSessionCookies(req, options).access);
  if (key === undefined) return;
  const ended = await store.get().delete(key);
  if (ended && tellsUpstreamAtLogout(options)) {
    await withinTimeout(options, tellUpstreamLogout(options, agent, { access: ended.accessToken, refresh: ended.refreshToken }));
  }
}

/** Answers `POST /api/logout` itself: the session ends (see endSession) and its cookies are cleared whatever happens upstream. */
export async function answerLogout(req: IncomingMessage, res: ServerResponse, options: ResolvedOptions, upstream: Upstream): Promise<void> {
  // Any request body is of no use here; reading it lets the connection be reused.
  req.resume();
  try {
    await endSession(req, options, upstream.agent);
  } catch (err) {
    if (!isSessionStoreError(err)) throw err;
    // The store cannot end the session now: this browser forgets it all the same (what its user asked
    // for), and the 503 says the server-side end did not happen.
    appendSetCookie(res, ...clearedSessionCookies(req, options));
    throw err;
  }
  if (res.headersSent || res.destroyed) return;
  appendSetCookie(res, ...clearedSessionCookies(req, options));
  sendJson(res, 200, JSON.stringify({ loggedOut: true }));
}

/**
 * Answers `POST /api/logout/everywhere` (with a session store): every session of the signed-in user ends,
 * on every instance, and this browser's cookie is cleared. Without a user id (none in the login answer
 * or the token), only this session ends. `{"loggedOut": true, "sessions": n}`.
 */
export async function answerLogoutEverywhere(
  req: IncomingMessage,
  res: ServerResponse,
  options: ResolvedOptions,
  upstream: Upstream,
): Promise<void> {
  req.resume();
  const store = options.sessionStore;
  const loaded = await readSession(req, options);
  let sessions = 0;
  if (store && loaded.stored?.userId !== undefined)
    sessions = await endStoredUserSessions(options, store, upstream.agent, loaded.stored.userId);
  else if (loaded.storeKey !== undefined) {
    await endSession(req, options, upstream.agent);
    sessions = 1;
  }
  if (res.headersSent || res.destroyed) return;
  appendSetCookie(res, ...clearedSessionCookies(req, options));
  sendJson(res, 200, JSON.stringify({ loggedOut: true, sessions }));
}
