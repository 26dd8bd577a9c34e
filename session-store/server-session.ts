import { createHash, randomBytes } from 'node:crypto';
import type { ResolvedOptions, ResolvedSessionStore } from '../proxy/options';
import type { RefreshOutcome } from '../proxy/refresh-memory';
import { readJwtExpiry } from '../proxy/jwt';
import { tokenExpiry } from '../proxy/token-expiry';
import { isSessionStoreError, type StoredSession } from './types';

// A session id: 256 random bits, base64url (RFC 4648 §5). Only this shape is ever looked up.
const SESSION_ID = /^[A-Za-z0-9_-]{43}$/;
// The last-use time is written at most this often: one store write a minute per active session, not one a request.
const TOUCH_EVERY_MS = 60_000;
const POLL_MS = 40;

export function newSessionId(): string {
  return randomBytes(32).toString('base64url');
}

/** The store key of a session id: a digest, so whoever reads the store finds no cookie to replay. */
export function storeKeyOf(id: string | undefined): string | undefined {
  if (id === undefined || !SESSION_ID.test(id)) return undefined;
  return createHash('sha256').update(id).digest('base64url');
}

/**
 * How long the store keeps a session: until the first of its idle timeout, its absolute timeout, and
 * its refresh token's expiry (or, with no refresh token, its access token's). 0: already over.
 */
export function sessionTtlSeconds(session: StoredSession, store: ResolvedSessionStore, now = Date.now()): number {
  const limits = [store.idleTimeoutSeconds, session.createdAt / 1000 + store.absoluteTimeoutSeconds - now / 1000];
  const lastToken = session.refreshToken ?? session.accessToken;
  const tokenEnd = session.refreshToken !== undefined ? readJwtExpiry(lastToken) : tokenExpiry(lastToken, session.accessExpiresAt);
  if (tokenEnd !== undefined) limits.push(tokenEnd - now / 1000);
  return Math.max(0, Math.floor(Math.min(...limits)));
}

/** A stored session read back, or undefined once a timeout has ended it (then it is deleted). Its last use is noted now and then. */
export async function readStoredSession(store: ResolvedSessionStore, key: string, now = Date.now()): Promise<StoredSession | undefined> {
  const backend = store.get();
  const session = await backend.get(key);
  if (session === undefined) return undefined;
  const ttl = sessionTtlSeconds(session, store, now);
  const idle = now - session.lastSeenAt > store.idleTimeoutSeconds * 1000;
  if (ttl <= 0 || idle) {
    await backend.delete(key);
    return undefined;
  }
  if (now - session.lastSeenAt > TOUCH_EVERY_MS) await touchSession(store, key, session, now);
  return session;
}

/**
 * Notes the session's last use (and so pushes its idle timeout back). Under the refresh lock, and only
 * if the tokens are still the ones read: a write of the whole session racing a refresh's write would
 * put the old tokens back (and the next refresh would present a spent refresh token). When the lock is
 * taken, a refresh is writing the session anyway, with the time of its own use.
 */
async function touchSession(store: ResolvedSessionStore, key: string, seen: StoredSession, now: number): Promise<void> {
  const backend = store.get();
  const lock = await backend.lock(key, store.lockTtlMs);
  if (lock === undefined) return;
  try {
    const current = await backend.get(key);
    if (current === undefined || refreshedElsewhere(current, seen)) return;
    const touched = { ...current, lastSeenAt: now };
    await backend.update(key, touched, sessionTtlSeconds(touched, store, now));
  } finally {
    await lock.release().catch(() => undefined);
  }
}

// Refreshes this process runs, by store key: the requests of one instance share one (single flight);
// the lock in the store does the same across instances.
const IN_FLIGHT = Symbol.for('next-bff-proxy.store-refreshes');
function inFlight(): Map<string, Promise<StoreRefresh>> {
  const scope = globalThis as { [IN_FLIGHT]?: Map<string, Promise<StoreRefresh>> };
  return (scope[IN_FLIGHT] ??= new Map());
}

/** A refresh of a stored session: new tokens (the store holds them already), the session over, or a failure to retry. */
export type StoreRefresh =
  | { kind: 'refreshed'; session: StoredSession }
  | { kind: 'rejected' }
  | Extract<RefreshOutcome, { kind: 'failed' }>
  /** A logout ended the session while its refresh ran: these new tokens were never stored, and are to be revoked. */
  | { kind: 'ended'; orphan: { access: string; refresh: string | undefined } };

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Refreshes a stored session at most once across every instance sharing the store: under the session's
 * lock (renewed while the refresh runs), after re-reading the session, since the holder before may have
 * refreshed it already. A request that finds the lock taken waits for the holder and reads its result:
 * an upstream that rotates refresh tokens strictly never sees one twice.
 */
export function refreshStoredSession(
  options: ResolvedOptions,
  store: ResolvedSessionStore,
  key: string,
  presented: StoredSession,
  exchange: (refreshToken: string) => Promise<RefreshOutcome>,
): Promise<StoreRefresh> {
  const flights = inFlight();
  const joined = flights.get(key);
  if (joined) return joined;
  const flight = runRefresh(options, store, key, presented, exchange).finally(() => flights.delete(key));
  flights.set(key, flight);
  return flight;
}

/** The session another holder refreshed: its tokens are no longer the ones this request saw. */
const refreshedElsewhere = (current: StoredSession, presented: StoredSession) =>
  current.accessToken !== presented.accessToken || current.refreshToken !== presented.refreshToken;

/** The write of refreshed tokens, tried three times over about 300 ms; false when the store would not take it. */
async function writeRefreshed(write: () => Promise<boolean>): Promise<boolean> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await write();
    } catch (err) {
      if (!isSessionStoreError(err) || attempt === 2) return false;
      await sleep(100 * (attempt + 1));
    }
  }
}

/** What a re-read of the session says: gone (a logout), refreshed by another holder, or (undefined) still as this request saw it. */
function settledElsewhere(current: StoredSession | undefined, presented: StoredSession): StoreRefresh | undefined {
  if (current === undefined) return { kind: 'rejected' };
  if (refreshedElsewhere(current, presented)) return { kind: 'refreshed', session: current };
  return undefined;
}

async function runRefresh(
  options: ResolvedOptions,
  store: ResolvedSessionStore,
  key: string,
  presented: StoredSession,
  exchange: (refreshToken: string) => Promise<RefreshOutcome>,
): Promise<StoreRefresh> {
  const backend = store.get();
  // A holder's exchange is bounded by timeoutMs: a waiter that has waited as long gives up (503) rather
  // than take over a refresh whose outcome is still unknown.
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    const lock = await backend.lock(key, store.lockTtlMs);
    if (lock === undefined) {
      // Another request (here or on another instance) holds it: wait for its result.
      if (Date.now() > deadline) return { kind: 'failed', code: 'refresh_unavailable', retryAfter: '1' };
      await sleep(POLL_MS);
      const settled = settledElsewhere(await backend.get(key), presented);
      if (settled) return settled;
      continue;
    }
    const renewal = setInterval(() => void lock.renew(store.lockTtlMs).catch(() => undefined), Math.floor(store.lockTtlMs / 3));
    // Released at the end, except after a failed exchange: an upstream that timed out or broke off may
    // have used the refresh token all the same, and one that refused for now (5xx, 429) should not be
    // asked again at once by every instance. The lock then runs out by itself (lockTtlMs), and the
    // requests waiting meanwhile get 503 refresh_unavailable instead of presenting the token again.
    let release = true;
    try {
      const current = await backend.get(key);
      const settled = settledElsewhere(current, presented);
      if (settled) return settled;
      if (current?.refreshToken === undefined) return { kind: 'rejected' };
      const outcome = await exchange(current.refreshToken);
      if (outcome.kind === 'failed') {
        release = false;
        return outcome;
      }
      if (outcome.kind === 'rejected') {
        await backend.delete(key);
        return { kind: 'rejected' };
      }
      const { access, refresh, accessExpiresAt } = outcome.tokens;
      const next: StoredSession = {
        ...current,
        accessToken: access,
        accessExpiresAt,
        refreshToken: refresh ?? current.refreshToken,
        lastSeenAt: Date.now(),
      };
      const ttl = sessionTtlSeconds(next, store);
      // Only while it still exists: a logout during the refresh wins, and the new tokens are revoked. A
      // store that fails the write (a failover, say) is asked again briefly; past that the new tokens are
      // revoked too, rather than left live with no session holding them.
      const kept = ttl > 0 && (await writeRefreshed(() => backend.update(key, next, ttl)));
      return kept ? { kind: 'refreshed', session: next } : { kind: 'ended', orphan: { access, refresh } };
    } finally {
      clearInterval(renewal);
      if (release) await lock.release().catch(() => undefined);
    }
  }
}
