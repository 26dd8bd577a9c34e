import type http from 'node:http';
import type { IncomingMessage } from 'node:http';
import { createHash } from 'node:crypto';
import type { ResolvedOptions } from './options';
import { logThrottled } from './log-throttle';
import { readJwtExpiry } from './jwt';
import { takeTokensFromBody, LoginResponseError } from './login-response';
import { readSetCookieValue } from './upstream-cookies';
import { callUpstream, UpstreamCallError } from './upstream-call';
import { clearedSessionCookies, readSessionCookies, sessionCookies, UnstorableTokenError } from './session-cookie';

export interface RefreshedTokens {
  access: string;
  /** The rotated refresh token, or undefined when the upstream kept the old one. */
  refresh: string | undefined;
}

/** Why a refresh could not be done now; the session is kept and the client may try again. */
export interface RefreshFailure {
  kind: 'failed';
  code: 'upstream_unavailable' | 'upstream_timeout' | 'bad_upstream_response' | 'refresh_unavailable';
  /** The upstream's `Retry-After`, when it gave a valid one (or ours, when too many refreshes run). */
  retryAfter?: string;
}

export type RefreshOutcome =
  | { kind: 'refreshed'; tokens: RefreshedTokens }
  /** The upstream refused the refresh token (400, 401, 403): the session is over. */
  | { kind: 'rejected' }
  /** Upstream down, timeout, rate limited, unusable answer, or too many refreshes at once. */
  | RefreshFailure;

type TokenPool = 'known' | 'unknown';

// How many refreshes may wait for a slot, per slot: a burst waits its turn (first come, first served),
// a flood past it is refused at once.
const LINE_PER_SLOT = 4;

interface RefreshState {
  /** Refreshes under way, by the refresh token they present: concurrent requests share one. */
  inFlight: Map<string, Promise<RefreshOutcome>>;
  /** Recent rotations, by the refresh token they replaced: a request that still carries the old
   * cookie (it left the browser before the new one arrived) reuses the new tokens instead of
   * presenting a refresh token the upstream has already revoked. Only successful rotations live here,
   * so a flood of junk refresh tokens cannot push a real rotation out. */
  recent: Map<string, { outcome: RefreshOutcome; until: number }>;
  /** Recent refusals, kept apart (and smaller) for the requests right behind a refused one. */
  refused: Map<string, { outcome: RefreshOutcome; until: number }>;
  /** Fingerprints of the refresh tokens this process stored in a cookie (at login or refresh). */
  issued: Set<string>;
  /** Refresh slots taken, and refreshes waiting in line for one, for tokens this process issued and for tokens it never saw. */
  slots: Record<TokenPool, { taken: number; line: Array<() => void> }>;
}

// One state per process, shared through globalThis: Next bundles API routes and pages separately, and
// a refresh started by getServerSideProps must be seen by the API route (and the other way round).
const STATE_KEY = Symbol.for('next-bff-proxy.refresh-state');
const MAX_RECENT = 10_000;
const MAX_REFUSED = 1_000;
const MAX_ISSUED = 100_000;

/** The key of a refresh token's outcomes: per upstream, so two proxies in one process never share one. */
function refreshKey(options: ResolvedOptions, refreshToken: string): string {
  return `${options.upstream.href} ${options.refresh?.path ?? ''} ${refreshToken}`;
}

/** A short digest: the set of issued tokens holds no token itself, and stays small. */
function fingerprint(key: string): string {
  return createHash('sha256').update(key).digest('base64url').slice(0, 22);
}

/**
 * Remembers a refresh token this process put in a cookie. Refreshes of such tokens have a budget of
 * their own, so a flood of junk refresh cookies (tokens no one issued) cannot take every refresh slot
 * and leave real users unable to renew. (After a restart, or on another instance, a real token is
 * unknown here and shares the junk's budget: slower under attack, never refused for good.)
 */
export function rememberIssuedRefreshToken(options: ResolvedOptions, refreshToken: string): void {
  const { issued } = state();
  issued.add(fingerprint(refreshKey(options, refreshToken)));
  if (issued.size > MAX_ISSUED) {
    const oldest = issued.values().next();
    if (!oldest.done) issued.delete(oldest.value);
  }
}

// RFC 9110 §10.2.3: delay-seconds or an HTTP-date; anything else is not passed on.
const RETRY_AFTER = /^(\d{1,9}|[A-Za-z]{3}, \d{2} [A-Za-z]{3} \d{4} \d{2}:\d{2}:\d{2} GMT)$/;

/** Upstream statuses that end a session: the refresh token itself was refused. Anything else is temporary. */
const SESSION_ENDING_STATUS = new Set([400, 401, 403]);

function state(): RefreshState {
  const holder = globalThis as unknown as Record<symbol, RefreshState | undefined>;
  holder[STATE_KEY] ??= {
    inFlight: new Map(),
    recent: new Map(),
    refused: new Map(),
    issued: new Set(),
    slots: { known: { taken: 0, line: [] }, unknown: { taken: 0, line: [] } },
  };
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
  if (SESSION_ENDING_STATUS.has(reply.status)) {
    logThrottled(options.logger, 'warn', 'refresh-refused', `[next-bff-proxy] refresh refused by the upstream (${reply.status}): session ended`);
    return { kind: 'rejected' };
  }
  if (reply.status < 200 || reply.status > 299) {
    // 408, 429 (a rate limiter, which sees every user behind the proxy's one address), 5xx...: the
    // refresh token may well be good, so the session is kept.
    logThrottled(options.logger, 'error', 'refresh-status', `[next-bff-proxy] refresh failed: upstream answered ${reply.status}; session kept`);
    const retryAfter = reply.headers['retry-after']?.trim();
    return { kind: 'failed', code: 'refresh_unavailable', ...(retryAfter && RETRY_AFTER.test(retryAfter) ? { retryAfter } : {}) };
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
  const { inFlight, recent, refused, issued } = state();
  const key = refreshKey(options, refreshToken);
  const cached = recent.get(key) ?? refused.get(key);
  if (cached && cached.until > Date.now()) return Promise.resolve(cached.outcome);
  const joined = inFlight.get(key);
  if (joined) return joined;
  if (!options.refresh) return Promise.resolve({ kind: 'rejected' });
  const pool: TokenPool = issued.has(fingerprint(key)) ? 'known' : 'unknown';
  const window = options.refresh.reuseWindowSeconds * 1000;

  const flight = takeSlot(options, pool)
    .then(async (granted): Promise<RefreshOutcome> => {
      if (!granted) {
        logThrottled(options.logger, 'warn', `refresh-busy-${pool}`, `[next-bff-proxy] refresh_unavailable: too many refreshes in flight (${pool} refresh tokens)`);
        return { kind: 'failed', code: 'refresh_unavailable', retryAfter: '1' };
      }
      try {
        return await callRefresh(options, agent, refreshToken);
      } catch {
        return { kind: 'failed', code: 'upstream_unavailable' };
      } finally {
        releaseSlot(pool);
      }
    })
    .then((outcome) => {
      inFlight.delete(key);
      if (outcome.kind === 'refreshed' && outcome.tokens.refresh !== undefined) rememberIssuedRefreshToken(options, outcome.tokens.refresh);
      if (outcome.kind !== 'failed' && window > 0) {
        const memory = outcome.kind === 'refreshed' ? recent : refused;
        evictFromFront(memory, outcome.kind === 'refreshed' ? MAX_RECENT : MAX_REFUSED);
        memory.set(key, { outcome, until: Date.now() + window });
      }
      return outcome;
    });
  inFlight.set(key, flight);
  return flight;
}

/**
 * A refresh slot in `pool`: at once when one is free, else in line (first come, first served) for at
 * most `timeoutMs`. False when the line is full or the wait ran out. A slot is handed straight to the
 * next in line when released.
 */
function takeSlot(options: ResolvedOptions, pool: TokenPool): Promise<boolean> {
  const slots = state().slots[pool];
  const max = options.refresh?.maxConcurrent ?? 1;
  if (slots.taken < max) {
    slots.taken += 1;
    return Promise.resolve(true);
  }
  if (slots.line.length >= max * LINE_PER_SLOT) return Promise.resolve(false);
  return new Promise((resolve) => {
    const grant = () => {
      clearTimeout(timer);
      resolve(true);
    };
    const timer = setTimeout(() => {
      const at = slots.line.indexOf(grant);
      if (at !== -1) slots.line.splice(at, 1);
      resolve(false);
    }, options.timeoutMs);
    slots.line.push(grant);
  });
}

function releaseSlot(pool: TokenPool): void {
  const slots = state().slots[pool];
  const next = slots.line.shift();
  if (next) next();
  else slots.taken -= 1;
}

/**
 * After a logout, a request still carrying an older refresh token (sent by another tab before the last
 * rotation) must not be handed the tokens the logout ended from the reuse memory: every remembered
 * rotation that led to them, directly or along the chain, is remembered as refused instead.
 */
export function forgetRotationsTo(options: ResolvedOptions, tokens: ReadonlyArray<string | undefined>): void {
  const { recent, refused } = state();
  const prefix = refreshKey(options, '');
  const ended = new Set(tokens.filter((token): token is string => token !== undefined));
  for (let found = true; found; ) {
    found = false;
    for (const [key, entry] of recent) {
      if (entry.outcome.kind !== 'refreshed' || !key.startsWith(prefix)) continue;
      const { access, refresh } = entry.outcome.tokens;
      if (!ended.has(access) && !(refresh !== undefined && ended.has(refresh))) continue;
      recent.delete(key);
      refused.set(key, { outcome: { kind: 'rejected' }, until: entry.until });
      ended.add(key.slice(prefix.length));
      found = true;
    }
  }
}

/** The `Retry-After` header a refresh failure passes on, if it has one. */
export function retryAfterHeader(failure: RefreshFailure): Record<string, string> {
  return failure.retryAfter === undefined ? {} : { 'retry-after': failure.retryAfter };
}

/** Drops expired entries from the front (oldest first), and the oldest live ones while over `max`. */
function evictFromFront(memory: Map<string, { until: number }>, max: number): void {
  const now = Date.now();
  for (const [key, entry] of memory) {
    if (entry.until > now && memory.size < max) break;
    memory.delete(key);
  }
}

export type SessionState =
  /** No session cookie of either kind. */
  | { kind: 'none' }
  /** A usable access token; `setCookies` holds new cookies to send when it was just refreshed. */
  | { kind: 'active'; accessToken: string; setCookies: string[] }
  /** The refresh token was refused (or the cookies conflicted): the cookies to clear it all. */
  | { kind: 'expired'; setCookies: string[] }
  | RefreshFailure;

/**
 * The request's session, refreshed first when the access token is missing or about to expire and a
 * refresh token is there. Used by the proxy route, `GET /api/session` and server-lib alike.
 */
export async function resolveSession(req: IncomingMessage, options: ResolvedOptions, agent: http.Agent): Promise<SessionState> {
  const { access: accessToken, refresh: refreshToken, conflict } = readSessionCookies(req, options);
  if (conflict) return { kind: 'expired', setCookies: clearedSessionCookies(req, options) };
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
