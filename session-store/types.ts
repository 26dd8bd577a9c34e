/**
 * A session kept on the server (SESSION_STORE_URL): the browser's cookie holds only a random id, and
 * the store holds the tokens under a key derived from it (a digest: the store never sees the id
 * itself, so a read of the store gives no cookie to replay).
 */
export interface StoredSession {
  accessToken: string;
  /** The access token's expiry (epoch seconds) from `expires_in`, when the token cannot tell it (not a JWT). */
  accessExpiresAt?: number | undefined;
  refreshToken?: string | undefined;
  /** Whose session this is (a JWT's `sub`, or `login.userIdField`): "sign out everywhere" finds it by this. */
  userId?: string | undefined;
  /** When the session began (epoch ms): the absolute timeout counts from it. */
  createdAt: number;
  /** When the session was last used (epoch ms, updated at most once a minute): the idle timeout counts from it. */
  lastSeenAt: number;
}

/** A lock held on one session while its refresh runs, across every instance sharing the store. */
export interface SessionLock {
  /** Extends the lock while a slow refresh goes on; false when it was lost (expired and taken). */
  renew(ttlMs: number): Promise<boolean>;
  /** Releases it, if it is still ours. */
  release(): Promise<void>;
}

/**
 * Where server-side sessions live. Keys are digests of session ids; user ids are the API's. Every
 * method may throw SessionStoreError (store down or too slow): the proxy answers 503
 * `session_store_unavailable` and never guesses.
 */
export interface SessionStore {
  get(key: string): Promise<StoredSession | undefined>;
  /** Creates or replaces the session, for `ttlSeconds`; indexes it under its user. */
  set(key: string, session: StoredSession, ttlSeconds: number): Promise<void>;
  /** Replaces the session only while it still exists (a logout in between wins): false when it is gone. */
  update(key: string, session: StoredSession, ttlSeconds: number): Promise<boolean>;
  /** Deletes the session and resolves with what it held (read and deleted at once), or undefined when there was none. */
  delete(key: string): Promise<StoredSession | undefined>;
  /** The keys of a user's live sessions. */
  keysOfUser(userId: string): Promise<string[]>;
  /** Ends every session of a user at once; resolves with what they held (to revoke their tokens). */
  deleteUser(userId: string): Promise<StoredSession[]>;
  /** Takes the refresh lock of a session for `ttlMs`, or undefined when another holder has it. */
  lock(key: string, ttlMs: number): Promise<SessionLock | undefined>;
  /** Closes connections (tests, shutdown). */
  close?(): Promise<void>;
}

// The store is shared by every bundle of one Next server (globalThis), so the error it throws may come
// from another bundle's copy of this class: it is recognised by a brand, not by `instanceof`.
const BRAND = Symbol.for('next-bff-proxy.session-store-error');

/** The store could not answer: down, unreachable, or slower than its timeout. `reason` is for logs. */
export class SessionStoreError extends Error {
  readonly code = 'session_store_unavailable';
  readonly [BRAND] = true;
  constructor(readonly reason: 'unavailable' | 'timeout' | 'corrupt') {
    super(`session store ${reason}`);
    this.name = 'SessionStoreError';
  }
}

/** True for a SessionStoreError, whichever bundle's copy of the class made it. */
export function isSessionStoreError(err: unknown): err is SessionStoreError {
  return typeof err === 'object' && err !== null && (err as { [BRAND]?: unknown })[BRAND] === true;
}
