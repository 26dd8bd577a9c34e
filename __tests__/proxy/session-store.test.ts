import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createDemoApi } from '../../demo-api/server';
import { createMemoryStore } from '../../session-store/memory-store';
import { readStoredSession } from '../../session-store/server-session';
import { SessionStoreError, type SessionStore } from '../../session-store/types';
import type { ApiProxyOptions } from '../../proxy/index';
import { BrowserSession } from '../helpers/browser-session';
import { startProxy, type RunningServer, type recordingLogger } from '../helpers/servers';

// Store mode without a Redis server (`npm test` needs nothing but Node): the same proxy paths with the
// in-memory store, which keeps the Redis store's contract. Real Redis, several processes and nginx are
// `npm run test:scale`.

let api: http.Server;
let apiUrl: string;
let apiLog: string[];
let proxy: (RunningServer & { logger: ReturnType<typeof recordingLogger> }) | undefined;

beforeEach(async () => {
  apiLog = [];
  api = createDemoApi({ secret: 'memory-store-secret', accessTokenTtlSeconds: 60, log: (line) => apiLog.push(line) });
  await new Promise<void>((resolve) => api.listen(0, '127.0.0.1', resolve));
  apiUrl = `http://127.0.0.1:${(api.address() as AddressInfo).port}`;
});
afterEach(async () => {
  await proxy?.close();
  proxy = undefined;
  await new Promise((resolve) => api.close(resolve));
});

const credentials = { json: { email: 'ada@example.com', password: 'lovelace' } };

async function signedIn(store: SessionStore, extra: ApiProxyOptions = {}) {
  proxy = await startProxy({ apiUrl, ...extra, sessionStore: { ...(extra.sessionStore || {}), store } });
  const browser = new BrowserSession(proxy.url);
  const login = await browser.request('POST', '/api/login', credentials);
  return { browser, login };
}

describe('sessions in a store (in memory)', () => {
  it('give the browser a random id only, good for the absolute timeout, and serve the session from the store', async () => {
    const { browser, login } = await signedIn(createMemoryStore(), {
      sessionStore: { store: createMemoryStore(), absoluteTimeoutSeconds: 3600 },
    });
    expect(login.status).toBe(200);
    expect(login.setCookies).toEqual([
      expect.stringMatching(/^auth-token=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Lax; Max-Age=3600$/),
    ]);
    expect(login.body).not.toContain('ey');
    const me = await browser.request('GET', '/api/me');
    expect(me.status).toBe(200);
    expect(JSON.parse(me.body).user.name).toBe('Ada Lovelace');
  });

  it('refresh in the store, once for concurrent requests, with no new cookie', async () => {
    // Tokens of 2 s, refreshed within 1 s of expiry: the requests come once the token is inside the skew.
    await new Promise((resolve) => api.close(resolve));
    api = createDemoApi({ secret: 'memory-store-secret', accessTokenTtlSeconds: 2, log: (line) => apiLog.push(line) });
    await new Promise<void>((resolve) => api.listen(0, '127.0.0.1', resolve));
    apiUrl = `http://127.0.0.1:${(api.address() as AddressInfo).port}`;
    const { browser } = await signedIn(createMemoryStore(), { refresh: { skewSeconds: 1 } });
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    const answers = await Promise.all(Array.from({ length: 10 }, () => browser.request('GET', '/api/me')));
    expect(answers.map((answer) => answer.status)).toEqual(Array(10).fill(200));
    expect(apiLog.filter((line) => line.includes('POST /refresh 200'))).toHaveLength(1);
    expect(answers.flatMap((answer) => answer.setCookies)).toEqual([]);
  });

  it('end at logout for every copy of the cookie, and everywhere for the user', async () => {
    const store = createMemoryStore();
    const { browser } = await signedIn(store);
    const copy = new BrowserSession(proxy?.url ?? '');
    for (const [name, value] of browser.cookies) copy.cookies.set(name, value);
    const phone = new BrowserSession(proxy?.url ?? '');
    await phone.request('POST', '/api/login', credentials);
    expect(JSON.parse((await browser.request('POST', '/api/logout/everywhere')).body)).toEqual({ loggedOut: true, sessions: 2 });
    expect((await copy.request('GET', '/api/me')).status).toBe(401);
    expect((await phone.request('GET', '/api/me')).status).toBe(401);
  });

  it('answer 503 session_store_unavailable when the store fails, and pass requests without a session', async () => {
    const store = createMemoryStore();
    const { browser } = await signedIn(store);
    store.get = async () => {
      throw new SessionStoreError('unavailable');
    };
    const res = await browser.request('GET', '/api/me');
    expect(res.status).toBe(503);
    expect(JSON.parse(res.body).error.code).toBe('session_store_unavailable');
    expect(res.headers['retry-after']).toBe('1');
    expect((await new BrowserSession(proxy?.url ?? '').request('GET', '/api/items')).status).toBe(401);
  });

  it('leave POST /api/logout/everywhere to the API without a store (cookie sessions cannot all be found)', async () => {
    proxy = await startProxy({ apiUrl, sessionStore: false });
    const res = await new BrowserSession(proxy.url).request('POST', '/api/logout/everywhere');
    expect(res.status).toBe(404);
    expect(apiLog.join('\n')).toContain('POST /logout/everywhere 404');
  });
});

describe('the last-use write', () => {
  const resolvedStore = (store: SessionStore) => ({
    get: () => store,
    idleTimeoutSeconds: 86_400,
    absoluteTimeoutSeconds: 604_800,
    lockTtlMs: 5_000,
  });
  const old = Date.now() - 120_000;
  const session = { accessToken: 'access-1', refreshToken: 'refresh-1', createdAt: old, lastSeenAt: old };

  it('notes a use once a minute', async () => {
    const store = createMemoryStore();
    await store.set('k', session, 600);
    await readStoredSession(resolvedStore(store), 'k');
    expect((await store.get('k'))?.lastSeenAt).toBeGreaterThan(old);
  });

  it('never writes the tokens it read over a refresh that landed meanwhile', async () => {
    const inner = createMemoryStore();
    await inner.set('k', session, 600);
    let reads = 0;
    // The refresh (on another instance) writes new tokens just after this request read the session.
    const store: SessionStore = {
      ...inner,
      async get(key) {
        const read = await inner.get(key);
        if (++reads === 1)
          await inner.update(key, { ...session, accessToken: 'access-2', refreshToken: 'refresh-2', lastSeenAt: Date.now() }, 600);
        return read;
      },
    };
    const read = await readStoredSession(resolvedStore(store), 'k');
    expect(read?.accessToken).toBe('access-1');
    expect(await inner.get('k')).toMatchObject({ accessToken: 'access-2', refreshToken: 'refresh-2' });
  });
});
