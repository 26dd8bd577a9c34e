import http from 'node:http';
import net from 'node:net';
import request from 'supertest';
import { createServerApi, getSession } from '../../server-lib';
import { fakeJwt, listen, readBody, startProxy, type RunningServer } from '../helpers/servers';

const now = () => Math.floor(Date.now() / 1000);
const accessToken = (name: string, expiresIn: number) => fakeJwt({ sub: name, exp: now() + expiresIn });
const same = { 'sec-fetch-site': 'same-origin' };

/**
 * A token API with refresh-token rotation: each refresh token works once, and answers
 * {authToken, refreshToken}. Every call is recorded.
 */
interface FakeApi extends RunningServer {
  calls: Array<{ path: string; token: string | undefined; body: string }>;
  refreshCalls: () => number;
  /** What the next refresh answers: 'rotate' (default), 'refuse' (401), 'error' (500), 'keep' (no new refresh token). */
  mode: 'rotate' | 'refuse' | 'error' | 'keep';
  /** Valid access tokens; others get 401. */
  valid: Set<string>;
}

async function startFakeApi(): Promise<FakeApi> {
  let generation = 0;
  const api = {} as FakeApi;
  api.calls = [];
  api.mode = 'rotate';
  api.valid = new Set();
  const server = await listen(async (req, res) => {
    const body = (await readBody(req)).toString();
    const token = req.headers['auth-token'] as string | undefined;
    api.calls.push({ path: req.url ?? '', token, body });
    res.setHeader('content-type', 'application/json');
    if (req.url === '/refresh') {
      // Slow enough that concurrent requests pile up behind one refresh.
      await new Promise((resolve) => setTimeout(resolve, 50));
      if (api.mode === 'refuse') return void res.writeHead(401).end('{"error":"invalid_grant"}');
      if (api.mode === 'error') return void res.writeHead(500).end('{}');
      generation += 1;
      const fresh = accessToken(`gen${generation}`, 600);
      api.valid.add(fresh);
      const answer: Record<string, unknown> = { authToken: fresh, note: 'rotated' };
      if (api.mode === 'rotate') answer.refreshToken = `refresh-gen${generation}`;
      return void res.end(JSON.stringify(answer));
    }
    if (req.url === '/login') {
      const fresh = accessToken('login', 600);
      api.valid.add(fresh);
      return void res.end(
        JSON.stringify({ authToken: fresh, refreshToken: fakeJwt({ typ: 'refresh', exp: now() + 86_400 }), user: 'ada' }),
      );
    }
    if (!token || !api.valid.has(token)) return void res.writeHead(401).end('{"error":"unauthorized"}');
    res.end(JSON.stringify({ path: req.url, token }));
  });
  return Object.assign(api, server, { refreshCalls: () => api.calls.filter((call) => call.path === '/refresh').length });
}

function cookiesOf(res: { headers: Record<string, unknown> }): string[] {
  return (res.headers['set-cookie'] as string[] | undefined) ?? [];
}
function cookieValue(res: { headers: Record<string, unknown> }, name: string): string | undefined {
  const found = cookiesOf(res).find((cookie) => cookie.startsWith(`${name}=`));
  return found?.slice(name.length + 1).split(';')[0];
}

let api: FakeApi;
let proxy: Awaited<ReturnType<typeof startProxy>>;
beforeEach(async () => {
  api = await startFakeApi();
  proxy = await startProxy({ apiUrl: api.url });
});
afterEach(async () => {
  await proxy.close();
  await api.close();
});

describe('capture at login', () => {
  it('stores the refresh token in its own httpOnly cookie (Max-Age from its exp) and in no body', async () => {
    const res = await request(proxy.url).post('/api/login').set(same).send({});
    expect(res.status).toBe(200);
    expect(res.text).toBe('{"user":"ada"}');
    const [access, refresh] = cookiesOf(res);
    expect(access).toMatch(/^auth-token=[\w-]+\.[\w-]+\.[\w-]+; Path=\/; HttpOnly; SameSite=Lax; Max-Age=\d+$/);
    expect(refresh).toMatch(/^refresh-token=[\w-]+\.[\w-]+\.[\w-]+; Path=\/; HttpOnly; SameSite=Lax; Max-Age=\d+$/);
    expect(Number(/Max-Age=(\d+)/.exec(refresh ?? '')?.[1])).toBeGreaterThan(86_000);
  });

  it("takes the refresh token from the upstream's Set-Cookie, and does not pass that cookie on", async () => {
    const upstream = await listen((_req, res) => {
      res.setHeader('set-cookie', ['refreshToken=rt-from-cookie; Path=/; HttpOnly', 'other=1']);
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ authToken: 'at-1' }));
    });
    const viaCookie = await startProxy({ apiUrl: upstream.url, refresh: { maxAgeSeconds: 3600 } });
    try {
      const res = await request(viaCookie.url).post('/api/login').set(same).send({});
      expect(cookiesOf(res)).toEqual([
        'auth-token=at-1; Path=/; HttpOnly; SameSite=Lax',
        'refresh-token=rt-from-cookie; Path=/; HttpOnly; SameSite=Lax; Max-Age=3600',
      ]);
      expect(res.text).not.toContain('rt-from-cookie');
    } finally {
      await viaCookie.close();
      await upstream.close();
    }
  });
});

describe('refresh before forwarding', () => {
  it('refreshes an expired access token once, forwards with the new one and sets both new cookies', async () => {
    const res = await request(proxy.url)
      .get('/api/items')
      .set('cookie', `auth-token=${accessToken('old', -5)}; refresh-token=refresh-gen0`);
    expect(res.status).toBe(200);
    expect(api.refreshCalls()).toBe(1);
    expect(JSON.parse(api.calls[0]?.body ?? '')).toEqual({ refreshToken: 'refresh-gen0' });
    const newAccess = cookieValue(res, 'auth-token');
    expect(res.body.token).toBe(newAccess);
    expect(cookieValue(res, 'refresh-token')).toBe('refresh-gen1');
    expect(res.text).not.toContain('refresh-gen');
  });

  it('refreshes when the access cookie is gone but the refresh cookie is there', async () => {
    const res = await request(proxy.url).get('/api/items').set('cookie', 'refresh-token=refresh-gen0');
    expect(res.status).toBe(200);
    expect(api.refreshCalls()).toBe(1);
  });

  it('refreshes within skewSeconds of expiry, and not before', async () => {
    const soon = accessToken('soon', 10);
    api.valid.add(soon);
    await request(proxy.url).get('/api/a').set('cookie', `auth-token=${soon}; refresh-token=refresh-gen0`);
    expect(api.refreshCalls()).toBe(1);
    const later = accessToken('later', 120);
    api.valid.add(later);
    const res = await request(proxy.url).get('/api/b').set('cookie', `auth-token=${later}; refresh-token=refresh-gen1`);
    expect(res.body.token).toBe(later);
    expect(api.refreshCalls()).toBe(1);
    expect(cookiesOf(res)).toEqual([]);
  });

  it('keeps the refresh cookie when the upstream does not rotate it', async () => {
    api.mode = 'keep';
    const res = await request(proxy.url).get('/api/items').set('cookie', 'refresh-token=refresh-gen0');
    expect(res.status).toBe(200);
    expect(cookiesOf(res).map((cookie) => cookie.split('=')[0])).toEqual(['auth-token']);
  });

  it('single-flight: 20 parallel requests with an expired token make 1 refresh and 20 forwards with the new token', async () => {
    const cookie = `auth-token=${accessToken('old', -5)}; refresh-token=refresh-gen0`;
    const agent = new http.Agent({ keepAlive: true, maxSockets: 20 });
    try {
      const answers = await Promise.all(
        Array.from(
          { length: 20 },
          (_, i) =>
            new Promise<{ status: number; body: string; token: string | undefined }>((resolve, reject) => {
              http
                .get(`${proxy.url}/api/items/${i}`, { agent, headers: { cookie } }, (res) => {
                  let body = '';
                  res.on('data', (chunk: Buffer) => (body += chunk.toString()));
                  res.on('end', () => resolve({ status: res.statusCode ?? 0, body, token: cookieValue(res as never, 'auth-token') }));
                })
                .on('error', reject);
            }),
        ),
      );
      expect(api.refreshCalls()).toBe(1);
      const forwarded = api.calls.filter((call) => call.path.startsWith('/items/'));
      expect(forwarded).toHaveLength(20);
      const newToken = forwarded[0]?.token;
      expect(forwarded.every((call) => call.token === newToken && api.valid.has(newToken ?? ''))).toBe(true);
      expect(answers.every((answer) => answer.status === 200 && answer.token === newToken)).toBe(true);
    } finally {
      agent.destroy();
    }
  });

  it('reuses a rotation for a request that still carries the old refresh token just after it', async () => {
    const cookie = `auth-token=${accessToken('old', -5)}; refresh-token=refresh-gen0`;
    const first = await request(proxy.url).get('/api/one').set('cookie', cookie);
    const late = await request(proxy.url).get('/api/two').set('cookie', cookie);
    expect(api.refreshCalls()).toBe(1);
    expect(late.status).toBe(200);
    expect(late.body.token).toBe(first.body.token);
    expect(cookieValue(late, 'refresh-token')).toBe('refresh-gen1');
  });

  it('a refused refresh clears both cookies and answers 401 session_expired', async () => {
    api.mode = 'refuse';
    const res = await request(proxy.url)
      .get('/api/items')
      .set('cookie', `auth-token=${accessToken('old', -5)}; refresh-token=refresh-gen0`);
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ error: { code: 'session_expired', message: expect.any(String) } });
    expect(cookiesOf(res)).toEqual([
      'auth-token=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0',
      'refresh-token=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0',
    ]);
    expect(api.calls.map((call) => call.path)).toEqual(['/refresh']);
  });

  it('an upstream 500 during refresh gives 503 refresh_unavailable and keeps the cookies', async () => {
    api.mode = 'error';
    const res = await request(proxy.url)
      .get('/api/items')
      .set('cookie', `auth-token=${accessToken('old', -5)}; refresh-token=refresh-gen0`);
    expect(res.status).toBe(503);
    expect(res.body).toEqual({ error: { code: 'refresh_unavailable', message: expect.any(String) } });
    expect(res.headers['set-cookie']).toBeUndefined();
  });

  it('an upstream that is down during refresh gives 502 and keeps the cookies', async () => {
    const down = await listen(() => {});
    await down.close();
    const offline = await startProxy({ apiUrl: down.url });
    try {
      const res = await request(offline.url)
        .get('/api/items')
        .set('cookie', `auth-token=${accessToken('old', -5)}; refresh-token=r0`);
      expect(res.status).toBe(502);
      expect(res.body.error.code).toBe('upstream_unavailable');
      expect(res.headers['set-cookie']).toBeUndefined();
    } finally {
      await offline.close();
    }
  });
});

describe('refresh after an upstream 401', () => {
  it('refreshes once and retries a body-less request once', async () => {
    // A token the proxy thinks is fine (not a JWT), but the upstream has revoked.
    const res = await request(proxy.url).get('/api/items?x=1').set('cookie', 'auth-token=revoked-opaque; refresh-token=refresh-gen0');
    expect(res.status).toBe(200);
    expect(api.calls.map((call) => call.path)).toEqual(['/items?x=1', '/refresh', '/items?x=1']);
    expect(api.calls[2]?.token).toBe(cookieValue(res, 'auth-token'));
  });

  it('retries DELETE without a body too', async () => {
    const res = await request(proxy.url)
      .delete('/api/items/1')
      .set(same)
      .set('cookie', 'auth-token=revoked-opaque; refresh-token=refresh-gen0');
    expect(res.status).toBe(200);
    expect(api.refreshCalls()).toBe(1);
  });

  it('never replays a streamed body: a POST gets the 401 as it is', async () => {
    const res = await request(proxy.url)
      .post('/api/items')
      .set(same)
      .set('cookie', 'auth-token=revoked-opaque; refresh-token=refresh-gen0')
      .send({ title: 'x' });
    expect(res.status).toBe(401);
    expect(api.refreshCalls()).toBe(0);
  });

  it('passes a second 401 through (one retry only)', async () => {
    api.valid.clear();
    const original = api.valid.add.bind(api.valid);
    api.valid.add = () => api.valid; // the refreshed token is refused too
    const res = await request(proxy.url).get('/api/items').set('cookie', 'auth-token=revoked-opaque; refresh-token=refresh-gen0');
    api.valid.add = original;
    expect(res.status).toBe(401);
    expect(api.calls.map((call) => call.path)).toEqual(['/items', '/refresh', '/items']);
  });

  it('without a refresh token, a 401 passes through untouched', async () => {
    const res = await request(proxy.url).get('/api/items').set('cookie', 'auth-token=revoked-opaque');
    expect(res.status).toBe(401);
    expect(res.text).toBe('{"error":"unauthorized"}');
    expect(api.refreshCalls()).toBe(0);
  });
});

describe('GET /api/session', () => {
  it('answers authenticated with expiresAt, never a token', async () => {
    const token = accessToken('s', 600);
    const res = await request(proxy.url).get('/api/session').set('cookie', `auth-token=${token}`);
    expect(res.status).toBe(200);
    expect(res.headers['cache-control']).toBe('private, no-store');
    expect(res.body).toEqual({ authenticated: true, expiresAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) });
    expect(Math.abs(Date.parse(res.body.expiresAt) / 1000 - (now() + 600))).toBeLessThan(5);
    expect(res.text).not.toContain(token);
    expect(api.calls).toEqual([]);
  });

  it('answers unauthenticated without cookies', async () => {
    const res = await request(proxy.url).get('/api/session');
    expect(res.body).toEqual({ authenticated: false, expiresAt: null });
  });

  it('refreshes when needed and sets the new cookies', async () => {
    const res = await request(proxy.url).get('/api/session').set('cookie', 'refresh-token=refresh-gen0');
    expect(res.body.authenticated).toBe(true);
    expect(cookieValue(res, 'refresh-token')).toBe('refresh-gen1');
    expect(res.text).not.toContain('gen1');
  });

  it('a refused refresh answers unauthenticated and clears the cookies', async () => {
    api.mode = 'refuse';
    const res = await request(proxy.url).get('/api/session').set('cookie', 'refresh-token=refresh-gen0');
    expect(res.body).toEqual({ authenticated: false, expiresAt: null });
    expect(cookiesOf(res).every((cookie) => cookie.endsWith('Max-Age=0'))).toBe(true);
  });

  it('answers 405 to POST', async () => {
    const res = await request(proxy.url).post('/api/session').set(same);
    expect(res.status).toBe(405);
    expect(res.headers.allow).toBe('GET, HEAD');
  });
});

describe('logout with a refresh token', () => {
  it('tells the upstream the refresh token too, and clears both cookies', async () => {
    const withLogout = await startProxy({ apiUrl: api.url, logout: { upstreamPath: '/logout' } });
    try {
      const res = await request(withLogout.url).post('/api/logout').set(same).set('cookie', 'auth-token=a1; refresh-token=r1');
      expect(res.status).toBe(200);
      expect(api.calls).toEqual([{ path: '/logout', token: 'a1', body: '{"refreshToken":"r1"}' }]);
      expect(cookiesOf(res)).toHaveLength(2);
    } finally {
      await withLogout.close();
    }
  });
});

describe('server-lib refreshes too', () => {
  function fakeContext(cookie: string) {
    const req = new http.IncomingMessage(new net.Socket());
    req.headers = { cookie, host: 'app.test' };
    return { req, res: new http.ServerResponse(req) };
  }

  it('createServerApi refreshes before calling and sets the new cookies on ctx.res', async () => {
    const ctx = fakeContext(`auth-token=${accessToken('old', -5)}; refresh-token=refresh-gen0`);
    const api2 = createServerApi(ctx, { apiUrl: api.url });
    const { data } = await api2.get<{ token: string }>('/me');
    expect(api.refreshCalls()).toBe(1);
    const setCookies = ctx.res.getHeader('set-cookie') as string[];
    expect(setCookies.map((cookie) => cookie.split('=')[0])).toEqual(['auth-token', 'refresh-token']);
    expect(setCookies[0]).toContain(data.token);
  });

  it('getSession answers like /api/session and sets cookies on ctx.res', async () => {
    const ctx = fakeContext('refresh-token=refresh-gen0');
    await expect(getSession(ctx, { apiUrl: api.url })).resolves.toEqual({ authenticated: true, expiresAt: expect.any(String) });
    expect((ctx.res.getHeader('set-cookie') as string[]).length).toBe(2);
    api.mode = 'refuse';
    const refused = fakeContext('refresh-token=other');
    await expect(getSession(refused, { apiUrl: api.url })).resolves.toEqual({ authenticated: false, expiresAt: null });
    expect(refused.res.getHeader('set-cookie')).toEqual([
      'auth-token=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0',
      'refresh-token=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0',
    ]);
  });
});
