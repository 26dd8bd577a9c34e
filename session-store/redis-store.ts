import { randomBytes } from 'node:crypto';
import { createClient } from 'redis';
import type { ProxyLogger } from '../proxy/options';
import { open, seal, type SealingKey } from './sealed-value';
import { isSessionStoreError, SessionStoreError, type SessionLock, type SessionStore, type StoredSession } from './types';
import { readStoredSession } from './stored-session';

export interface RedisStoreOptions {
  /** `redis://[user:password@]host:port[/db]` or `rediss://` (TLS). Redis, Valkey and compatible servers. */
  url: string;
  /** Prefix of every key this store writes. @default 'bff:' */
  keyPrefix?: string;
  /** The longest one command may take before the request gets 503 `session_store_unavailable`. @default 1000 */
  timeoutMs?: number;
  /** AES-256-GCM keys for the tokens at rest; the first seals. @default [] (stored as JSON) */
  sealingKeys?: SealingKey[];
  logger: ProxyLogger;
}

// Compare-and-renew and compare-and-delete: a lock is only ever extended or released by its holder
// (the Redlock single-instance pattern; a holder whose lock expired must not free the next one's).
const RENEW = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end";
const RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end";

/**
 * The shipped store: one connection per process (commands are pipelined on it), reconnecting by itself
 * with a capped backoff. While it is down, commands fail at once rather than queue (a queue would hold
 * every request until the timeout), and the proxy answers 503; when it is back, so are the sessions.
 */
export function createRedisStore(options: RedisStoreOptions): SessionStore {
  const prefix = options.keyPrefix ?? 'bff:';
  const timeoutMs = options.timeoutMs ?? 1000;
  const keys = options.sealingKeys ?? [];
  const client = createClient({
    url: options.url,
    disableOfflineQueue: true,
    socket: { connectTimeout: timeoutMs, reconnectStrategy: (retries: number) => Math.min(50 * 2 ** retries, 2000) },
  });
  let lastLogged = 0;
  client.on('error', (err: Error & { code?: string }) => {
    // Said at most every 10 s while it lasts; a Redis error carries no token (commands' values are never in it).
    if (Date.now() - lastLogged < 10_000) return;
    lastLogged = Date.now();
    options.logger.error(`[next-bff-proxy] session store: ${err.code ?? err.name}`);
  });
  // Until the first connection, a command waits for it (bounded by the timeout): the first request of a
  // fresh process must not be refused for being early. Once connected, a lost connection fails fast.
  let everReady = false;
  const firstReady = new Promise<void>((resolve) => client.once('ready', resolve)).then(() => {
    everReady = true;
  });
  const connecting = client.connect().catch(() => undefined);

  async function run<T>(command: () => Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new SessionStoreError('timeout')), timeoutMs);
    });
    try {
      if (!client.isReady && !everReady) await Promise.race([firstReady, timeout]);
      if (!client.isReady) throw new SessionStoreError('unavailable');
      return await Promise.race([command(), timeout]);
    } catch (err) {
      if (isSessionStoreError(err)) throw err;
      throw new SessionStoreError('unavailable');
    } finally {
      clearTimeout(timer);
    }
  }

  const sessionKey = (key: string) => `${prefix}s:${key}`;
  const userKey = (userId: string) => `${prefix}u:${userId}`;
  const encode = (key: string, session: StoredSession) => seal(JSON.stringify(session), keys, sessionKey(key));

  return {
    async get(key) {
      const stored = await run(() => client.get(sessionKey(key)));
      if (stored === null) return undefined;
      const session = readStoredSession(open(stored, keys, sessionKey(key)));
      if (!session)
        options.logger.warn(
          '[next-bff-proxy] session store: a session could not be read (sealed with an unknown key, or altered): treated as none',
        );
      return session;
    },
    async set(key, session, ttlSeconds) {
      const ttl = Math.max(1, Math.ceil(ttlSeconds));
      await run(async () => {
        const multi = client.multi().set(sessionKey(key), encode(key, session), { expiration: { type: 'EX', value: ttl } });
        if (session.userId !== undefined) multi.sAdd(userKey(session.userId), key).expire(userKey(session.userId), ttl, 'GT');
        await multi.exec();
        // A user's index with no TTL yet (EXPIRE GT leaves a key without one alone): give it this one.
        if (session.userId !== undefined) await client.expire(userKey(session.userId), ttl, 'NX');
      });
    },
    async update(key, session, ttlSeconds) {
      const ttl = Math.max(1, Math.ceil(ttlSeconds));
      const result = await run(() =>
        client.set(sessionKey(key), encode(key, session), { condition: 'XX', expiration: { type: 'EX', value: ttl } }),
      );
      return result === 'OK';
    },
    async delete(key) {
      await run(() => client.del(sessionKey(key)));
    },
    async keysOfUser(userId) {
      const members = await run(() => client.sMembers(userKey(userId)));
      if (members.length === 0) return [];
      const alive = await run(() => client.exists(members.map(sessionKey)));
      // EXISTS counts; the index may hold expired sessions, so each is asked (few per user).
      if (alive === members.length) return members;
      const flags = await run(() => Promise.all(members.map((member) => client.exists(sessionKey(member)))));
      return members.filter((_, i) => flags[i] === 1);
    },
    async deleteUser(userId) {
      const members = await run(() => client.sMembers(userKey(userId)));
      const removed = await run(async () => {
        const multi = client.multi();
        for (const member of members) multi.del(sessionKey(member));
        multi.del(userKey(userId));
        const replies = await multi.exec();
        return replies.slice(0, members.length).reduce<number>((sum, reply) => sum + Number(reply), 0);
      });
      return removed;
    },
    async lock(key, ttlMs) {
      const token = randomBytes(16).toString('base64url');
      const lockKey = `${prefix}l:${key}`;
      const taken = await run(() => client.set(lockKey, token, { condition: 'NX', expiration: { type: 'PX', value: Math.ceil(ttlMs) } }));
      if (taken !== 'OK') return undefined;
      const lock: SessionLock = {
        renew: async (ms) =>
          Number(await run(() => client.eval(RENEW, { keys: [lockKey], arguments: [token, String(Math.ceil(ms))] }))) === 1,
        release: async () => {
          await run(() => client.eval(RELEASE, { keys: [lockKey], arguments: [token] }));
        },
      };
      return lock;
    },
    async close() {
      await connecting;
      if (client.isOpen) await client.close();
    },
  };
}
