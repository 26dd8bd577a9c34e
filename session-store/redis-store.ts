import { createHash, randomBytes } from 'node:crypto';
import { logThrottled } from '../proxy/log-throttle';
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
// Which of the index's members still have a session (ARGV[1] is the key prefix).
const EXISTING = "local out = {} for i = 2, #ARGV do out[i - 1] = redis.call('exists', ARGV[1] .. 's:' .. ARGV[i]) end return out";
// Every session of a user read and deleted, then the index: atomically. Returns {member, value} pairs.
const DELETE_USER = [
  'local out = {}',
  "for _, member in ipairs(redis.call('smembers', KEYS[1])) do",
  "  local value = redis.call('getdel', ARGV[1] .. 's:' .. member)",
  '  if value then out[#out + 1] = { member, value } end',
  'end',
  "redis.call('del', KEYS[1])",
  'return out',
].join(' ');

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
  // A digest: user ids stay out of key names (sealed values or not), and odd ids make ordinary keys.
  const userKey = (userId: string) => `${prefix}u:${createHash('sha256').update(userId).digest('base64url')}`;
  const encode = (key: string, session: StoredSession) => seal(JSON.stringify(session), keys, sessionKey(key));
  const readValue = (key: string, stored: string) => {
    const session = readStoredSession(open(stored, keys, sessionKey(key)));
    if (!session) {
      logThrottled(
        options.logger,
        'warn',
        'store-unreadable',
        '[next-bff-proxy] session store: a session could not be read (sealed with an unknown key, or altered): treated as none',
      );
    }
    return session;
  };
  /** The index's TTL raised to `ttl` (never lowered), or set when it has none yet. */
  type Multi = ReturnType<typeof client.multi>;
  const keepIndex = (multi: Multi, userId: string, ttl: number): Multi =>
    multi.expire(userKey(userId), ttl, 'GT').expire(userKey(userId), ttl, 'NX');

  return {
    async get(key) {
      const stored = await run(() => client.get(sessionKey(key)));
      return stored === null ? undefined : readValue(key, stored);
    },
    async set(key, session, ttlSeconds) {
      const ttl = Math.max(1, Math.ceil(ttlSeconds));
      await run(async () => {
        const multi = client.multi().set(sessionKey(key), encode(key, session), { expiration: { type: 'EX', value: ttl } });
        if (session.userId !== undefined) keepIndex(multi.sAdd(userKey(session.userId), key), session.userId, ttl);
        await multi.exec();
      });
    },
    async update(key, session, ttlSeconds) {
      const ttl = Math.max(1, Math.ceil(ttlSeconds));
      // The user's index lives as long as their longest session: a session kept alive by use (a refresh,
      // the last-use write) keeps it alive too, or "sign out everywhere" would miss the sessions in use.
      const replies = await run(() => {
        const multi = client
          .multi()
          .set(sessionKey(key), encode(key, session), { condition: 'XX', expiration: { type: 'EX', value: ttl } });
        if (session.userId !== undefined) keepIndex(multi, session.userId, ttl);
        return multi.exec();
      });
      return String(replies[0]) === 'OK';
    },
    async delete(key) {
      // Read and deleted in one step: a refresh landing between a read and a delete cannot slip past a logout.
      const stored = await run(() => client.getDel(sessionKey(key)));
      return stored === null ? undefined : readValue(key, stored);
    },
    async keysOfUser(userId) {
      const members = await run(() => client.sMembers(userKey(userId)));
      if (members.length === 0) return [];
      const flags = await run(() => client.eval(EXISTING, { keys: [], arguments: [prefix, ...members] }));
      return members.filter((_, i) => (flags as number[])[i] === 1);
    },
    async deleteUser(userId) {
      // One script: the index read, every session read and deleted, the index deleted, with nothing in
      // between (a login racing it is either ended or not yet indexed), however many sessions there are.
      const values = (await run(() => client.eval(DELETE_USER, { keys: [userKey(userId)], arguments: [prefix] }))) as Array<
        [string, string]
      >;
      return values.flatMap(([member, value]) => {
        const session = readValue(member, value);
        return session ? [session] : [];
      });
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
