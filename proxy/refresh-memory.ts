import { createHash } from 'node:crypto';
import type { ResolvedOptions } from './options';

export interface RefreshedTokens {
  access: string;
  /** The access token's expiry (epoch seconds) from the answer's `expires_in`, when given. */
  accessExpiresAt?: number | undefined;
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
  /** The upstream refused the refresh token (400, 401, 403), or the session was logged out: it is over. */
  | { kind: 'rejected' }
  /** Upstream down, timeout, rate limited, unusable answer, or too many refreshes at once. */
  | RefreshFailure;

type Remembered = { outcome: RefreshOutcome; until: number };

interface RefreshMemory {
  /** Refreshes under way, by the key of the refresh token they present: concurrent requests share one. */
  inFlight: Map<string, Promise<RefreshOutcome>>;
  /** Recent rotations, by the key of the refresh token they replaced: a request that still carries the
   * old cookie (it left the browser before the new one arrived) reuses the new tokens instead of
   * presenting a refresh token the upstream has already revoked. Only successful rotations live here,
   * so a flood of junk refresh tokens cannot push a real rotation out. */
  recent: Map<string, Remembered>;
  /** Which recent rotation produced a token (access or refresh): logout walks a chain back in O(length). */
  producedBy: Map<string, string>;
  /** Recent refusals, kept apart (and smaller) for the requests right behind a refused one. */
  refused: Map<string, Remembered>;
  /** Refresh tokens a logout ended, by key: a refresh of one still in flight lands as a refusal, and the
   * tokens it got are kept here for the logout to revoke. Expired marks go at the next logout, never
   * while their refresh is in flight. */
  ended: Map<string, { until: number; produced?: RefreshedTokens }>;
  /** Fingerprints of live refresh tokens this process stored in a cookie (at login or refresh). */
  issued: Set<string>;
  /** Rotations whose new cookies ride on answers not yet finished, by the key of the replaced refresh
   * token: a logout presenting that token reaches them whatever the reuse window says. */
  outstanding: Map<string, { answers: number; tokens: RefreshedTokens }>;
}

// One memory per process, shared through globalThis: Next bundles API routes and pages separately, and
// a refresh started by getServerSideProps must be seen by the API route (and the other way round).
const MEMORY_KEY = Symbol.for('next-bff-proxy.refresh-state');
const MAX_RECENT = 10_000;
const MAX_REFUSED = 1_000;
const MAX_ISSUED = 100_000;

export function memory(): RefreshMemory {
  const holder = globalThis as unknown as Record<symbol, RefreshMemory | undefined>;
  holder[MEMORY_KEY] ??= {
    inFlight: new Map(),
    recent: new Map(),
    producedBy: new Map(),
    refused: new Map(),
    ended: new Map(),
    issued: new Set(),
    outstanding: new Map(),
  };
  return holder[MEMORY_KEY];
}

/** The key of a refresh token's outcomes: per upstream, so two proxies in one process never share one. */
export function refreshKey(options: ResolvedOptions, refreshToken: string): string {
  return `${options.upstream.href} ${options.refresh?.endpoint.label ?? ''} ${refreshToken}`;
}

/** A short digest: the set of issued tokens holds no token itself, and stays small. */
function fingerprint(key: string): string {
  return createHash('sha256').update(key).digest('base64url').slice(0, 22);
}

/**
 * Remembers a refresh token this process put in a cookie. Refreshes of such tokens have a budget of
 * their own, so a flood of junk refresh cookies (tokens no one issued) cannot take every refresh slot
 * and leave real users unable to renew. A token leaves the set once used (rotated or refused): a dead
 * token replayed in a loop is junk again. (After a restart, or on another instance, a real token is
 * unknown here and shares the junk's budget: slower under attack, never refused for good.)
 */
export function rememberIssuedRefreshToken(options: ResolvedOptions, refreshToken: string): void {
  const { issued, ended, refused } = memory();
  const key = refreshKey(options, refreshToken);
  issued.add(fingerprint(key));
  // The upstream has just issued it: whatever this process remembered against it (a logout, a refusal)
  // is about an earlier session (an upstream that hands out the same refresh token again).
  ended.delete(key);
  refused.delete(key);
  if (issued.size > MAX_ISSUED) {
    const oldest = issued.values().next();
    if (!oldest.done) issued.delete(oldest.value);
  }
}

/** True when this process issued the refresh token of `key` and it has not been used since. */
export function isIssued(key: string): boolean {
  return memory().issued.has(fingerprint(key));
}

/** A remembered outcome for `key` still inside its window: a recent rotation, a refusal, or a logout. */
export function recall(key: string): RefreshOutcome | undefined {
  const { recent, refused, ended } = memory();
  const now = Date.now();
  const mark = ended.get(key);
  if (mark && mark.until > now) return { kind: 'rejected' };
  const remembered = recent.get(key) ?? refused.get(key);
  return remembered && remembered.until > now ? remembered.outcome : undefined;
}

/**
 * What a finished refresh of `refreshToken` means, remembered for `windowMs`: a rotation for the requests still
 * carrying the old cookie, a refusal for those right behind it. A refresh that lands after a logout
 * ended its token is a refusal: its tokens go to the logout (to revoke), never to a client.
 */
export function settleRefresh(options: ResolvedOptions, refreshToken: string, outcome: RefreshOutcome, windowMs: number): RefreshOutcome {
  const { recent, producedBy, refused, ended, issued } = memory();
  if (outcome.kind === 'failed') return outcome;
  const key = refreshKey(options, refreshToken);
  issued.delete(fingerprint(key));
  const mark = ended.get(key);
  if (mark && mark.until > Date.now() && outcome.kind === 'refreshed') {
    mark.produced = outcome.tokens;
    outcome = { kind: 'rejected' };
  }
  // The new refresh token, or the same one when the upstream does not rotate (it stays live).
  if (outcome.kind === 'refreshed') rememberIssuedRefreshToken(options, outcome.tokens.refresh ?? refreshToken);
  if (windowMs <= 0) return outcome;
  const until = Date.now() + windowMs;
  if (outcome.kind === 'refreshed') {
    evictFromFront(recent, MAX_RECENT, (old) => forgetProduced(old));
    const replaced = recent.get(key);
    if (replaced) forgetProduced(replaced);
    recent.set(key, { outcome, until });
    producedBy.set(outcome.tokens.access, key);
    if (outcome.tokens.refresh !== undefined) producedBy.set(outcome.tokens.refresh, key);
  } else {
    evictFromFront(refused, MAX_REFUSED);
    refused.set(key, { outcome, until });
  }
  return outcome;
}

function forgetProduced(entry: Remembered): void {
  if (entry.outcome.kind !== 'refreshed') return;
  const { producedBy } = memory();
  producedBy.delete(entry.outcome.tokens.access);
  if (entry.outcome.tokens.refresh !== undefined) producedBy.delete(entry.outcome.tokens.refresh);
}

/**
 * Notes that an answer about to carry the cookies of a rotation of `refreshToken` is open, until the
 * returned function is called (when the answer is finished or abandoned). A logout that presents the
 * replaced token meanwhile ends and revokes the rotation's tokens, and the answer clears the cookies
 * instead (`isEnded`), even when the reuse window (0, or evicted) no longer remembers the rotation.
 */
export function holdDelivery(options: ResolvedOptions, refreshToken: string, tokens: RefreshedTokens): () => void {
  const { outstanding } = memory();
  const key = refreshKey(options, refreshToken);
  const held = outstanding.get(key);
  if (held) {
    held.answers += 1;
    held.tokens = tokens;
  } else outstanding.set(key, { answers: 1, tokens });
  let released = false;
  return () => {
    if (released) return;
    released = true;
    const current = outstanding.get(key);
    if (current && --current.answers <= 0) outstanding.delete(key);
  };
}

/** The newest tokens of a session this process knows of: what a logout asks the upstream to revoke. */
export interface NewestTokens {
  access?: string;
  refresh?: string;
}

/**
 * Ends, for this process, the sessions these tokens belong to (a logout), and says which are the newest
 * tokens it knows of for them:
 * - a refresh of one of these refresh tokens (or of one they were rotated into) still in flight lands
 *   as a refusal (`settleRefresh`), and a later request presenting one is refused (`recall`);
 * - forward: a rotation of a presented refresh token (another tab's, in the reuse window) is followed to
 *   its newest tokens, which are ended too and returned for the upstream to revoke;
 * - backward: a request still carrying an older refresh token is not handed the ended tokens from the
 *   reuse memory: every rotation that led to them is remembered as refused.
 * O(length of the chains), through `recent`, `outstanding` and `producedBy`. Only keys this process
 * knows (in flight, remembered, riding an open answer, or issued by it) are marked, so junk logouts cannot crowd out a real one's marks.
 */
export function endSessions(
  options: ResolvedOptions,
  refreshTokens: ReadonlyArray<string | undefined>,
  accessTokens: ReadonlyArray<string | undefined>,
): NewestTokens {
  const { recent, producedBy, refused, ended, inFlight, issued, outstanding } = memory();
  const prefix = refreshKey(options, '');
  const now = Date.now();
  const until = now + 2 * options.timeoutMs + (options.refresh?.reuseWindowSeconds ?? 0) * 1000;
  for (const [key, old] of ended) {
    if (old.until > now) break;
    if (!inFlight.has(key)) ended.delete(key);
  }
  const mark = (key: string) => {
    if (!inFlight.has(key) && !recent.has(key) && !outstanding.has(key) && !issued.has(fingerprint(key))) return;
    const existing = ended.get(key);
    if (existing) existing.until = Math.max(existing.until, until);
    else ended.set(key, { until });
  };
  const refuse = (key: string, entry: Remembered) => {
    recent.delete(key);
    forgetProduced(entry);
    refused.set(key, { outcome: { kind: 'rejected' }, until: entry.until });
  };
  const defined = (token: string | undefined): token is string => token !== undefined;
  let newest: NewestTokens = {};
  const forward = refreshTokens.filter(defined);
  const backward = [...refreshTokens, ...accessTokens].filter(defined);
  const walked = new Set<string>();
  for (let token = forward.pop(); token !== undefined; token = forward.pop()) {
    const key = prefix + token;
    if (walked.has(key)) continue;
    walked.add(key);
    mark(key);
    const entry = recent.get(key);
    const rotated = entry?.outcome.kind === 'refreshed' ? entry.outcome.tokens : outstanding.get(key)?.tokens;
    if (!rotated) continue;
    newest = { access: rotated.access, refresh: rotated.refresh ?? token };
    if (entry) refuse(key, entry);
    if (rotated.refresh !== undefined && rotated.refresh !== token) forward.push(rotated.refresh);
  }
  for (let token = backward.pop(); token !== undefined; token = backward.pop()) {
    const key = producedBy.get(token);
    const entry = key === undefined ? undefined : recent.get(key);
    if (key === undefined || !entry) continue;
    refuse(key, entry);
    mark(key);
    if (key.startsWith(prefix)) backward.push(key.slice(prefix.length));
  }
  return newest;
}

/** True when a logout ended the session of this refresh token since (see `endSessions`). */
export function isEnded(options: ResolvedOptions, refreshToken: string): boolean {
  return recall(refreshKey(options, refreshToken))?.kind === 'rejected';
}

/** The tokens a refresh of `refreshToken` got after a logout ended it: for the logout to revoke. */
export function tokensProducedAfterEnd(options: ResolvedOptions, refreshToken: string): RefreshedTokens | undefined {
  return memory().ended.get(refreshKey(options, refreshToken))?.produced;
}

/** Drops expired entries from the front (oldest first), and the oldest live ones while over `max`. */
function evictFromFront<T extends { until: number }>(entries: Map<string, T>, max: number, onEvict?: (entry: T) => void): void {
  const now = Date.now();
  for (const [key, entry] of entries) {
    if (entry.until > now && entries.size < max) break;
    entries.delete(key);
    onEvict?.(entry);
  }
}
