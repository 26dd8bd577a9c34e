import http from 'node:http';
import net from 'node:net';
import nock from 'nock';
import request from 'supertest';
import type { ProxyReqContext } from '../../proxy/hooks';
import { ProxyConfigError, type ApiProxyOptions } from '../../proxy/index';
import { resolveOptions } from '../../proxy/resolve-options';
import { createServerApi } from '../../server-lib';
import { setupNock } from '../helpers/nock';
import { fakeJwt, listen, recordingLogger, startProxy } from '../helpers/servers';

const API = 'http://api.test';
const BILLING = 'http://billing.test';
const ADMIN = 'https://admin.test:8443';
const TOKEN = 'routed-session-token-77';
const EXPIRED = fakeJwt({ sub: 'u1', exp: Math.floor(Date.now() / 1000) - 60 });

const routes: ApiProxyOptions['routes'] = [
  { pathPrefix: '/billing', url: `${BILLING}/v2` },
  { pathPrefix: '/billing/admin/', url: ADMIN },
  { pathPrefix: '/public', token: 'none' },
  { pathPrefix: '/weather', url: `${BILLING}/weather`, token: 'none' },
  { pathPrefix: '/account', token: 'required' },
];
const options: ApiProxyOptions = { apiUrl: `${API}/v1`, routes };

setupNock();

async function withProxy(extra: ApiProxyOptions, run: (proxy: Awaited<ReturnType<typeof startProxy>>) => Promise<void>) {
  const proxy = await startProxy({ ...options, ...extra });
  try {
    await run(proxy);
  } finally {
    await proxy.close();
  }
}

const noHeader = (value: string | undefined) => value === undefined;

describe('a route with its own url', () => {
  it("goes to that upstream with the route's prefix stripped, the query kept, its Host and the session's token", async () => {
    nock(`${BILLING}/v2`)
      .get('/invoices?x=1&y=%20')
      .matchHeader('auth-token', TOKEN)
      .matchHeader('host', 'billing.test')
      .reply(200, { invoices: [] });
    nock(BILLING).get('/v2').reply(200, { root: true });
    await withProxy({}, async (proxy) => {
      const res = await request(proxy.url).get('/api/billing/invoices?x=1&y=%20').set('cookie', `auth-token=${TOKEN}`);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ invoices: [] });
      expect(res.headers['cache-control']).toBe('private');
      expect((await request(proxy.url).get('/api/billing')).body).toEqual({ root: true });
    });
  });

  it('takes the longest matching prefix, and leaves /billingx to API_URL', async () => {
    nock(ADMIN).get('/users/3').matchHeader('host', 'admin.test:8443').reply(200, { admin: true });
    nock(`${BILLING}/v2`).get('/admins').reply(200, { billing: true });
    nock(API).get('/v1/billingx/1').matchHeader('auth-token', TOKEN).reply(200, { main: true });
    await withProxy({}, async (proxy) => {
      const cookie = `auth-token=${TOKEN}`;
      expect((await request(proxy.url).get('/api/billing/admin/users/3').set('cookie', cookie)).body).toEqual({ admin: true });
      expect((await request(proxy.url).get('/api/billing/admins').set('cookie', cookie)).body).toEqual({ billing: true });
      expect((await request(proxy.url).get('/api/billingx/1').set('cookie', cookie)).body).toEqual({ main: true });
    });
  });

  it('sends paths the table does not name to API_URL, with the token, as without a table', async () => {
    nock(API).get('/v1/items/7').matchHeader('auth-token', TOKEN).matchHeader('host', 'api.test').reply(200, { id: 7 });
    await withProxy({}, async (proxy) => {
      expect((await request(proxy.url).get('/api/items/7').set('cookie', `auth-token=${TOKEN}`)).body).toEqual({ id: 7 });
    });
  });

  it("reuses one keep-alive connection to the route's upstream across requests", async () => {
    // nock's patch of node:http gives every request a fresh socket: this one runs on the real client.
    nock.restore();
    const second = await listen((req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ path: req.url, host: req.headers.host }));
    });
    let connections = 0;
    second.server.on('connection', () => (connections += 1));
    try {
      await withProxy({ routes: [{ pathPrefix: '/reports', url: `${second.url}/r` }] }, async (proxy) => {
        for (const n of [1, 2, 3]) {
          const res = await request(proxy.url).get(`/api/reports/${n}`);
          expect(res.body).toEqual({ path: `/r/${n}`, host: `127.0.0.1:${second.port}` });
        }
      });
      expect(connections).toBe(1);
    } finally {
      await second.close();
      nock.activate();
    }
  });

  it("maps a Location on its own upstream back under its prefix, and drops any naming an upstream's address", async () => {
    const redirect = (location: string) => nock(`${BILLING}/v2`).get('/go').reply(302, '', { location });
    await withProxy({}, async (proxy) => {
      const cases: Array<[string, string | undefined]> = [
        [`${BILLING}/v2/invoices/9?p=1`, '/api/billing/invoices/9?p=1'],
        ['https://billing.test/v2/invoices/9', '/api/billing/invoices/9'],
        ['/v2/invoices/10', '/api/billing/invoices/10'],
        [`${API}/v1/items/1`, '/api/items/1'],
        // On the billing upstream's host but outside what the app can reach.
        [`${BILLING}/internal/metrics`, undefined],
        // Under /v2, but /api/billing/admin/… is another route's: no link to it from here.
        [`${BILLING}/v2/admin/users`, undefined],
        [`${API}/private`, undefined],
        ['https://idp.example/authorize', 'https://idp.example/authorize'],
      ];
      for (const [location, expected] of cases) {
        redirect(location);
        const res = await request(proxy.url).get('/api/billing/go').redirects(0);
        expect([location, res.status, res.headers.location]).toEqual([location, 302, expected]);
      }
    });
  });

  it("drops any other header naming a route's upstream, from any route's answer", async () => {
    nock(API).get('/v1/items').reply(200, {}, { 'x-upstream': 'http://billing.test/v2/x', 'x-fine': 'ok' });
    await withProxy({}, async (proxy) => {
      const res = await request(proxy.url).get('/api/items');
      expect(res.headers['x-upstream']).toBeUndefined();
      expect(res.headers['x-fine']).toBe('ok');
    });
  });

  it('still applies `allow` to the path after /api, before routing', async () => {
    await withProxy({ allow: [{ pathPrefix: '/items' }] }, async (proxy) => {
      const res = await request(proxy.url).get('/api/billing/invoices').set('cookie', `auth-token=${TOKEN}`);
      expect(res.status).toBe(403);
      expect(res.body.error.code).toBe('path_not_allowed');
    });
  });

  it("tells on.proxyReq the route's prefix, with the path as the client sent it", async () => {
    nock(`${BILLING}/v2`).get('/invoices?x=1').matchHeader('x-request-id', 'r1').reply(200, {});
    const seen: Array<Omit<ProxyReqContext, 'headers'>> = [];
    const on = {
      proxyReq: (ctx: ProxyReqContext) => {
        seen.push({ method: ctx.method, path: ctx.path, route: ctx.route });
        ctx.headers['x-request-id'] = 'r1';
      },
    };
    await withProxy({ on }, async (proxy) => {
      expect((await request(proxy.url).get('/api/billing/invoices?x=1')).status).toBe(200);
    });
    expect(seen).toEqual([{ method: 'GET', path: '/billing/invoices?x=1', route: '/billing' }]);
  });
});

describe("token: 'none'", () => {
  it('never sends the token, even with a session, and the answer is not marked personal', async () => {
    nock(API).get('/v1/public/news').matchHeader('auth-token', noHeader).matchHeader('authorization', noHeader).reply(200, []);
    nock(`${BILLING}/weather`).get('/today').matchHeader('auth-token', noHeader).reply(200, { sun: true });
    await withProxy({}, async (proxy) => {
      const res = await request(proxy.url).get('/api/public/news').set('cookie', `auth-token=${TOKEN}`);
      expect(res.status).toBe(200);
      expect(res.headers['cache-control']).toBeUndefined();
      expect((await request(proxy.url).get('/api/weather/today').set('cookie', `auth-token=${TOKEN}`)).body).toEqual({ sun: true });
    });
  });

  it('starts no refresh for an expired token, and does not retry after a 401', async () => {
    const refresh = nock(API).post('/v1/refresh').reply(200, { authToken: 'renewed-token-123', refreshToken: 'next-refresh-1' });
    nock(API).get('/v1/public/feed').matchHeader('auth-token', noHeader).reply(401, { error: 'nope' });
    await withProxy({}, async (proxy) => {
      const res = await request(proxy.url).get('/api/public/feed').set('cookie', `auth-token=${EXPIRED}; refresh-token=refresh-1`);
      expect(res.status).toBe(401);
      expect(res.body).toEqual({ error: 'nope' });
      expect(res.headers['set-cookie']).toBeUndefined();
    });
    expect(refresh.isDone()).toBe(false);
    expect(nock.pendingMocks()).toEqual(['POST http://api.test:80/v1/refresh']);
    nock.cleanAll();
  });
});

describe("token: 'required'", () => {
  it('answers 401 unauthenticated without a session, and the upstream is never asked', async () => {
    const upstream = nock(API).get(/.*/).reply(200, {});
    await withProxy({}, async (proxy) => {
      for (const cookie of ['', `auth-token=${EXPIRED}`]) {
        const res = await request(proxy.url).get('/api/account/me').set('cookie', cookie);
        expect(res.status).toBe(401);
        expect(res.text).toBe('{"error":{"code":"unauthenticated","message":"Sign in first."}}');
      }
    });
    expect(upstream.isDone()).toBe(false);
    nock.cleanAll();
  });

  it('sends the token when there is a session, after a refresh when the access token has expired', async () => {
    nock(API).post('/v1/refresh').reply(200, { authToken: 'renewed-token-123', refreshToken: 'next-refresh-1' });
    nock(API).get('/v1/account/me').matchHeader('auth-token', 'renewed-token-123').reply(200, { me: 1 });
    nock(API).get('/v1/account/me').matchHeader('auth-token', TOKEN).reply(200, { me: 2 });
    await withProxy({}, async (proxy) => {
      const renewed = await request(proxy.url).get('/api/account/me').set('cookie', `auth-token=${EXPIRED}; refresh-token=refresh-1`);
      expect(renewed.body).toEqual({ me: 1 });
      expect(renewed.headers['set-cookie']).toEqual([expect.stringMatching(/^auth-token=renewed-token-123;/), expect.any(String)]);
      expect((await request(proxy.url).get('/api/account/me').set('cookie', `auth-token=${TOKEN}`)).body).toEqual({ me: 2 });
    });
  });
});

describe('server-lib routes as the browser does', () => {
  function fakeContext(cookie?: string) {
    const req = new http.IncomingMessage(new net.Socket());
    req.headers = cookie ? { cookie, host: 'app.test' } : { host: 'app.test' };
    return { req, res: new http.ServerResponse(req) };
  }
  const serverOptions = { ...options, logger: recordingLogger() };

  it('sends /billing/… to the billing upstream with the prefix stripped and the token, /public/… without it', async () => {
    nock(`${BILLING}/v2`).get('/invoices?x=1').matchHeader('auth-token', TOKEN).matchHeader('host', 'billing.test').reply(200, [1]);
    nock(API).get('/v1/public/news').matchHeader('auth-token', noHeader).reply(200, [2]);
    nock(API).get('/v1/items').matchHeader('auth-token', TOKEN).reply(200, [3]);
    const api = createServerApi(fakeContext(`auth-token=${TOKEN}`), serverOptions);
    await expect(api.get('/billing/invoices?x=1')).resolves.toEqual({ status: 200, data: [1] });
    await expect(api.get('/public/news')).resolves.toEqual({ status: 200, data: [2] });
    await expect(api.get('/items')).resolves.toEqual({ status: 200, data: [3] });
  });

  it("throws unauthorized for a 'required' route without a session, without calling the API", async () => {
    const api = createServerApi(fakeContext(), serverOptions);
    await expect(api.get('/account/me')).rejects.toMatchObject({ code: 'unauthorized', status: 401, sessionEnded: false });
  });

  it("refreshes nothing for a 'none' route", async () => {
    const refresh = nock(API).post('/v1/refresh').reply(200, { authToken: 'renewed-token-123' });
    nock(API).get('/v1/public/news').matchHeader('auth-token', noHeader).reply(200, []);
    const api = createServerApi(fakeContext(`auth-token=${EXPIRED}; refresh-token=refresh-2`), serverOptions);
    await expect(api.get('/public/news')).resolves.toEqual({ status: 200, data: [] });
    expect(refresh.isDone()).toBe(false);
    nock.cleanAll();
  });
});

describe('configuration', () => {
  it.each([
    [{ routes: 'billing' }, /^routes must be an array/],
    [{ routes: [{ pathPrefix: 'billing' }] }, /^routes\[0\]\.pathPrefix must be a path/],
    [{ routes: [{ pathPrefix: '/' }] }, /^routes\[0\]\.pathPrefix must be a path/],
    [{ routes: [{ pathPrefix: '/a/../b' }] }, /^routes\[0\]\.pathPrefix must be a path/],
    [{ routes: [{ pathPrefix: '/a' }, { pathPrefix: '/a/' }] }, /^routes\[1\]\.pathPrefix "\/a" repeats routes\[0\]\.pathPrefix/],
    [{ routes: [{ pathPrefix: '/Login' }] }, /^routes\[0\]\.pathPrefix "\/Login" is login\.path/],
    [{ routes: [{ pathPrefix: '/x' }, { pathPrefix: '/logout' }] }, /^routes\[1\]\.pathPrefix "\/logout" is logout\.path/],
    [{ routes: [{ pathPrefix: '/session' }] }, /^routes\[0\]\.pathPrefix "\/session" is session\.path/],
    [{ routes: [{ pathPrefix: '/a', token: 'optional' }] }, /^routes\[0\]\.token must be 'user', 'none' or 'required'/],
    [{ routes: [{ pathPrefix: '/a', url: 'ftp://files.test' }] }, /^routes\[0\]\.url must start with http/],
    [{ routes: [{ pathPrefix: '/a', url: 'https://user:pw@billing.test' }] }, /^routes\[0\]\.url must not carry credentials/],
    [{ routes: [{ pathPrefix: '/a', url: 'https://billing.test/v2?key=1' }] }, /^routes\[0\]\.url must not carry a query/],
    [{ routes: [{ pathPrefix: '/a', url: 'not a url' }] }, /^routes\[0\]\.url is not a valid URL/],
  ])('refuses %j with a ProxyConfigError naming the entry', (extra, message) => {
    const resolve = () => resolveOptions({ apiUrl: API, ...(extra as ApiProxyOptions) });
    expect(resolve).toThrow(ProxyConfigError);
    expect(resolve).toThrow(message);
  });

  it('accepts /session as a route once the session endpoint is off', () => {
    expect(resolveOptions({ apiUrl: API, session: false, routes: [{ pathPrefix: '/session', token: 'none' }] }).routes.table).toHaveLength(
      1,
    );
  });
});
