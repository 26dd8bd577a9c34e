import type { IncomingHttpHeaders } from 'node:http';
import type { ApiProxyOptions } from '../../proxy/index';
import { listen, rawRequest, startProxy, type RunningServer } from '../helpers/servers';
import { expectNoTokenLeak } from './leaks';

// What the upstream is told about the request: never a client's override or address claim, and
// (with APP_ORIGIN) the app's own address; and which Fetch Metadata values may carry the session.

const TOKEN = 'request-headers-token-19';
let upstream: RunningServer;
let received: Array<{ method: string; url: string; headers: IncomingHttpHeaders }>;

beforeAll(async () => {
  upstream = await listen((req, res) => {
    received.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    req.resume();
    res.setHeader('content-type', 'application/json');
    res.end('{"ok":true}');
  });
});
beforeEach(() => {
  received = [];
});
afterAll(() => upstream.close());

async function withProxy(options: ApiProxyOptions, run: (proxy: Awaited<ReturnType<typeof startProxy>>) => Promise<void>) {
  const proxy = await startProxy({ apiUrl: upstream.url, ...options });
  try {
    await run(proxy);
  } finally {
    await proxy.close();
  }
}

describe('override and client-address headers never reach the upstream', () => {
  it.each([
    ['X-HTTP-Method-Override', 'DELETE'],
    ['X-HTTP-Method', 'DELETE'],
    ['X-Method-Override', 'DELETE'],
    ['X-Original-URL', '/admin/users'],
    ['X-Rewrite-URL', '/admin/users'],
    ['X-Original-URI', '/admin/users'],
    ['X-Forwarded-Prefix', '/internal'],
    ['X-Forwarded-Server', 'evil.example'],
    ['X-Client-IP', '203.0.113.7'],
    ['True-Client-IP', '203.0.113.7'],
    ['CF-Connecting-IP', '203.0.113.7'],
  ])('%s: %s is dropped, with and without trustProxy, while an ordinary header passes', async (name, value) => {
    for (const options of [{}, { trustProxy: true }]) {
      await withProxy(options, async (proxy) => {
        const res = await rawRequest(proxy.url, 'GET', '/api/items', { [name]: value, 'x-custom': 'kept', cookie: `auth-token=${TOKEN}` });
        expect(res.status).toBe(200);
      });
    }
    expect(received.map((call) => `${call.method} ${call.url}`)).toEqual(['GET /items', 'GET /items']);
    for (const call of received) {
      expect(call.headers[name.toLowerCase()]).toBeUndefined();
      expect(call.headers['x-custom']).toBe('kept');
      expect(call.headers['auth-token']).toBe(TOKEN);
    }
  });

  it('with an allowlist of GET only, a GET carrying X-HTTP-Method-Override: DELETE reaches the upstream as a plain GET', async () => {
    await withProxy({ allow: [{ pathPrefix: '/items', methods: ['GET'] }] }, async (proxy) => {
      const res = await rawRequest(proxy.url, 'GET', '/api/items/7', {
        'x-http-method-override': 'DELETE',
        'x-original-url': '/admin/items/7',
        cookie: `auth-token=${TOKEN}`,
      });
      expect(res.status).toBe(200);
      const refused = await rawRequest(proxy.url, 'DELETE', '/api/items/7', {
        'sec-fetch-site': 'same-origin',
        cookie: `auth-token=${TOKEN}`,
      });
      expect(refused.status).toBe(403);
      expect(received).toHaveLength(1);
      expect(received[0]?.method).toBe('GET');
      expect(received[0]?.url).toBe('/items/7');
      expect(received[0]?.headers['x-http-method-override']).toBeUndefined();
      expect(received[0]?.headers['x-original-url']).toBeUndefined();
      expectNoTokenLeak(TOKEN, proxy.logger, { body: res.body, headers: res.headers });
    });
  });
});

describe('X-Forwarded-Host and X-Forwarded-Proto with APP_ORIGIN', () => {
  // A client that lies about the host (and, to a proxy that trusts it, about X-Forwarded-*).
  const lying = { host: 'evil.example', 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'http' };

  it.each([
    ['csrf.appOrigin https://app.example.com', { csrf: { appOrigin: 'https://app.example.com' } }, undefined, 'app.example.com'],
    [
      'csrf.appOrigin https://app.example.com with trustProxy',
      { csrf: { appOrigin: 'https://app.example.com' }, trustProxy: true },
      undefined,
      'app.example.com',
    ],
    ['APP_ORIGIN=https://app.example.com', {}, 'https://app.example.com', 'app.example.com'],
    [
      'APP_ORIGIN=https://app.example.com:8443 with trustProxy',
      { trustProxy: true },
      'https://app.example.com:8443',
      'app.example.com:8443',
    ],
  ] as Array<[string, ApiProxyOptions, string | undefined, string]>)(
    'with %s, the upstream gets X-Forwarded-Host: the app host and X-Forwarded-Proto: https whatever Host the client sent',
    async (_name, options, env, host) => {
      const saved = process.env.APP_ORIGIN;
      if (env === undefined) delete process.env.APP_ORIGIN;
      else process.env.APP_ORIGIN = env;
      try {
        await withProxy(options, async (proxy) => {
          const res = await rawRequest(proxy.url, 'GET', '/api/items', lying);
          expect(res.status).toBe(200);
        });
      } finally {
        if (saved === undefined) delete process.env.APP_ORIGIN;
        else process.env.APP_ORIGIN = saved;
      }
      expect(received).toHaveLength(1);
      expect(received[0]?.headers['x-forwarded-host']).toBe(host);
      expect(received[0]?.headers['x-forwarded-proto']).toBe('https');
      expect(received[0]?.headers.host).toBe(new URL(upstream.url).host);
    },
  );

  it('without APP_ORIGIN, X-Forwarded-Host is the Host the client sent, over http', async () => {
    const saved = process.env.APP_ORIGIN;
    delete process.env.APP_ORIGIN;
    try {
      await withProxy({}, async (proxy) => {
        await rawRequest(proxy.url, 'GET', '/api/items', { host: 'app.local:3000' });
      });
    } finally {
      if (saved !== undefined) process.env.APP_ORIGIN = saved;
    }
    expect(received[0]?.headers['x-forwarded-host']).toBe('app.local:3000');
    expect(received[0]?.headers['x-forwarded-proto']).toBe('http');
  });
});

describe('Sec-Fetch-Site on an unsafe request carrying the session', () => {
  it.each(['cross-origin', 'SAME-ORIGINX', '', 'bogus', 'cross-site', 'same-site'])(
    'Sec-Fetch-Site: %j is refused with 403 csrf, even beside an Origin of the app, without calling the upstream',
    async (site) => {
      await withProxy({}, async (proxy) => {
        const res = await rawRequest(
          proxy.url,
          'POST',
          '/api/items',
          { 'sec-fetch-site': site, origin: proxy.url, cookie: `auth-token=${TOKEN}`, 'content-type': 'application/json' },
          '{}',
        );
        expect(res.status).toBe(403);
        expect(JSON.parse(res.body.toString())).toEqual({ error: { code: 'csrf', message: expect.any(String) } });
        expect(res.headers['set-cookie']).toBeUndefined();
        expect(received).toEqual([]);
        expectNoTokenLeak(TOKEN, proxy.logger, { body: res.body, headers: res.headers });
      });
    },
  );

  it.each([
    ['same-origin', 'by default', {}],
    ['none', 'by default', {}],
    ['same-site', 'with csrf.trustSameSite', { csrf: { trustSameSite: true } }],
  ] as Array<[string, string, ApiProxyOptions]>)('Sec-Fetch-Site: %j is forwarded %s', async (site, _when, options) => {
    await withProxy(options, async (proxy) => {
      const res = await rawRequest(
        proxy.url,
        'POST',
        '/api/items',
        { 'sec-fetch-site': site, cookie: `auth-token=${TOKEN}`, 'content-type': 'application/json' },
        '{}',
      );
      expect(res.status).toBe(200);
      expect(received.map((call) => `${call.method} ${call.url}`)).toEqual(['POST /items']);
    });
  });
});
