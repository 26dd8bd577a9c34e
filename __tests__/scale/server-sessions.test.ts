import { createHash } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type http from 'node:http';
import { createClient } from 'redis';
import { createDemoApi } from '../../demo-api/server';
import type { ApiProxyOptions } from '../../proxy/index';
import { BrowserSession } from '../helpers/browser-session';
import { startProxy, type RunningServer, type recordingLogger } from '../helpers/servers';
import { startRedis, type RedisProcess } from '../helpers/redis-server';
import { closeSessionStores } from '../../session-store/resolve-store';

// Server-side sessions through the proxy, several "instances" (proxies) on one real redis-server, in
// front of the demo API with strict refresh-token rotation (a reused refresh token revokes the family).

type Proxy = RunningServer & { logger: ReturnType<typeof recordingLogger> };
let redis: RedisProcess;
let raw: ReturnType<typeof createClient>;
let api: http.Server;
let apiUrl: string;
let apiLog: string[];
const running: Proxy[] = [];

async function startApi(options: { accessTokenTtlSeconds?: number; tokenPaddingBytes?: number } = {}) {
  apiLog = [];
  api = createDemoApi({ secret: 'scale-secret', refreshGraceSeconds: 0, log: (line) => apiLog.push(line), ...options });
  await new Promise<void>((resolve) => api.listen(0, '127.0.0.1', resolve));
  apiUrl = `http://127.0.0.1:${(api.address() as AddressInfo).port}`;
}

async function instance(extra: ApiProxyOptions = {}): Promise<Proxy> {
  const proxy = await startProxy({ apiUrl, sessionStore: { url: redis.url }, refresh: { skewSeconds: 1 }, ...extra });
  running.push(proxy);
  return proxy;
}

beforeAll(async () => {
  redis = await startRedis();
  raw = createClient({ url: redis.url });
  raw.on('error', () => undefined);
  await raw.connect();
});
afterAll(async () => {
  await closeSessionStores();
  await raw.close();
  await redis.stop();
});
afterEach(async () => {
  await Promise.all(running.splice(0).map((proxy) => proxy.close()));
  await new Promise((resolve) => api.close(resolve));
  await raw.flushAll().catch(() => undefined);
});

const refreshes = () => apiLog.filter((line) => line.includes('POST /refresh 200')).length;
const credentials = { json: { email: 'ada@example.com', password: 'lovelace' } };
const storeKey = (id: string) => `bff:s:${createHash('sha256').update(id).digest('base64url')}`;

/** A browser holding the same cookies on another instance (the load balancer sent it elsewhere). */
function sameBrowserOn(proxy: Proxy, browser: BrowserSession): BrowserSession {
  const other = new BrowserSession(proxy.url);
  for (const [name, value] of browser.cookies) other.cookies.set(name, value);
  return other;
}

describe('a session kept in Redis', () => {
  it('gives the browser only a random id; the tokens are in Redis under its digest', async () => {
    await startApi();
    const a = await instance();
    const browser = new BrowserSession(a.url);
    const login = await browser.request('POST', '/api/login', credentials);
    expect(login.status).toBe(200);
    expect(login.setCookies).toHaveLength(1);
    const [, id] = /^auth-token=([A-Za-z0-9_-]{43}); Path=\/; HttpOnly; SameSite=Lax; Max-Age=(\d+)$/.exec(login.setCookies[0] ?? '') ?? [];
    expect(id).toBeDefined();
    const stored = JSON.parse((await raw.get(storeKey(id ?? ''))) ?? '{}') as Record<string, unknown>;
    expect(stored).toMatchObject({ userId: 'u1', accessToken: expect.stringMatching(/^ey/), refreshToken: expect.stringMatching(/^ey/) });
    expect(await raw.get(`bff:s:${id}`)).toBeNull();
    const me = await browser.request('GET', '/api/me');
    expect(me.status).toBe(200);
    expect(JSON.parse(me.body).user.email).toBe('ada@example.com');
  });

  it('is one session on every instance: 30 requests at expiry over three instances make exactly one refresh, and all succeed', async () => {
    // Tokens of 6 s, refreshed within 1 s of expiry: the burst comes at 5.1 s, and the new token is then
    // good (outside the skew) for 5 s more, room for the steps after it on a loaded machine.
    await startApi({ accessTokenTtlSeconds: 6 });
    const instances = [await instance(), await instance(), await instance()];
    const browser = new BrowserSession(instances[0]?.url ?? '');
    await browser.request('POST', '/api/login', credentials);
    await new Promise((resolve) => setTimeout(resolve, 5_100));
    const answers = await Promise.all(
      Array.from({ length: 30 }, (_, i) => sameBrowserOn(instances[i % 3] as Proxy, browser).request('GET', '/api/me')),
    );
    expect(answers.map((answer) => answer.status)).toEqual(Array(30).fill(200));
    expect(refreshes()).toBe(1);
    expect(apiLog.join('\n')).not.toContain('reused');
    // No instance hands out a new cookie: the id stays, the new tokens are in Redis.
    expect(answers.flatMap((answer) => answer.setCookies)).toEqual([]);
    // After the old access token has expired, every instance forwards the new one.
    await new Promise((resolve) => setTimeout(resolve, 1_200));
    for (const proxy of instances) expect((await sameBrowserOn(proxy, browser).request('GET', '/api/me')).status).toBe(200);
    expect(refreshes()).toBe(1);
  });

  it('ends everywhere at a logout on one instance: a copy of the cookie taken before no longer works anywhere', async () => {
    await startApi();
    const [a, b] = [await instance(), await instance()];
    const browser = new BrowserSession(a?.url ?? '');
    await browser.request('POST', '/api/login', credentials);
    const copy = sameBrowserOn(b as Proxy, browser);
    expect((await copy.request('GET', '/api/me')).status).toBe(200);
    expect((await browser.request('POST', '/api/logout')).status).toBe(200);
    const after = await copy.request('GET', '/api/me');
    expect(after.status).toBe(401);
    // The dead id is cleared from the copy too.
    expect(after.setCookies.some((cookie) => cookie.startsWith('auth-token=;'))).toBe(true);
  });

  it('signs a user out everywhere: every session of theirs ends, on every instance', async () => {
    await startApi();
    const [a, b] = [await instance(), await instance()];
    const laptop = new BrowserSession(a?.url ?? '');
    const phone = new BrowserSession(b?.url ?? '');
    await laptop.request('POST', '/api/login', credentials);
    await phone.request('POST', '/api/login', credentials);
    const res = await laptop.request('POST', '/api/logout/everywhere');
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toEqual({ loggedOut: true, sessions: 2 });
    expect((await phone.request('GET', '/api/me')).status).toBe(401);
    expect(laptop.cookies.size).toBe(0);
  });

  it('holds a token of 5 KB, which no cookie could', async () => {
    await startApi({ tokenPaddingBytes: 5_000 });
    const a = await instance();
    const browser = new BrowserSession(a.url);
    const login = await browser.request('POST', '/api/login', credentials);
    expect(login.status).toBe(200);
    expect((login.setCookies[0] ?? '').length).toBeLessThan(200);
    expect((await browser.request('GET', '/api/me')).status).toBe(200);
  });

  it('never takes an id it did not issue: a planted id is cleared, and a login issues a new one', async () => {
    await startApi();
    const a = await instance();
    const browser = new BrowserSession(a.url);
    const planted = 'p'.repeat(43);
    browser.cookies.set('auth-token', planted);
    const me = await browser.request('GET', '/api/me');
    expect(me.status).toBe(401);
    expect(me.setCookies.some((cookie) => cookie.startsWith('auth-token=;'))).toBe(true);
    browser.cookies.set('auth-token', planted);
    await browser.request('POST', '/api/login', credentials);
    expect(browser.cookies.get('auth-token')).not.toBe(planted);
    expect(await raw.exists(storeKey(planted))).toBe(0);
  });

  it('ends a session idle past idleTimeoutSeconds, and one past absoluteTimeoutSeconds however used', async () => {
    await startApi();
    const a = await instance({ sessionStore: { url: redis.url, idleTimeoutSeconds: 60, absoluteTimeoutSeconds: 3600 } });
    for (const [field, age] of [
      ['lastSeenAt', 61_000],
      ['createdAt', 3_601_000],
    ] as const) {
      const browser = new BrowserSession(a.url);
      await browser.request('POST', '/api/login', credentials);
      const key = storeKey(browser.cookies.get('auth-token') ?? '');
      const stored = JSON.parse((await raw.get(key)) ?? '{}') as Record<string, number>;
      await raw.set(key, JSON.stringify({ ...stored, [field]: Date.now() - age }), { KEEPTTL: true });
      expect((await browser.request('GET', '/api/me')).status).toBe(401);
      expect(await raw.exists(key)).toBe(0);
    }
  });
});

describe('Redis down', () => {
  it('answers 503 session_store_unavailable (JSON, no crash, no token logged), serves what needs no session, and recovers without a restart', async () => {
    await startApi();
    const a = await instance();
    const browser = new BrowserSession(a.url);
    await browser.request('POST', '/api/login', credentials);
    const held = browser.cookies.get('auth-token') ?? '';
    const token = JSON.parse((await raw.get(storeKey(held))) ?? '{}').accessToken as string;
    await redis.stop();
    const down = await browser.request('GET', '/api/me');
    expect(down.status).toBe(503);
    expect(JSON.parse(down.body)).toEqual({
      error: { code: 'session_store_unavailable', message: 'Sessions are unavailable right now: try again shortly.' },
    });
    expect(down.headers['retry-after']).toBe('1');
    // A request without a session never asks the store.
    const anonymous = await new BrowserSession(a.url).request('GET', '/api/items');
    expect(anonymous.status).toBe(401);
    expect(a.logger.lines.join('\n')).not.toContain(token);
    // A logout now cannot end the session in the store: the browser forgets it all the same, and is told 503.
    const logout = await browser.request('POST', '/api/logout');
    expect(logout.status).toBe(503);
    expect(logout.setCookies.some((cookie) => cookie.startsWith('auth-token=;'))).toBe(true);
    browser.cookies.set('auth-token', held);
    await redis.start();
    let back = 503;
    for (let i = 0; i < 100 && back === 503; i++) {
      back = (await browser.request('GET', '/api/me')).status;
      if (back === 503) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    // Persistence off: the restart lost every session. The user signs in again, on the same instance.
    expect(back).toBe(401);
    expect((await browser.request('POST', '/api/login', credentials)).status).toBe(200);
    expect((await browser.request('GET', '/api/me')).status).toBe(200);
    for (let i = 0; i < 100 && !raw.isReady; i++) await new Promise((resolve) => setTimeout(resolve, 50));
  });
});

describe('tokens at rest', () => {
  it('are sealed with AES-256-GCM when keys are given: Redis holds no token', async () => {
    await startApi();
    const key = Buffer.alloc(32, 7).toString('base64');
    const a = await instance({ sessionStore: { url: redis.url, encryptionKeys: [key] } });
    const browser = new BrowserSession(a.url);
    await browser.request('POST', '/api/login', credentials);
    const stored = (await raw.get(storeKey(browser.cookies.get('auth-token') ?? ''))) ?? '';
    expect(stored).toMatch(/^gcm1\./);
    expect(stored).not.toContain('ey');
    expect((await browser.request('GET', '/api/me')).status).toBe(200);
  });
});
