import { createClient } from 'redis';
import { createRedisStore } from '../../session-store/redis-store';
import { parseSealingKeys } from '../../session-store/sealed-value';
import { SessionStoreError, type SessionStore, type StoredSession } from '../../session-store/types';
import { recordingLogger } from '../helpers/servers';
import { startRedis, type RedisProcess } from '../helpers/redis-server';

// The shipped store against a real redis-server (persistence off): sessions, the user index, the
// refresh lock, tokens sealed at rest, and what happens when Redis is down or slow.

let redis: RedisProcess;
let raw: ReturnType<typeof createClient>;
const stores: SessionStore[] = [];

beforeAll(async () => {
  redis = await startRedis();
  raw = createClient({ url: redis.url });
  raw.on('error', () => undefined);
  await raw.connect();
});
afterAll(async () => {
  await Promise.all(stores.map((store) => store.close?.()));
  await raw.close();
  await redis.stop();
});

async function store(options: Partial<Parameters<typeof createRedisStore>[0]> = {}): Promise<SessionStore> {
  const made = createRedisStore({ url: redis.url, logger: recordingLogger(), keyPrefix: `t${stores.length}:`, ...options });
  stores.push(made);
  // Connected once a command goes through.
  for (let i = 0; i < 100; i++) {
    try {
      await made.get('warm-up');
      break;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
  return made;
}

const session = (over: Partial<StoredSession> = {}): StoredSession => ({
  accessToken: 'access-token-1',
  refreshToken: 'refresh-token-1',
  userId: 'u1',
  createdAt: Date.now(),
  lastSeenAt: Date.now(),
  ...over,
});

describe('sessions', () => {
  it('sets, gets, updates only while present, and deletes, with the TTL it is given', async () => {
    const s = await store();
    await s.set('k1', session(), 120);
    expect(await s.get('k1')).toEqual(session({ createdAt: expect.any(Number), lastSeenAt: expect.any(Number) }));
    expect(await raw.ttl('t0:s:k1')).toBeGreaterThan(110);
    expect(await s.update('k1', session({ accessToken: 'access-token-2' }), 30)).toBe(true);
    expect((await s.get('k1'))?.accessToken).toBe('access-token-2');
    expect(await raw.ttl('t0:s:k1')).toBeLessThanOrEqual(30);
    // A delete reads and removes at once: the caller gets the tokens to revoke, whatever landed last.
    expect((await s.delete('k1'))?.accessToken).toBe('access-token-2');
    expect(await s.get('k1')).toBeUndefined();
    expect(await s.delete('k1')).toBeUndefined();
    // A logout (delete) between a refresh's read and its write wins: the write does not bring it back.
    expect(await s.update('k1', session(), 30)).toBe(false);
    expect(await s.get('k1')).toBeUndefined();
  });

  it('finds and ends every session of a user, and only theirs, handing back what they held', async () => {
    const s = await store();
    await s.set('a', session({ userId: 'ada', accessToken: 'ada-a' }), 60);
    await s.set('b', session({ userId: 'ada', accessToken: 'ada-b' }), 60);
    await s.set('c', session({ userId: 'bob' }), 60);
    expect((await s.keysOfUser('ada')).sort()).toEqual(['a', 'b']);
    expect((await s.deleteUser('ada')).map((ended) => ended.accessToken).sort()).toEqual(['ada-a', 'ada-b']);
    expect(await s.get('a')).toBeUndefined();
    expect(await s.get('b')).toBeUndefined();
    expect(await s.get('c')).toBeDefined();
    expect(await s.keysOfUser('ada')).toEqual([]);
  });

  it('keeps a user’s index alive as long as a session kept alive by use (refresh, last use), and names no user id in a key', async () => {
    const s = await store();
    await s.set('used', session({ userId: 'dee' }), 2);
    expect(await s.update('used', session({ userId: 'dee', accessToken: 'renewed' }), 60)).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 2_200));
    expect(await s.keysOfUser('dee')).toEqual(['used']);
    expect(await raw.keys('*dee*')).toEqual([]);
    expect((await s.deleteUser('dee')).map((ended) => ended.accessToken)).toEqual(['renewed']);
  });

  it('ends ten thousand sessions of one user in one step, within the command timeout', async () => {
    const s = await store();
    const multi = raw.multi();
    for (let i = 0; i < 10_000; i++) multi.set(`t${stores.length - 1}:s:many-${i}`, JSON.stringify(session({ userId: 'eve' })), { EX: 60 });
    await multi.exec();
    await s.set('many-last', session({ userId: 'eve' }), 60);
    const index = (await raw.keys(`t${stores.length - 1}:u:*`))[0] ?? '';
    for (let i = 0; i < 10_000; i += 1_000)
      await raw.sAdd(
        index,
        Array.from({ length: 1_000 }, (_, j) => `many-${i + j}`),
      );
    expect(await s.deleteUser('eve')).toHaveLength(10_001);
    expect(await raw.exists(`t${stores.length - 1}:s:many-9999`)).toBe(0);
  });

  it('leaves expired sessions out of a user’s keys', async () => {
    const s = await store();
    await s.set('short', session({ userId: 'cy' }), 1);
    await s.set('long', session({ userId: 'cy' }), 60);
    await new Promise((resolve) => setTimeout(resolve, 1_200));
    expect(await s.keysOfUser('cy')).toEqual(['long']);
  });

  it('reads a garbled value as no session, with a warning', async () => {
    const logger = recordingLogger();
    const s = await store({ logger });
    await raw.set(`t${stores.length - 1}:s:bad`, '{"accessToken": 5}');
    expect(await s.get('bad')).toBeUndefined();
    expect(logger.lines.join('\n')).toContain('a session could not be read');
  });
});

describe('the refresh lock', () => {
  it('is held by one at a time, renewed and released only by its holder, and expires when its holder is gone', async () => {
    const s = await store();
    const first = await s.lock('k', 300);
    expect(first).toBeDefined();
    expect(await s.lock('k', 300)).toBeUndefined();
    expect(await first?.renew(1_000)).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(await s.lock('k', 300)).toBeUndefined();
    await first?.release();
    const second = await s.lock('k', 200);
    expect(second).toBeDefined();
    // The first holder's late release must not free the second's lock.
    await first?.release();
    expect(await s.lock('k', 200)).toBeUndefined();
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await second?.renew(200)).toBe(false);
    expect(await s.lock('k', 200)).toBeDefined();
  });
});

describe('tokens at rest (AES-256-GCM)', () => {
  const [oldKey, newKey] = ['a'.repeat(43) + '=', 'b'.repeat(43) + '='].map((text) => Buffer.from(text, 'base64').toString('base64'));

  it('keeps no token readable in Redis, and opens what an older key sealed after a rotation', async () => {
    const keys = parseSealingKeys([oldKey ?? ''], 'k');
    const before = await store({ sealingKeys: keys, keyPrefix: 'gcm:' });
    await before.set('k', session({ accessToken: 'visible-access-token', refreshToken: 'visible-refresh-token' }), 60);
    const stored = (await raw.get('gcm:s:k')) ?? '';
    expect(stored).toMatch(/^gcm1\.[\w-]{8}\.[\w-]+$/);
    expect(stored).not.toContain('visible');
    const rotated = await store({ sealingKeys: parseSealingKeys([newKey ?? '', oldKey ?? ''], 'k'), keyPrefix: 'gcm:' });
    expect((await rotated.get('k'))?.accessToken).toBe('visible-access-token');
    await rotated.set('k2', session(), 60);
    expect((await raw.get('gcm:s:k2'))?.split('.')[1]).toBe(parseSealingKeys([newKey ?? ''], 'k')[0]?.id);
  });

  it('refuses a value moved under another session’s key, altered, sealed with an unknown key, or left unsealed', async () => {
    const keys = parseSealingKeys([oldKey ?? ''], 'k');
    const s = await store({ sealingKeys: keys, keyPrefix: 'gcm2:' });
    await s.set('victim', session({ accessToken: 'victim-token' }), 60);
    await raw.set('gcm2:s:attacker', (await raw.get('gcm2:s:victim')) ?? '');
    expect(await s.get('attacker')).toBeUndefined();
    const sealed = (await raw.get('gcm2:s:victim')) ?? '';
    await raw.set('gcm2:s:altered', sealed.slice(0, -2) + (sealed.endsWith('AA') ? 'AB' : 'AA'));
    expect(await s.get('altered')).toBeUndefined();
    await raw.set('gcm2:s:plain', JSON.stringify(session()));
    expect(await s.get('plain')).toBeUndefined();
    const other = await store({ sealingKeys: parseSealingKeys([newKey ?? ''], 'k'), keyPrefix: 'gcm2:' });
    expect(await other.get('victim')).toBeUndefined();
  });

  it('names a key of the wrong size at startup, never printing it', () => {
    expect(() => parseSealingKeys(['c2hvcnQ='], 'SESSION_STORE_KEYS')).toThrow(
      'SESSION_STORE_KEYS[0] must be 32 bytes in base64 (e.g. openssl rand -base64 32), got 5 bytes',
    );
  });
});

describe('Redis down or slow', () => {
  it('fails fast with session_store_unavailable while down, and works again when it is back, without a new store', async () => {
    const s = await store();
    await s.set('k', session(), 60);
    await redis.stop();
    const started = Date.now();
    const error = await s.get('k').catch((err: unknown) => err);
    expect(error).toBeInstanceOf(SessionStoreError);
    expect((error as SessionStoreError).code).toBe('session_store_unavailable');
    expect(Date.now() - started).toBeLessThan(1_000);
    await redis.start();
    let back: StoredSession | undefined | 'down' = 'down';
    for (let i = 0; i < 100 && back === 'down'; i++) {
      back = await s.get('k').catch(() => 'down' as const);
      if (back === 'down') await new Promise((resolve) => setTimeout(resolve, 50));
    }
    // Persistence is off: the restart lost the session (README: what that means for users).
    expect(back).toBeUndefined();
    await s.set('k', session(), 60);
    expect(await s.get('k')).toBeDefined();
    // The raw client reconnects too, for the tests after this one.
    for (let i = 0; i < 100 && !raw.isReady; i++) await new Promise((resolve) => setTimeout(resolve, 50));
  });

  it('gives up on a command slower than its timeout', async () => {
    const s = await store({ timeoutMs: 200 });
    void raw.sendCommand(['DEBUG', 'SLEEP', '0.6']).catch(() => undefined);
    await new Promise((resolve) => setTimeout(resolve, 20));
    const started = Date.now();
    const error = await s.get('k').catch((err: unknown) => err);
    expect(error).toBeInstanceOf(SessionStoreError);
    expect((error as SessionStoreError).reason).toBe('timeout');
    expect(Date.now() - started).toBeLessThan(500);
    await new Promise((resolve) => setTimeout(resolve, 700));
  });
});
