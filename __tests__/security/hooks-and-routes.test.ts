import nock from 'nock';
import request from 'supertest';
import type { ProxyReqContext, ProxyResContext } from '../../proxy/hooks';
import type { ApiProxyOptions } from '../../proxy/index';
import { setupNock } from '../helpers/nock';
import { listen, readBody, startProxy, type RunningServer } from '../helpers/servers';

// An outside pass on hooks and the route table: Set-Cookie values that a comma-splitting server reads
// as two cookies, upstream addresses with a root dot or percent-encoded, route prefixes in another case,
// hooks that never settle or throw from getters, underscore twins of the session headers, a 204 from a hook.

const API = 'http://api.internal:4000';
const BILLING = 'http://billing.internal:8080';
const TOKEN = 'outside-pass-token-2718';
const INTERNAL_ERROR = '{"error":{"code":"internal_error","message":"Internal error."}}';

setupNock();

async function withProxy(options: ApiProxyOptions, run: (proxy: Awaited<ReturnType<typeof startProxy>>) => Promise<void>) {
  const proxy = await startProxy(options);
  try {
    await run(proxy);
  } finally {
    await proxy.close();
  }
}

describe('Set-Cookie values that hold a second cookie after a comma', () => {
  it.each([
    ['pref=1, auth-token=FORGED; Path=/; HttpOnly'],
    ['pref=1,auth-token=FORGED'],
    ['pref=1; Path=/, __Host-auth-token=FORGED; Path=/; Secure'],
  ])('are never passed on from the upstream (passUpstreamCookies): %s', async (setCookie) => {
    nock(`${API}/v1`)
      .get('/items')
      .reply(200, {}, { 'set-cookie': [setCookie, 'pref=2; Path=/'] });
    await withProxy({ apiUrl: `${API}/v1`, passUpstreamCookies: ['pref'] }, async (proxy) => {
      const res = await request(proxy.url).get('/api/items');
      expect(res.status).toBe(200);
      expect(res.headers['set-cookie']).toEqual(['pref=2; Path=/']);
    });
  });

  it('are dropped from what a proxyRes hook sets; a date in Expires is not mistaken for one', async () => {
    nock(`${API}/v1`).get('/items').reply(200, {});
    const on = {
      proxyRes: (ctx: ProxyResContext) => {
        ctx.headers['set-cookie'] = [
          'theme=dark, auth-token=FORGED-BY-HOOK; Path=/; HttpOnly',
          'theme=dark; Expires=Wed, 21 Oct 2037 07:28:00 GMT',
        ];
      },
    };
    await withProxy({ apiUrl: `${API}/v1`, on }, async (proxy) => {
      const res = await request(proxy.url).get('/api/items');
      expect(res.headers['set-cookie']).toEqual(['theme=dark; Expires=Wed, 21 Oct 2037 07:28:00 GMT']);
    });
  });
});

describe('upstream addresses with a root dot or percent-encoded', () => {
  const routes = [{ pathPrefix: '/billing', url: `${BILLING}/v2` }];
  it.each([
    ['location', `${BILLING.replace('internal', 'internal.')}/v2/x`, '/api/billing/x'],
    ['location', 'http://api.internal./v1/x', '/api/x'],
    ['location', '//billing.internal./v2/x', '/api/billing/x'],
    ['location', 'http://billing.internal%2e:8080/v2/x', '/api/billing/x'],
    ['content-location', 'https://BILLING.INTERNAL./v2/x', '/api/billing/x'],
    ['refresh', '0; url=http://billing.internal.:8080/v2/x', '0; url=/api/billing/x'],
    ['x-upstream', 'http://billing.internal.:8080/v2/x', undefined],
    ['x-upstream', 'http://api%2Einternal:4000/v1', undefined],
    ['x-upstream', 'http://billing.internal\t./v2', undefined],
  ])('%s: %s becomes %s', async (name, value, expected) => {
    nock(`${BILLING}/v2`)
      .get('/r')
      .reply(302, '', { [name]: value });
    await withProxy({ apiUrl: `${API}/v1`, routes }, async (proxy) => {
      const res = await request(proxy.url).get('/api/billing/r').redirects(0);
      expect(res.headers[name]).toBe(expected);
    });
  });
});

describe('route prefixes in another case', () => {
  let upstream: RunningServer;
  let seen: Array<{ url: string; token: string | undefined }>;
  beforeAll(async () => {
    upstream = await listen((req, res) => {
      void readBody(req).then(() => {
        seen.push({ url: req.url ?? '', token: req.headers['auth-token'] as string | undefined });
        res.end('{}');
      });
    });
  });
  beforeEach(() => {
    seen = [];
  });
  afterAll(() => upstream.close());
  const routes: ApiProxyOptions['routes'] = [
    { pathPrefix: '/account', token: 'required' },
    { pathPrefix: '/public', token: 'none' },
  ];

  it.each(['/api/Account/secret', '/api/ACCOUNT', '/api/aCcOuNt/x'])(
    "keep 'required': %s without a session is 401, the API not asked",
    async (path) => {
      await withProxy({ apiUrl: upstream.url, routes }, async (proxy) => {
        const res = await request(proxy.url).get(path);
        expect(res.status).toBe(401);
        expect(res.body.error.code).toBe('unauthenticated');
        expect(seen).toEqual([]);
      });
    },
  );

  it.each(['/api/PUBLIC/x', '/api/Public'])("keep 'none': %s never carries the token", async (path) => {
    await withProxy({ apiUrl: upstream.url, routes }, async (proxy) => {
      const res = await request(proxy.url).get(path).set('cookie', `auth-token=${TOKEN}`);
      expect(res.status).toBe(200);
      expect(seen).toEqual([{ url: path.slice(4), token: undefined }]);
    });
  });
});

describe('hooks that misbehave', () => {
  it('a proxyReq hook that never settles answers 500 within timeoutMs', async () => {
    nock(`${API}/v1`).get('/items').reply(200, {});
    const on = { proxyReq: () => new Promise<void>(() => undefined) };
    await withProxy({ apiUrl: `${API}/v1`, timeoutMs: 300, on }, async (proxy) => {
      const started = Date.now();
      const res = await request(proxy.url).get('/api/items');
      expect(res.status).toBe(500);
      expect(res.text).toBe(INTERNAL_ERROR);
      expect(Date.now() - started).toBeLessThan(2_000);
      expect(proxy.logger.lines).toContain('[next-bff-proxy] on.proxyReq hook failed: did not settle within timeoutMs');
    });
    nock.cleanAll();
  });

  it('a proxyRes hook that never settles answers 500 within timeoutMs and lets the upstream go', async () => {
    nock(`${API}/v1`).get('/items').reply(200, {});
    const on = { proxyRes: () => new Promise<void>(() => undefined) };
    await withProxy({ apiUrl: `${API}/v1`, timeoutMs: 300, on }, async (proxy) => {
      const res = await request(proxy.url).get('/api/items');
      expect(res.status).toBe(500);
      expect(res.text).toBe(INTERNAL_ERROR);
    });
  });

  it.each([
    [
      'proxyRes headers with a throwing getter',
      {
        proxyRes: (ctx: ProxyResContext) => {
          ctx.headers = Object.defineProperty({}, 'x-a', {
            enumerable: true,
            get() {
              throw new Error('boom');
            },
          });
        },
      },
    ],
    [
      'a proxyRes status with a throwing getter',
      {
        proxyRes: (ctx: ProxyResContext) => {
          Object.defineProperty(ctx, 'status', {
            get() {
              throw new Error('boom');
            },
          });
        },
      },
    ],
    [
      'a proxyReq error whose name getter throws',
      {
        proxyReq: () => {
          const err = new Error('boom');
          Object.defineProperty(err, 'name', {
            get() {
              throw new Error('again');
            },
          });
          throw err;
        },
      },
    ],
  ])('%s: 500 internal_error, and the process carries on', async (_case, on) => {
    nock(`${API}/v1`).get('/items').reply(200, {}).persist();
    await withProxy({ apiUrl: `${API}/v1`, on }, async (proxy) => {
      const res = await request(proxy.url).get('/api/items');
      expect(res.status).toBe(500);
      expect(res.text).toBe(INTERNAL_ERROR);
    });
    nock.cleanAll();
  });

  it("sets a 204 without the upstream's Content-Length", async () => {
    nock(`${API}/v1`).delete('/items/1').reply(200, { deleted: true });
    const on = {
      proxyRes: (ctx: ProxyResContext) => {
        ctx.status = 204;
      },
    };
    await withProxy({ apiUrl: `${API}/v1`, on }, async (proxy) => {
      const res = await request(proxy.url).delete('/api/items/1').set('sec-fetch-site', 'same-origin');
      expect(res.status).toBe(204);
      expect(res.headers['content-length']).toBeUndefined();
    });
  });
});

describe('underscore twins of the session headers', () => {
  it('are not forwarded from the client, nor from a proxyReq hook', async () => {
    let headers: Record<string, unknown> = {};
    nock(`${API}/v1`)
      .get('/items')
      .reply(200, function () {
        headers = this.req.headers;
        return {};
      });
    const on = {
      proxyReq: (ctx: ProxyReqContext) => {
        ctx.headers.auth_token = 'forged-by-hook';
        ctx.headers.AUTHORIZATION_X = 'kept: not a twin';
      },
    };
    await withProxy({ apiUrl: `${API}/v1`, on }, async (proxy) => {
      await request(proxy.url)
        .get('/api/items')
        .set('auth_token', 'forged-by-client')
        .set('x_forwarded_for', '6.6.6.6')
        .set('cookie', `auth-token=${TOKEN}`);
    });
    expect(headers['auth-token']).toBe(TOKEN);
    expect(headers.auth_token).toBeUndefined();
    expect(headers.x_forwarded_for).toBeUndefined();
  });
});
