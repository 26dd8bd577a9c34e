import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import net from 'node:net';
import request from 'supertest';
import { parseProxiedTarget } from '../../proxy';
import { fakeJwt, listen, rawRequest, readBody, startProxy, type RunningServer } from '../helpers/servers';
import { expectNoTokenLeak } from './leaks';

// What the outside pass after the first fixes found: a quadratic path regex, junk refresh cookies
// starving real renewals, an upstream status that crashed the process, personal answers a shared cache
// could keep, the old session token sent to the login endpoint, and dot segments in disguise.

const now = () => Math.floor(Date.now() / 1000);
const same = { 'sec-fetch-site': 'same-origin' };
const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

interface UpstreamCall {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}
type Route = (call: UpstreamCall, res: ServerResponse) => void | Promise<void>;

let upstream: RunningServer;
let calls: UpstreamCall[] = [];
let route: Route;

beforeAll(async () => {
  upstream = await listen(async (req, res) => {
    const call = { path: req.url ?? '', headers: req.headers, body: (await readBody(req)).toString() };
    calls.push(call);
    await route(call, res);
  });
});
beforeEach(() => {
  calls = [];
});
afterAll(() => upstream.close());

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

describe('route keys in linear time', () => {
  // The trailing-dot regexes had no start anchor: 16,000 dots held the event loop for ~0.5 s, and this
  // input (past any request line, so only reachable here) for minutes.
  it('keys a segment of 200,000 dots between two letters, and 200,000 decoded spaces, within the test timeout', () => {
    // `.b` is read as an extension and the dots before it as trailing dots: the key is `/a`, as before.
    const dots = parseProxiedTarget(`/api/a${'.'.repeat(200_000)}b`, '/api');
    expect(typeof dots === 'string' ? dots : dots.routeKey).toBe('/a');
    const spaces = parseProxiedTarget(`/api/a${'%20'.repeat(200_000)}b`, '/api');
    expect(typeof spaces === 'string' ? spaces : spaces.routeKey).toBe(`/a${' '.repeat(200_000)}b`);
  }, 5_000);
});

describe('dot segments in disguise', () => {
  it.each(['/api/...', '/api/..%20', '/api/.%20', '/api/%20..', '/api/x/.%09.', '/api/%ef%bc%8e%ef%bc%8e/admin', '/api/%e2%80%a5/admin', '/api/..%20;x/admin'])(
    '%s is 400 bad_path and never reaches the upstream',
    async (path) => {
      route = (_call, res) => json(res, 200, {});
      const proxy = await startProxy({ apiUrl: `${upstream.url}/v1` });
      try {
        const res = await rawRequest(proxy.url, 'GET', path);
        expect(res.status).toBe(400);
        expect(JSON.parse(res.body.toString())).toEqual({ error: { code: 'bad_path', message: expect.any(String) } });
        expect(calls).toEqual([]);
      } finally {
        await proxy.close();
      }
    },
  );

  it('still forwards names that only contain dots among other characters: /api/v1.2/file.tar.gz', async () => {
    route = (call, res) => json(res, 200, { path: call.path });
    const proxy = await startProxy({ apiUrl: upstream.url });
    try {
      const res = await rawRequest(proxy.url, 'GET', '/api/v1.2/file.tar.gz');
      expect(res.status).toBe(200);
      expect(JSON.parse(res.body.toString())).toEqual({ path: '/v1.2/file.tar.gz' });
    } finally {
      await proxy.close();
    }
  });
});

describe('junk refresh cookies cannot starve real renewals', () => {
  it('a refresh token this process issued renews while junk refresh tokens fill the budget for unknown ones', async () => {
    const real = `real-refresh-${process.pid}-${Date.now()}`;
    const renewed = fakeJwt({ sub: 'ada', exp: now() + 600 });
    route = async (call, res) => {
      if (call.path === '/login') return json(res, 200, { authToken: fakeJwt({ sub: 'ada', exp: now() + 600 }), refreshToken: real });
      const presented = (JSON.parse(call.body) as { refreshToken: string }).refreshToken;
      if (presented === real) return json(res, 200, { authToken: renewed, refreshToken: `${real}-2` });
      // Junk: the token endpoint is slow to refuse it, so the junk refreshes stay in flight.
      await delay(400);
      json(res, 401, { error: 'invalid_grant' });
    };
    const proxy = await startProxy({ apiUrl: upstream.url, refresh: { maxConcurrent: 2 } });
    try {
      const login = await request(proxy.url).post('/api/login').set(same).send({});
      expect(login.status).toBe(200);
      // `.then` sends the request now (supertest waits for it); both junk refreshes are then in flight.
      const junk = [1, 2].map((i) => request(proxy.url).get('/api/session').set('cookie', `refresh-token=junk-${i}-${Date.now()}`).then((answer) => answer));
      await delay(100);
      const third = await request(proxy.url).get('/api/session').set('cookie', `refresh-token=junk-3-${Date.now()}`);
      expect(third.status).toBe(503);
      expect(third.body.error.code).toBe('refresh_unavailable');
      const user = await request(proxy.url).get('/api/session').set('cookie', `refresh-token=${real}`);
      expect(user.status).toBe(200);
      expect(user.body).toEqual({ authenticated: true, expiresAt: expect.any(String) });
      expect(user.headers['set-cookie']?.[0]).toContain(`auth-token=${renewed};`);
      for (const answer of await Promise.all(junk)) expect(answer.body).toEqual({ authenticated: false, expiresAt: null });
      expectNoTokenLeak(real, proxy.logger, user, third);
    } finally {
      await proxy.close();
    }
  });

  it('logs a flood of refused refresh tokens once per 10 s, with the count held back, not once per token', async () => {
    route = (_call, res) => json(res, 401, { error: 'invalid_grant' });
    const proxy = await startProxy({ apiUrl: upstream.url });
    try {
      for (let i = 0; i < 30; i++) {
        const res = await request(proxy.url).get('/api/session').set('cookie', `refresh-token=flood-${i}-${Date.now()}`);
        expect(res.body).toEqual({ authenticated: false, expiresAt: null });
      }
      expect(calls).toHaveLength(30);
      const refusals = proxy.logger.lines.filter((line) => line.includes('refresh refused'));
      // The throttle is per process: an earlier test may have opened the window, so 0 or 1 lines here.
      expect(refusals.length).toBeLessThanOrEqual(1);
    } finally {
      await proxy.close();
    }
  });
});

describe('an upstream status Node cannot send', () => {
  let raw: net.Server;
  let rawUrl: string;
  let status = '099';
  beforeAll(async () => {
    raw = net.createServer((socket) => {
      socket.once('data', () => socket.end(`HTTP/1.1 ${status} Weird\r\nContent-Length: 2\r\n\r\nhi`));
    });
    await new Promise<void>((resolve) => raw.listen(0, '127.0.0.1', resolve));
    rawUrl = `http://127.0.0.1:${(raw.address() as net.AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => raw.close(() => resolve())));

  it.each(['099', '000', '010'])('an upstream answering %s gets 502 bad_upstream_response, and the process keeps serving', async (code) => {
    status = code;
    const proxy = await startProxy({ apiUrl: rawUrl });
    try {
      const res = await rawRequest(proxy.url, 'GET', '/api/weird');
      expect(res.status).toBe(502);
      expect(JSON.parse(res.body.toString())).toEqual({ error: { code: 'bad_upstream_response', message: expect.any(String) } });
      status = '200';
      expect((await rawRequest(proxy.url, 'GET', '/api/after')).status).toBe(200);
    } finally {
      await proxy.close();
    }
  });
});

describe('personal answers and shared caches', () => {
  const TOKEN = 'personal-token-1234';
  it.each([
    ['public, max-age=60', 'auth-token', 'public, max-age=60', 'Cookie'],
    ['max-age=60', 'Accept-Encoding, auth-token', 'private, max-age=60', 'Accept-Encoding, Cookie'],
    ['', 'Authorization', 'private', 'Cookie'],
    ['s-maxage=30', 'Cookie, auth-token', 's-maxage=30', 'Cookie'],
    ['private, max-age=5', '', 'private, max-age=5', ''],
    ['no-store', '', 'no-store', ''],
  ])('an answer to a request with the token: Cache-Control "%s", Vary "%s" → "%s", "%s"', async (cacheControl, vary, expectedCache, expectedVary) => {
    route = (_call, res) => json(res, 200, { mine: true }, { ...(cacheControl ? { 'cache-control': cacheControl } : {}), ...(vary ? { vary } : {}) });
    const proxy = await startProxy({ apiUrl: upstream.url });
    try {
      const res = await rawRequest(proxy.url, 'GET', '/api/me', { cookie: `auth-token=${TOKEN}` });
      expect(res.status).toBe(200);
      expect(res.headers['cache-control']).toBe(expectedCache);
      expect(res.headers.vary ?? '').toBe(expectedVary);
    } finally {
      await proxy.close();
    }
  });

  it('an anonymous answer keeps the upstream caching headers exactly', async () => {
    route = (_call, res) => json(res, 200, {}, { 'cache-control': 'max-age=60', vary: 'auth-token' });
    const proxy = await startProxy({ apiUrl: upstream.url });
    try {
      const res = await rawRequest(proxy.url, 'GET', '/api/catalog');
      expect(res.headers['cache-control']).toBe('max-age=60');
      expect(res.headers.vary).toBe('auth-token');
    } finally {
      await proxy.close();
    }
  });
});

describe('the old session at login', () => {
  const OLD = 'old-session-token-5678';
  const OLD_REFRESH = 'old-refresh-token-5678';
  it('sends the login endpoint no token, and scrubs the old tokens from its answer (headers and body)', async () => {
    route = (call, res) =>
      json(res, 200, { authToken: 'new-session-token-1', previous: OLD, note: `was ${OLD_REFRESH}`, user: { id: 1 } }, { 'x-old': OLD, 'x-seen': String(call.headers['auth-token'] ?? 'none') });
    const proxy = await startProxy({ apiUrl: upstream.url });
    try {
      const res = await request(proxy.url).post('/api/login').set(same).set('cookie', `auth-token=${OLD}; refresh-token=${OLD_REFRESH}`).send({});
      expect(res.status).toBe(200);
      expect(calls[0]?.headers['auth-token']).toBeUndefined();
      expect(res.headers['x-seen']).toBe('none');
      expect(res.headers['x-old']).toBeUndefined();
      expect(res.text).toBe('{"user":{"id":1}}');
      expectNoTokenLeak(OLD, proxy.logger, res);
      expectNoTokenLeak(OLD_REFRESH, proxy.logger, res);
    } finally {
      await proxy.close();
    }
  });

  it('an upstream login refusal that echoes a header with the old token does not pass it on', async () => {
    route = (_call, res) => json(res, 401, { error: 'bad credentials' }, { 'www-authenticate': `Bearer old="${OLD}"` });
    const proxy = await startProxy({ apiUrl: upstream.url });
    try {
      const res = await request(proxy.url).post('/api/login').set(same).set('cookie', `auth-token=${OLD}`).send({});
      expect(res.status).toBe(401);
      expect(res.headers['www-authenticate']).toBeUndefined();
      expect(res.headers['set-cookie']).toBeUndefined();
    } finally {
      await proxy.close();
    }
  });
});
