import type http from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ResolvedOptions, ResolvedSessionStore } from './options';
import {
  holdDelivery,
  isIssued,
  memory,
  recall,
  refreshKey,
  settleRefresh,
  type RefreshedTokens,
  type RefreshFailure,
  type RefreshOutcome,
} from './refresh-memory';
import { releaseSlot, takeSlot, type TokenPool } from './refresh-slots';
import { logThrottled } from './log-throttle';
import { expiresAtFrom, tokenExpiry } from './token-expiry';
import { buildRefreshCall } from './refresh-request';
import { isClientError, readOAuthError } from './oauth2';
import { takeTokensFromBody, LoginResponseError } from './login-response';
import { readSetCookieValue } from './upstream-cookies';
import { readSession, type LoadedSession } from './session-source';
import { refreshStoredSession } from '../session-store/server-session';
import { tellUpstreamLogout } from './upstream-logout';
import { isStorableToken } from './store-sessions';
import { callUpstream, UpstreamCallError } from './upstream-call';
import { appendSetCookie, clearedSessionCookies, sessionCookies, UnstorableTokenError } from './session-cookie';

export type { RefreshedTokens, RefreshFailure, RefreshOutcome } from './refresh-memory';
export { rememberIssuedRefreshToken } from './refresh-memory';

// RFC 9110 §10.2.3: delay-seconds or an HTTP-date; anything else is not passed on.
const RETRY_AFTER = /^(\d{1,9}|[A-Za-z]{3}, \d{2} [A-Za-z]{3} \d{4} \d{2}:\d{2}:\d{2} GMT)$/;

/** Upstream statuses that end a session: the refresh token itself was refused. Anything else is temporary. */
const SESSION_ENDING_STATUS = new Set([400, 401, 403]);

/** True when the access token is missing, or expires (JWT `exp`, or the `expires_in` kept with it) within the skew. */
export function needsRefresh(accessToken: string | undefined, options: ResolvedOptions, expiresAt?: number): boolean {
  if (!options.refresh) return false;
  if (accessToken === undefined) return true;
  const exp = tokenExpiry(accessToken, expiresAt);
  return exp !== undefined && exp - Date.now() / 1000 <= options.refresh.skewSeconds;
}

type RefreshOptions = NonNullable<ResolvedOptions['refresh']>;

/**
 * New tokens as a refresh outcome, once they pass the check every stored token passes: tokens a cookie
 * or a header could not carry as they are never enter the reuse memory, where a later logout would
 * present them upstream (a refresh token `x; admin=1` in the 'cookie' dialect's Cookie header).
 */
function refreshedWith(options: ResolvedOptions, access: string, refresh: string | undefined, expiresIn: unknown): RefreshOutcome {
  if (!isStorableToken(access) || (refresh !== undefined && !isStorableToken(refresh))) {
    options.logger.error('[next-bff-proxy] refresh answer unusable: unsafe_token');
    return { kind: 'failed', code: 'bad_upstream_response' };
  }
  return { kind: 'refreshed', tokens: { access, refresh, accessExpiresAt: expiresAtFrom(expiresIn) } };
}

/** The escape hatch: the user's own refresh, bounded by `timeoutMs`, its answer checked like an upstream's. */
async function performRefresh(
  options: ResolvedOptions,
  perform: NonNullable<RefreshOptions['perform']>,
  refreshToken: string,
): Promise<RefreshOutcome> {
  const abort = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => {
      abort.abort();
      resolve('timeout');
    }, options.timeoutMs);
  });
  try {
    const result = await Promise.race([perform(refreshToken, { signal: abort.signal }), timeout]);
    if (result === 'timeout') {
      options.logger.error('[next-bff-proxy] refresh failed: refresh.perform did not settle within timeoutMs');
      return { kind: 'failed', code: 'upstream_timeout' };
    }
    if (result === null) return { kind: 'rejected' };
    const access = result?.accessToken;
    const rotated = result?.refreshToken;
    if (typeof access !== 'string' || access === '' || (rotated !== undefined && (typeof rotated !== 'string' || rotated === ''))) {
      options.logger.error('[next-bff-proxy] refresh answer unusable: refresh.perform resolved without an accessToken string');
      return { kind: 'failed', code: 'bad_upstream_response' };
    }
    return refreshedWith(options, access, rotated, result.expiresIn);
  } catch (err) {
    // The message is the user's code's and may hold anything: only the error's name is logged.
    options.logger.error(`[next-bff-proxy] refresh failed: refresh.perform threw ${err instanceof Error ? err.name : 'a value'}`);
    return { kind: 'failed', code: 'upstream_unavailable' };
  } finally {
    clearTimeout(timer);
  }
}

/** One exchange of a refresh token at the upstream, in its dialect (no single flight, no memory: callers add those). */
export async function exchangeRefreshToken(options: ResolvedOptions, agent: http.Agent, refreshToken: string): Promise<RefreshOutcome> {
  const refresh = options.refresh;
  if (!refresh) return { kind: 'rejected' };
  if (refresh.perform) return performRefresh(options, refresh.perform, refreshToken);
  let reply;
  try {
    reply = await callUpstream(options, agent, buildRefreshCall(options, refresh, refreshToken));
  } catch (err) {
    const code = err instanceof UpstreamCallError ? err.code : 'upstream_unavailable';
    options.logger.error(`[next-bff-proxy] refresh failed: ${code}`);
    return { kind: 'failed', code };
  }
  const oauthError = refresh.dialect === 'oauth2' && reply.status >= 400 ? readOAuthError(reply.body) : undefined;
  if (isClientError(oauthError)) {
    // The token endpoint refused the proxy itself (RFC 6749 §5.2): a configuration mistake that no
    // user's session should pay for. The session is kept.
    logThrottled(
      options.logger,
      'error',
      'refresh-client',
      `[next-bff-proxy] refresh failed: the token endpoint answered ${oauthError}: check oauth2.clientId, clientSecret and clientAuth; session kept`,
    );
    return { kind: 'failed', code: 'refresh_unavailable' };
  }
  if (SESSION_ENDING_STATUS.has(reply.status)) {
    logThrottled(
      options.logger,
      'warn',
      'refresh-refused',
      `[next-bff-proxy] refresh refused by the upstream (${reply.status}): session ended`,
    );
    return { kind: 'rejected' };
  }
  if (reply.status < 200 || reply.status > 299) {
    // 408, 429 (a rate limiter, which sees every user behind the proxy's one address), 5xx...: the
    // refresh token may well be good, so the session is kept.
    logThrottled(
      options.logger,
      'error',
      'refresh-status',
      `[next-bff-proxy] refresh failed: upstream answered ${reply.status}; session kept`,
    );
    const retryAfter = reply.headers['retry-after']?.trim();
    return { kind: 'failed', code: 'refresh_unavailable', ...(retryAfter && RETRY_AFTER.test(retryAfter) ? { retryAfter } : {}) };
  }
  try {
    const taken = takeTokensFromBody(reply.body, {
      access: options.login.tokenField,
      refresh: refresh.tokenField,
      expiresIn: options.login.expiresInField,
    });
    const refreshFromCookie = readSetCookieValue(reply.headers['set-cookie'], refresh.upstreamCookieName);
    return refreshedWith(options, taken.token, taken.refreshToken ?? refreshFromCookie, taken.expiresIn);
  } catch (err) {
    const reason = err instanceof LoginResponseError ? err.reason : 'unreadable';
    options.logger.error(`[next-bff-proxy] refresh answer unusable: ${reason}`);
    return { kind: 'failed', code: 'bad_upstream_response' };
  }
}

/**
 * Exchanges a refresh token for new tokens, once per refresh token however many requests ask at the
 * same time (single flight), and reuses a rotation's result for `reuseWindowSeconds` afterwards.
 */
export function refreshTokens(options: ResolvedOptions, agent: http.Agent, refreshToken: string): Promise<RefreshOutcome> {
  const { inFlight } = memory();
  const key = refreshKey(options, refreshToken);
  const remembered = recall(key);
  if (remembered) return Promise.resolve(remembered);
  const joined = inFlight.get(key);
  if (joined) return joined;
  if (!options.refresh) return Promise.resolve({ kind: 'rejected' });
  const pool: TokenPool = isIssued(key) ? 'known' : 'unknown';
  const windowMs = options.refresh.reuseWindowSeconds * 1000;

  const flight = takeSlot(options, pool)
    .then(async (granted): Promise<RefreshOutcome> => {
      if (!granted) {
        logThrottled(
          options.logger,
          'warn',
          `refresh-busy-${pool}`,
          `[next-bff-proxy] refresh_unavailable: too many refreshes in flight (${pool} refresh tokens)`,
        );
        return { kind: 'failed', code: 'refresh_unavailable', retryAfter: '1' };
      }
      try {
        return await exchangeRefreshToken(options, agent, refreshToken);
      } catch {
        return { kind: 'failed', code: 'upstream_unavailable' };
      } finally {
        releaseSlot(pool);
      }
    })
    .then((outcome) => {
      inFlight.delete(key);
      return settleRefresh(options, refreshToken, outcome, windowMs);
    });
  inFlight.set(key, flight);
  return flight;
}

/** The refresh of `refreshToken` under way, if any (a logout waits for it, to revoke what it gets). */
export function refreshInFlight(options: ResolvedOptions, refreshToken: string): Promise<RefreshOutcome> | undefined {
  return memory().inFlight.get(refreshKey(options, refreshToken));
}

/** The `Retry-After` header a refresh failure passes on, if it has one. */
function retryAfterHeader(failure: RefreshFailure): Record<string, string> {
  return failure.retryAfter === undefined ? {} : { 'retry-after': failure.retryAfter };
}

/** What a session means for the proxy's answer: go on (with this token, if any), or answer this error. */
export type AppliedSession =
  | { kind: 'go'; accessToken: string | undefined }
  | { kind: 'stop'; code: 'session_expired' | RefreshFailure['code']; headers: Record<string, string> };

/**
 * Applies a session (after a refresh, or as `GET /api/session` resolved it) to the proxy's answer, the
 * one place the route does so: new cookies appended, or the cleared ones when the refresh token was
 * refused; a refresh the upstream could not answer becomes the error to send (with its Retry-After).
 * `expiredEnds`: a refused refresh token stops the request (401 session_expired) rather than going on
 * without a session.
 */
export function applySessionToAnswer(res: ServerResponse, session: SessionState, expiredEnds: boolean): AppliedSession {
  if (session.kind === 'failed') return { kind: 'stop', code: session.code, headers: retryAfterHeader(session) };
  if (session.kind === 'none') return { kind: 'go', accessToken: undefined };
  appendSetCookie(res, ...session.setCookies);
  if (session.kind === 'expired')
    return expiredEnds ? { kind: 'stop', code: 'session_expired', headers: {} } : { kind: 'go', accessToken: undefined };
  return { kind: 'go', accessToken: session.accessToken };
}

export type SessionState =
  /** No session cookie of either kind. */
  | { kind: 'none' }
  /** A usable access token; `setCookies` holds new cookies to send when it was just refreshed. */
  | {
      kind: 'active';
      accessToken: string;
      /** Its expiry from `expires_in`, when the token itself cannot tell (see tokenExpiry). */
      expiresAt?: number | undefined;
      setCookies: string[];
      rotated?: RefreshedTokens;
    }
  /** The refresh token was refused (or the cookies conflicted): the cookies to clear it all. */
  | { kind: 'expired'; setCookies: string[] }
  | RefreshFailure;

/**
 * The request's session, refreshed first when the access token is missing or about to expire and a
 * refresh token is there. Used by the proxy route, `GET /api/session` and server-lib alike.
 */
export async function resolveSession(
  req: IncomingMessage,
  options: ResolvedOptions,
  agent: http.Agent,
  delivered?: () => Promise<unknown>,
): Promise<SessionState> {
  const loaded = await readSession(req, options);
  const { access: accessToken, accessExpiresAt: expiresAt, refresh: refreshToken } = loaded;
  // Two cookies of one name, or (with a store) a session id that names no live session: it is over.
  if (loaded.conflict || loaded.stale) return { kind: 'expired', setCookies: clearedSessionCookies(req, options) };
  if (refreshToken === undefined || !needsRefresh(accessToken, options, expiresAt)) {
    return accessToken === undefined ? { kind: 'none' } : { kind: 'active', accessToken, expiresAt, setCookies: [] };
  }
  return refreshSession(req, options, agent, refreshToken, delivered, loaded);
}

/** A session after a refresh: never 'none' (there was a refresh token to present). */
export type RefreshedSession = Exclude<SessionState, { kind: 'none' }>;

/**
 * Refreshes with `refreshToken` and says what the response must carry: new cookies, or cleared ones.
 * `delivered`: when the answer carrying new cookies is finished (asked only after a rotation); until then a logout presenting
 * `refreshToken` reaches the new tokens (see holdDelivery).
 */
export async function refreshSession(
  req: IncomingMessage,
  options: ResolvedOptions,
  agent: http.Agent,
  refreshToken: string,
  delivered?: () => Promise<unknown>,
  loaded?: LoadedSession,
): Promise<RefreshedSession> {
  if (options.sessionStore) {
    // The session as the caller saw it, with the refresh token it presents: read again only when not
    // given, and then judged by that refresh token (a refresh finished since is used, not repeated).
    const seen = loaded ?? (await readSession(req, options));
    return refreshInStore(req, options, options.sessionStore, agent, seen.stored && { ...seen, stored: { ...seen.stored, refreshToken } });
  }
  const session = applyRefresh(req, options, await refreshTokens(options, agent, refreshToken));
  if (delivered && session.kind === 'active' && session.rotated)
    void delivered().finally(holdDelivery(options, refreshToken, session.rotated));
  return session;
}

function applyRefresh(req: IncomingMessage, options: ResolvedOptions, outcome: RefreshOutcome): RefreshedSession {
  if (outcome.kind === 'failed') return outcome;
  if (outcome.kind === 'rejected') return { kind: 'expired', setCookies: clearedSessionCookies(req, options) };
  try {
    return {
      kind: 'active',
      accessToken: outcome.tokens.access,
      expiresAt: outcome.tokens.accessExpiresAt,
      setCookies: sessionCookies(req, options, outcome.tokens),
      rotated: outcome.tokens,
    };
  } catch (err) {
    options.logger.error(`[next-bff-proxy] refreshed token unusable: ${err instanceof UnstorableTokenError ? err.reason : 'error'}`);
    return { kind: 'failed', code: 'bad_upstream_response' };
  }
}

/**
 * A stored session's refresh (see refreshStoredSession): the cookie (its id) stays as it is, so the
 * answer carries no new cookie; an ended session's cookie is cleared. New tokens that a logout made
 * orphans (it landed while they were on their way) are told to the upstream logout at once.
 */
async function refreshInStore(
  req: IncomingMessage,
  options: ResolvedOptions,
  store: ResolvedSessionStore,
  agent: http.Agent,
  loaded: LoadedSession | undefined,
): Promise<RefreshedSession> {
  if (loaded?.storeKey === undefined || loaded.stored === undefined)
    return { kind: 'expired', setCookies: clearedSessionCookies(req, options) };
  const result = await refreshStoredSession(options, store, loaded.storeKey, loaded.stored, (token) =>
    exchangeRefreshToken(options, agent, token),
  );
  switch (result.kind) {
    case 'refreshed':
      return { kind: 'active', accessToken: result.session.accessToken, expiresAt: result.session.accessExpiresAt, setCookies: [] };
    case 'failed':
      return result;
    case 'ended':
      void tellUpstreamLogout(options, agent, result.orphan);
      return { kind: 'expired', setCookies: clearedSessionCookies(req, options) };
    case 'rejected':
      return { kind: 'expired', setCookies: clearedSessionCookies(req, options) };
  }
}
