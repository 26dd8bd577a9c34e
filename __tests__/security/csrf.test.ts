import request from 'supertest';
import { listen, startProxy, type RunningServer } from '../helpers/servers';
import { expectNoTokenLeak } from './leaks';

// OWASP CSRF Prevention: Fetch Metadata first; without it, Origin (else Referer) must be the app's.
const TOKEN = 'csrf-session-token-31';
let upstream: RunningServer;
let upstreamCalls: string[];

beforeAll(async () => {
  upstream = await listen((req, res) => {
    upstreamCalls.push(`${req.method} ${req.url}`);
    res.setHeader('content-type', 'application/json');
    if (req.url === '/login') return void res.end(JSON.stringify({ authToken: TOKEN }));
    res.setHeader('access-control-allow-origin', 'https://evil.example');
    res.setHeader('access-control-allow-credentials', 'true');
    res.end(JSON.stringify({ ok: true }));
  });
});
beforeEach(() => {
  upstreamCalls = [];
});
afterAll(() => upstream.close());

async function withProxy(options: Parameters<typeof startProxy>[0], run: (proxy: Awaited<ReturnType<typeof startProxy>>) => Promise<void>) {
  const proxy = await startProxy({ apiUrl: upstream.url, ...options });
  try {
    await run(proxy);
  } finally {
    await proxy.close();
  }
}

function expectRefused(res: request.Response) {
  expect(res.status).toBe(403);
  expect(res.body).toEqual({ error: { code: 'csrf', message: expect.any(String) } });
  expect(res.headers['set-cookie']).toBeUndefined();
}

describe('CSRF defence (on by default)', () => {
  it.each(['POST', 'PUT', 'PATCH', 'DELETE'])(
    'refuses a cross-site %s that carries the session, without calling the API',
    async (method) => {
      await withProxy({}, async (proxy) => {
        const res = await request(proxy.url)
          [method.toLowerCase() as 'post']('/api/items')
          .set('cookie', `auth-token=${TOKEN}`)
          .set('sec-fetch-site', 'cross-site');
        expectRefused(res);
        expect(upstreamCalls).toEqual([]);
        expectNoTokenLeak(TOKEN, proxy.logger, res);
      });
    },
  );

  it('refuses same-site by default and accepts it with csrf.trustSameSite', async () => {
    await withProxy({}, async (proxy) => {
      expectRefused(await request(proxy.url).post('/api/items').set('cookie', `auth-token=${TOKEN}`).set('sec-fetch-site', 'same-site'));
    });
    await withProxy({ csrf: { trustSameSite: true } }, async (proxy) => {
      const res = await request(proxy.url).post('/api/items').set('cookie', `auth-token=${TOKEN}`).set('sec-fetch-site', 'same-site');
      expect(res.status).toBe(200);
    });
  });

  it.each(['same-origin', 'none'])('forwards Sec-Fetch-Site: %s', async (site) => {
    await withProxy({}, async (proxy) => {
      const res = await request(proxy.url).post('/api/items').set('cookie', `auth-token=${TOKEN}`).set('sec-fetch-site', site);
      expect(res.status).toBe(200);
      expect(upstreamCalls).toEqual(['POST /items']);
    });
  });

  it.each([
    ['an Origin equal to the app', (url: string) => ({ origin: url }), 200],
    ['an Origin of another site', () => ({ origin: 'https://evil.example' }), 403],
    ['an Origin of another port', (url: string) => ({ origin: url.replace(/:\d+$/, ':1') }), 403],
    ['Origin: null (sandboxed frame, data: URL)', () => ({ origin: 'null' }), 403],
    ['a Referer on the app', (url: string) => ({ referer: `${url}/profile?x=1` }), 200],
    ['a Referer of another site', () => ({ referer: 'https://evil.example/attack' }), 403],
    ['a Referer that is not a URL', () => ({ referer: 'not a url' }), 403],
    ['none of Sec-Fetch-Site, Origin, Referer', () => ({}), 403],
  ])('without Sec-Fetch-Site, judges %s', async (_name, headers, status) => {
    await withProxy({}, async (proxy) => {
      const res = await request(proxy.url).delete('/api/items/1').set('cookie', `auth-token=${TOKEN}`).set(headers(proxy.url));
      expect(res.status).toBe(status);
      expect(upstreamCalls).toHaveLength(status === 200 ? 1 : 0);
    });
  });

  it('checks login even without a session: a cross-site or header-less login is refused, no cookie set', async () => {
    await withProxy({}, async (proxy) => {
      const crossSite = await request(proxy.url).post('/api/login').set('sec-fetch-site', 'cross-site').send({ email: 'a', password: 'b' });
      expectRefused(crossSite);
      expectRefused(await request(proxy.url).post('/api/login').send({ email: 'a', password: 'b' }));
      expect(upstreamCalls).toEqual([]);
    });
  });

  it('checks logout: a forged logout leaves the session alone', async () => {
    await withProxy({}, async (proxy) => {
      const res = await request(proxy.url).post('/api/logout').set('cookie', `auth-token=${TOKEN}`).set('origin', 'https://evil.example');
      expectRefused(res);
    });
  });

  it('lets safe methods and session-less requests through (nothing to forge)', async () => {
    await withProxy({}, async (proxy) => {
      expect(
        (await request(proxy.url).get('/api/items').set('cookie', `auth-token=${TOKEN}`).set('sec-fetch-site', 'cross-site')).status,
      ).toBe(200);
      expect((await request(proxy.url).post('/api/public').set('sec-fetch-site', 'cross-site')).status).toBe(200);
    });
  });

  it('compares Origin with APP_ORIGIN when it is configured, not with the Host header', async () => {
    await withProxy({ csrf: { appOrigin: 'https://app.example.com' } }, async (proxy) => {
      const own = await request(proxy.url).post('/api/items').set('cookie', `auth-token=${TOKEN}`).set('origin', 'https://app.example.com');
      expect(own.status).toBe(200);
      const hostOnly = await request(proxy.url).post('/api/items').set('cookie', `auth-token=${TOKEN}`).set('origin', proxy.url);
      expectRefused(hostOnly);
    });
  });

  it('derives the origin from X-Forwarded-Host/-Proto only with trustProxy', async () => {
    const forwarded = { 'x-forwarded-host': 'app.example.com', 'x-forwarded-proto': 'https', origin: 'https://app.example.com' };
    await withProxy({ trustProxy: true }, async (proxy) => {
      expect((await request(proxy.url).post('/api/items').set('cookie', `auth-token=${TOKEN}`).set(forwarded)).status).toBe(200);
    });
    await withProxy({ trustProxy: false }, async (proxy) => {
      expectRefused(await request(proxy.url).post('/api/items').set('cookie', `auth-token=${TOKEN}`).set(forwarded));
    });
  });

  it('requires the csrf.requireHeader header on every request, GET included', async () => {
    await withProxy({ csrf: { requireHeader: { name: 'X-CSRF', value: '1' } } }, async (proxy) => {
      expectRefused(await request(proxy.url).get('/api/items').set('cookie', `auth-token=${TOKEN}`));
      expectRefused(await request(proxy.url).get('/api/items').set('x-csrf', '0'));
      const ok = await request(proxy.url).get('/api/items').set('cookie', `auth-token=${TOKEN}`).set('x-csrf', '1');
      expect(ok.status).toBe(200);
      expect(upstreamCalls).toEqual(['GET /items']);
    });
  });

  it('can be switched off explicitly (csrf: false)', async () => {
    await withProxy({ csrf: false }, async (proxy) => {
      expect(
        (await request(proxy.url).post('/api/items').set('cookie', `auth-token=${TOKEN}`).set('sec-fetch-site', 'cross-site')).status,
      ).toBe(200);
    });
  });

  it('adds no CORS headers and passes none from the upstream, preflight included', async () => {
    await withProxy({}, async (proxy) => {
      const preflight = await request(proxy.url)
        .options('/api/items')
        .set('origin', 'https://evil.example')
        .set('access-control-request-method', 'POST')
        .set('access-control-request-headers', 'content-type');
      const get = await request(proxy.url).get('/api/items').set('origin', 'https://evil.example');
      for (const res of [preflight, get]) {
        expect(Object.keys(res.headers).filter((name) => name.startsWith('access-control-'))).toEqual([]);
      }
    });
  });
});
