import type http from 'node:http';
import type { IncomingMessage } from 'node:http';
import type { ResolvedOptions } from './options';
import { readJwtExpiry } from './jwt';
import { takeTokensFromBody, LoginResponseError } from './login-response';
import { readSetCookieValue } from './upstream-cookies';
import { callUpstream, UpstreamCallError } from './upstream-call';
import { clearedSessionCookies, readRefreshToken, readSessionToken, sessionCookies, UnstorableTokenError } from './session-cookie';

export interface RefreshedTokens {
  access: string;
  /** The rotated refresh token, or undefined when the upstream kept the old one. */
  refresh: string | undefined;
}

export type RefreshOutcome =
  | { kind: 'refreshed'; tokens: RefreshedTokens }
  /** The upstream refused the refresh token (4xx): the session is over. */
  | { kind: 'rejected' }
  /** The refresh could not be done now (upstream down, timeout, unusable answer): try again later. */
  | { kind: 'failed'; code: 'upstream_unavailable' | 'upstream_timeout' | 'bad_upstream_response' };

interface RefreshState {
  /** Refreshes under way, by the refresh token they present: concurrent requests share one. */
  inFlight: Map<string, Promise<RefreshOutcome>>;
  /** Recent rotations, by the refresh token they replaced: a request that still carries the old
   * cookie (it left the browser before the new one arrived) reuses the new tokens instead of
   * presenting a refresh token the upstream has already revoked. */
  recent: Map<string, { outcome: RefreshOutcome; until: number }>;
}

// One state per process, shared through globalThis: Next bundles API routes and pages separately, and
// a refresh started by getServerSideProps must be seen by the API route (and the other way round).
const STATE_KEY = Symbol.for('next-bff-proxy.refresh-state');
const MAX_RECENT = 10_000;

function state(): RefreshState {
  const holder = globalThis as unknown as Record<symbol, RefreshState | undefined>;
  holder[STATE_KEY] ??= { inFlight: new Map(), recent: new Map() };
  return holder[STATE_KEY];
}

/** True when the access token is missing, or a JWT whose `exp` is past or within the skew. */
export function needsRefresh(accessToken: string | undefined, options: ResolvedOptions): boolean {
  if (!options.refresh) return false;
  if (accessToken === undefined) return true;
  const exp = readJwtExpiry(accessToken);
  return exp !== undefined && exp - Date.now() / 1000 <= options.refresh.skewSeconds;
}

async function callRefresh(options: ResolvedOptions, agent: http.Agent, refreshToken: string): Promise<RefreshOutcome> {
  const refresh = options.refresh;
  if (!refresh) return { kind: 'rejected' };
  let reply;
  try {
    reply = await callUpstream(options, agent, {
      method: 'POST',
      path: refresh.path,
      headers: { 'content-type': 'application/json', accept: 'application/json', 'accept-encoding': 'identity' },
      body: JSON.stringify({ [refresh.bodyField]: refreshToken }),
      maxResponseBytes: options.login.maxResponseBytes,
    });
  } catch (err) {
    const code = err instanceof UpstreamCallError ? err.code : 'upstream_unavailable';
    options.logger.error(`[next-bff-proxy] refresh failed: ${code}`);
    return { kind: 'failed', code };
  }
  if (reply.status >= 400 && reply.status < 500) {
    options.logger.warn(`[next-bff-proxy] refresh refused by the upstream (${reply.status}): session ended`);
    return { kind: 'rejected' };
  }
  if (reply.status < 200 || reply.status > 299) {
    options.logger.error(`[next-bff-proxy] refresh failed: upstream answered ${reply.status}`);
    return { kind: 'failed', code: 'upstream_unavailable' };
  }
  try {
    const taken = takeTokensFromBody(reply.body, options.login.tokenField, refresh.tokenField);
    const refreshFromCookie = readSetCookieValue(reply.headers['set-cookie'], refresh.upstreamCookieName);
    return { kind: 'refreshed', tokens: { access: taken.token, refresh: taken.refreshToken ?? refreshFromCookie } };
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
  const { inFlight, recent } = state();
  // Per upstream: two proxies in one process never share a refresh token's outcome.
  const key = `${options.upstream.href} ${options.refresh?.path ?? ''} ${refreshToken}`;
  const cached = recent.get(key);
  if (cached && cached.until > Date.now()) return Promise.resolve(cached.outcome);
  const running = inFlight.get(key);
  if (running) return running;

  const flight = callRefresh(options, agent, refreshToken).then((outcome) => {
    inFlight.delete(key);
    // A refusal is remembered too: the requests right behind it need not ask again.
    if (outcome.kind !== 'failed' && options.refresh && options.refresh.reuseWindowSeconds > 0) {
      for (const [old, entry] of recent) if (entry.until <= Date.now() || recent.size >= MAX_RECENT) recent.delete(old);
      recent.set(key, { outcome, until: Date.now() + options.refresh.reuseWindowSeconds * 1000 });
    }
    return outcome;
  });
  inFlight.set(key, flight);
  return flight;
}

export type SessionState =
  /** No session cookie of either kind. */
  | { kind: 'none' }
  /** A usable access token; `setCookies` holds new cookies to send when it was just refreshed. */
  | { kind: 'active'; accessToken: string; setCookies: string[] }
  /** The refresh token was refused: the cookies to clear it all. */
  | { kind: 'expired'; setCookies: string[] }
  | { kind: 'failed'; code: 'upstream_unavailable' | 'upstream_timeout' | 'bad_upstream_response' };

/**
 * The request's session, refreshed first when the access token is missing or about to expire and a
 * refresh token is there. Used by the proxy route, `GET /api/session` and server-lib alike.
 */
export async function resolveSession(req: IncomingMessage, options: ResolvedOptions, agent: http.Agent): Promise<SessionState> {
  const accessToken = readSessionToken(req, options);
  const refreshToken = readRefreshToken(req, options);
  if (refreshToken === undefined || !needsRefresh(accessToken, options)) {
    return accessToken === undefined ? { kind: 'none' } : { kind: 'active', accessToken, setCookies: [] };
  }
  return refreshSession(req, options, agent, refreshToken);
}

/** A session after a refresh: never 'none' (there was a refresh token to present). */
export type RefreshedSession = Exclude<SessionState, { kind: 'none' }>;

/** Refreshes with `refreshToken` and says what the response must carry: new cookies, or cleared ones. */
export async function refreshSession(req: IncomingMessage, options: ResolvedOptions, agent: http.Agent, refreshToken: string): Promise<RefreshedSession> {
  return applyRefresh(req, options, await refreshTokens(options, agent, refreshToken));
}

function applyRefresh(req: IncomingMessage, options: ResolvedOptions, outcome: RefreshOutcome): RefreshedSession {
  if (outcome.kind === 'failed') return outcome;
  if (outcome.kind === 'rejected') return { kind: 'expired', setCookies: clearedSessionCookies(req, options) };
  try {
    return { kind: 'active', accessToken: outcome.tokens.access, setCookies: sessionCookies(req, options, outcome.tokens) };
  } catch (err) {
    options.logger.error(`[next-bff-proxy] refreshed token unusable: ${err instanceof UnstorableTokenError ? err.reason : 'error'}`);
    return { kind: 'failed', code: 'bad_upstream_response' };
  }
}
