import { type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import net from 'node:net';
import request from 'supertest';
import type { ApiProxyOptions } from '../../proxy/index';
import { fakeJwt, listen, rawRequest, readBody, startProxy, type RunningServer } from '../helpers/servers';
import { expectNoTokenLeak } from './leaks';

// Sessions: what a login, a refresh, a logout and duplicate cookies do to the two session cookies.

const now = () => Math.floor(Date.now() / 1000);
const same = { 'sec-fetch-site': 'same-origin' };
const CLEARED = ['auth-token=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0', 'refresh-token=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0'];

let serial = 0;
/** A token no other test uses: single flight and the reuse window are per process, keyed by token. */
const unique = (label: string) => `${label}-${++serial}-${process.pid}`;
const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

interface UpstreamCall {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}
type Route = (call: UpstreamCall, res: ServerResponse) => void | Promise<void>;

function reply(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

/** The refresh token a `POST /refresh` call presented. */
function presented(call: UpstreamCall): unknown {
  return (JSON.parse(call.body) as { refreshToken?: unknown }).refreshToken;
}

// Every path the fake API does not know answers 200 with the auth-token it was given; /refresh refuses.
const defaultRoute: Route = (call, res) => {
  if (call.path === '/refresh') return reply(res, 401, { error: 'invalid_grant' });
  reply(res, 200, { path: call.path, token: call.headers['auth-token'] ?? null });
};

let upstream: RunningServer;
let calls: UpstreamCall[] = [];
let route: Route = defaultRoute;

beforeAll(async () => {
  upstream = await listen(async (req, res) => {
    const call = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, body: (await readBody(req)).toString() };
    calls.push(call);
    await route(call, res);
  });
});
beforeEach(() => {
  calls = [];
  route = defaultRoute;
});
afterAll(() => upstream.close());

const seen = () => calls.map((call) => `${call.method} ${call.path}`);
const refreshCalls = () => calls.filter((call) => call.path === '/refresh');

async function withProxy(options: ApiProxyOptions, run: (proxy: Awaited<ReturnType<typeof startProxy>>) => Promise<void>) {
  const proxy = await startProxy({ apiUrl: upstream.url, ...options });
  try {
    await run(proxy);
  } finally {
    await proxy.close();
  }
}

function setCookiesOf(res: { headers: Record<string, unknown> }): string[] | undefined {
  return res.headers['set-cookie'] as string[] | undefined;
}

/** What a browser does with Set-Cookie: store, replace, or (Max-Age=0) delete. */
function applySetCookies(jar: Map<string, string>, setCookies: string[] | undefined): void {
  for (const cookie of setCookies ?? []) {
    const pair = cookie.split(';')[0] ?? '';
    const name = pair.slice(0, pair.indexOf('='));
    if (/;\s*Max-Age=0(;|$)/i.test(cookie)) jar.delete(name);
    else jar.set(name, pair.slice(pair.indexOf('=') + 1));
  }
}
const cookieHeader = (jar: Map<string, string>) => [...jar].map(([name, value]) => `${name}=${value}`).join('; ');

/** Polls until `condition` holds, for at most `ms`; the assertions after it say what went wrong. */
async function until(condition: () => boolean, ms = 3_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition() && Date.now() < deadline) await delay(5);
}

describe('a login replaces both cookies', () => {
  it("clears the previous user's refresh cookie when the new answer has no refresh token, so the browser cannot be refreshed into that user", async () => {
    const refreshA = unique('refresh-of-user-a');
    const accessB = unique('access-of-user-b');
    route = (call, res) => {
      if (call.path === '/login') return reply(res, 200, { authToken: accessB, user: 'b' });
      if (call.path === '/refresh' && presented(call) === refreshA)
        return reply(res, 200, { authToken: unique('access-of-user-a'), refreshToken: unique('refresh-of-user-a') });
      defaultRoute(call, res);
    };
    await withProxy({}, async (proxy) => {
      // The browser still holds user A's cookies when user B signs in.
      const jar = new Map([
        ['auth-token', unique('access-of-user-a')],
        ['refresh-token', refreshA],
      ]);
      const login = await request(proxy.url).post('/api/login').set(same).set('cookie', cookieHeader(jar)).send({ email: 'b@example.com' });
      expect(login.status).toBe(200);
      expect(login.text).toBe('{"user":"b"}');
      expect(setCookiesOf(login)).toEqual([
        `auth-token=${accessB}; Path=/; HttpOnly; SameSite=Lax`,
        'refresh-token=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0',
      ]);
      applySetCookies(jar, setCookiesOf(login));
      expect([...jar.keys()]).toEqual(['auth-token']);

      // B's access cookie goes (expiry): nothing left in the browser may bring A's session back.
      jar.delete('auth-token');
      const later = await request(proxy.url)
        .get('/api/me')
        .set(jar.size > 0 ? { cookie: cookieHeader(jar) } : {});
      expect(later.status).toBe(200);
      expect(later.body).toEqual({ path: '/me', token: null });
      expect(seen()).toEqual(['POST /login', 'GET /me']);
      expectNoTokenLeak(refreshA, proxy.logger, login, later);
      expectNoTokenLeak(accessB, proxy.logger, login, later);
    });
  });

  it('replaces both cookies when the new answer carries a refresh token', async () => {
    const accessB = unique('access-of-user-b');
    const refreshB = unique('refresh-of-user-b');
    route = (call, res) => reply(res, 200, { authToken: accessB, refreshToken: refreshB, user: 'b' });
    await withProxy({}, async (proxy) => {
      const login = await request(proxy.url)
        .post('/api/login')
        .set(same)
        .set('cookie', `auth-token=${unique('a')}; refresh-token=${unique('ra')}`)
        .send({});
      expect(setCookiesOf(login)).toEqual([
        `auth-token=${accessB}; Path=/; HttpOnly; SameSite=Lax`,
        `refresh-token=${refreshB}; Path=/; HttpOnly; SameSite=Lax`,
      ]);
      expect(login.text).toBe('{"user":"b"}');
    });
  });

  it('leaves both cookies alone (no Set-Cookie) when the upstream refuses the login', async () => {
    route = (call, res) => reply(res, 401, { error: 'bad credentials' });
    await withProxy({}, async (proxy) => {
      const login = await request(proxy.url)
        .post('/api/login')
        .set(same)
        .set('cookie', `auth-token=${unique('a')}; refresh-token=${unique('ra')}`)
        .send({});
      expect(login.status).toBe(401);
      expect(login.text).toBe('{"error":"bad credentials"}');
      expect(setCookiesOf(login)).toBeUndefined();
    });
  });
});

describe('duplicate session cookies (cookie tossing) mean no session', () => {
  const duplicates: Array<[string, string]> = [
    ['two auth-token cookies', 'auth-token=tossed-token-a; auth-token=tossed-token-b'],
    ['two auth-token cookies without a space', 'auth-token=tossed-token-a;auth-token=tossed-token-b'],
    ['two auth-token cookies with extra spaces', 'auth-token=tossed-token-a ;   auth-token=tossed-token-b'],
    ['two auth-token cookies among others', 'theme=dark; auth-token=tossed-token-a; lang=en; auth-token=tossed-token-b'],
    [
      'two auth-token cookies around a refresh cookie',
      'auth-token=tossed-token-b; refresh-token=tossed-refresh-1; auth-token=tossed-token-a',
    ],
    ['two auth-token cookies, the first empty', 'auth-token=; auth-token=tossed-token-b'],
    ['the same auth-token twice', 'auth-token=tossed-token-a; auth-token=tossed-token-a'],
    ['two refresh-token cookies', 'refresh-token=tossed-refresh-1; refresh-token=tossed-refresh-2'],
    [
      'two refresh-token cookies beside an access cookie',
      'auth-token=tossed-token-a; refresh-token=tossed-refresh-1; refresh-token=tossed-refresh-2',
    ],
  ];

  // Refresh tokens of their own per test: a refresh of one (by a proxy that ignored the duplicate) must
  // reach the upstream, not a reuse window filled by an earlier test.
  const withOwnRefreshTokens = (cookie: string) => cookie.replaceAll('tossed-refresh', unique('tossed-refresh'));

  it.each(duplicates)('%s: forwarded with no auth-token, no refresh, and both cookies cleared', async (_name, cookie) => {
    await withProxy({}, async (proxy) => {
      const res = await rawRequest(proxy.url, 'GET', '/api/items', { cookie: withOwnRefreshTokens(cookie) });
      expect(res.status).toBe(200);
      expect(res.body.toString()).toBe('{"path":"/items","token":null}');
      expect(res.headers['set-cookie']).toEqual(CLEARED);
      expect(res.headers['cache-control']).toBe('private, no-store');
      expect(seen()).toEqual(['GET /items']);
      expect(calls[0]?.headers['auth-token']).toBeUndefined();
      expect(calls[0]?.headers.authorization).toBeUndefined();
      expect(calls[0]?.headers.cookie).toBeUndefined();
    });
  });

  it.each(duplicates)(
    '%s: GET /api/session answers {"authenticated":false,"expiresAt":null} and clears both cookies',
    async (_name, cookie) => {
      await withProxy({}, async (proxy) => {
        const res = await rawRequest(proxy.url, 'GET', '/api/session', { cookie: withOwnRefreshTokens(cookie) });
        expect(res.status).toBe(200);
        expect(res.body.toString()).toBe('{"authenticated":false,"expiresAt":null}');
        expect(res.headers['set-cookie']).toEqual(CLEARED);
        expect(calls).toEqual([]);
      });
    },
  );

  it('a cookie whose name only ends in auth-token is no duplicate: the session is used, nothing cleared', async () => {
    await withProxy({}, async (proxy) => {
      const res = await rawRequest(proxy.url, 'GET', '/api/items', { cookie: 'xauth-token=tossed-token-a; auth-token=tossed-token-b' });
      expect(res.body.toString()).toBe('{"path":"/items","token":"tossed-token-b"}');
      expect(res.headers['set-cookie']).toBeUndefined();
    });
  });
});

describe('__Host- cookie names under HTTPS', () => {
  const https: Array<[string, ApiProxyOptions, Record<string, string>]> = [
    ['cookie.secure: true', { cookie: { secure: true } }, {}],
    ['trustProxy and X-Forwarded-Proto: https', { trustProxy: true }, { 'x-forwarded-proto': 'https' }],
  ];

  it.each(https)('with %s, a login sets __Host-auth-token and __Host-refresh-token, both Secure', async (_name, options, headers) => {
    const access = unique('https-access');
    const refresh = unique('https-refresh');
    route = (call, res) => reply(res, 200, { authToken: access, refreshToken: refresh });
    await withProxy(options, async (proxy) => {
      const login = await request(proxy.url).post('/api/login').set(same).set(headers).send({});
      expect(login.status).toBe(200);
      expect(setCookiesOf(login)).toEqual([
        `__Host-auth-token=${access}; Path=/; HttpOnly; SameSite=Lax; Secure`,
        `__Host-refresh-token=${refresh}; Path=/; HttpOnly; SameSite=Lax; Secure`,
      ]);
      expect(login.text).toBe('{}');
    });
  });

  it.each(https)(
    'with %s, only the __Host- cookie is a session: an unprefixed auth-token is not sent upstream',
    async (_name, options, headers) => {
      const token = unique('https-token');
      await withProxy(options, async (proxy) => {
        const unprefixed = await rawRequest(proxy.url, 'GET', '/api/items', { ...headers, cookie: `auth-token=${token}` });
        expect(unprefixed.body.toString()).toBe('{"path":"/items","token":null}');
        const unprefixedSession = await rawRequest(proxy.url, 'GET', '/api/session', { ...headers, cookie: `auth-token=${token}` });
        expect(unprefixedSession.body.toString()).toBe('{"authenticated":false,"expiresAt":null}');

        const prefixed = await rawRequest(proxy.url, 'GET', '/api/items', { ...headers, cookie: `__Host-auth-token=${token}` });
        expect(prefixed.body.toString()).toBe(`{"path":"/items","token":"${token}"}`);
        const prefixedSession = await rawRequest(proxy.url, 'GET', '/api/session', { ...headers, cookie: `__Host-auth-token=${token}` });
        expect(prefixedSession.body.toString()).toBe('{"authenticated":true,"expiresAt":null}');
      });
    },
  );

  const CLEARED_HTTPS = [
    '__Host-auth-token=; Path=/; HttpOnly; SameSite=Lax; Secure; Max-Age=0',
    '__Host-refresh-token=; Path=/; HttpOnly; SameSite=Lax; Secure; Max-Age=0',
    'auth-token=; Path=/; HttpOnly; SameSite=Lax; Secure; Max-Age=0',
    'refresh-token=; Path=/; HttpOnly; SameSite=Lax; Secure; Max-Age=0',
  ];

  it.each(https)('with %s, logout clears the __Host- names and the unprefixed ones', async (_name, options, headers) => {
    await withProxy(options, async (proxy) => {
      const res = await request(proxy.url)
        .post('/api/logout')
        .set(same)
        .set(headers)
        .set('cookie', `__Host-auth-token=${unique('t')}; auth-token=${unique('old')}`);
      expect(res.status).toBe(200);
      expect(res.text).toBe('{"loggedOut":true}');
      expect([...(setCookiesOf(res) ?? [])].sort()).toEqual([...CLEARED_HTTPS].sort());
    });
  });

  it.each(https)('with %s, two __Host-auth-token cookies mean no session, and every name is cleared', async (_name, options, headers) => {
    await withProxy(options, async (proxy) => {
      const res = await rawRequest(proxy.url, 'GET', '/api/items', {
        ...headers,
        cookie: '__Host-auth-token=tossed-token-a; __Host-auth-token=tossed-token-b',
      });
      expect(res.body.toString()).toBe('{"path":"/items","token":null}');
      expect([...(res.headers['set-cookie'] ?? [])].sort()).toEqual([...CLEARED_HTTPS].sort());
    });
  });

  it.each([
    ['cookie.name', { cookie: { name: 'sid', secure: true } }, ['sid', '__Host-refresh-token']],
    ['cookie.name and refresh.cookieName', { cookie: { name: 'sid', secure: true }, refresh: { cookieName: 'rsid' } }, ['sid', 'rsid']],
  ] as Array<[string, ApiProxyOptions, [string, string]]>)(
    'a configured %s is used as given under HTTPS',
    async (_name, options, [accessName, refreshName]) => {
      const access = unique('named-access');
      const refresh = unique('named-refresh');
      route = (call, res) => {
        if (call.path === '/login') return reply(res, 200, { authToken: access, refreshToken: refresh });
        defaultRoute(call, res);
      };
      await withProxy(options, async (proxy) => {
        const login = await request(proxy.url).post('/api/login').set(same).send({});
        expect(setCookiesOf(login)).toEqual([
          `${accessName}=${access}; Path=/; HttpOnly; SameSite=Lax; Secure`,
          `${refreshName}=${refresh}; Path=/; HttpOnly; SameSite=Lax; Secure`,
        ]);
        const used = await rawRequest(proxy.url, 'GET', '/api/items', { cookie: `${accessName}=${access}` });
        expect(used.body.toString()).toBe(`{"path":"/items","token":"${access}"}`);
      });
    },
  );
});

describe('only 400, 401 and 403 from the refresh endpoint end a session', () => {
  const expiredCookie = (refresh: string) => `auth-token=${fakeJwt({ sub: 'old', exp: now() - 5 })}; refresh-token=${refresh}`;

  it.each([400, 401, 403])(
    'a refresh answered %i clears both cookies and answers 401 session_expired, without forwarding',
    async (status) => {
      const refresh = unique('ended-refresh');
      route = (call, res) => (call.path === '/refresh' ? reply(res, status, { error: 'invalid_grant' }) : defaultRoute(call, res));
      await withProxy({}, async (proxy) => {
        const res = await rawRequest(proxy.url, 'GET', '/api/items', { cookie: expiredCookie(refresh) });
        expect(res.status).toBe(401);
        expect(JSON.parse(res.body.toString())).toEqual({ error: { code: 'session_expired', message: expect.any(String) } });
        expect(res.headers['set-cookie']).toEqual(CLEARED);
        expect(seen()).toEqual(['POST /refresh']);
        expectNoTokenLeak(refresh, proxy.logger, { body: res.body, headers: res.headers });
      });
    },
  );

  it.each([404, 408, 409, 429, 500, 502, 503, 504])(
    'a refresh answered %i is temporary: 503 refresh_unavailable, no Set-Cookie, no Retry-After of its own',
    async (status) => {
      const refresh = unique('kept-refresh');
      route = (call, res) => (call.path === '/refresh' ? reply(res, status, { error: 'busy' }) : defaultRoute(call, res));
      await withProxy({}, async (proxy) => {
        const res = await rawRequest(proxy.url, 'GET', '/api/items', { cookie: expiredCookie(refresh) });
        expect(res.status).toBe(503);
        expect(JSON.parse(res.body.toString())).toEqual({ error: { code: 'refresh_unavailable', message: expect.any(String) } });
        expect(res.headers['set-cookie']).toBeUndefined();
        expect(res.headers['retry-after']).toBeUndefined();
        expect(res.headers['cache-control']).toBe('private, no-store');
        expect(seen()).toEqual(['POST /refresh']);
        expectNoTokenLeak(refresh, proxy.logger, { body: res.body, headers: res.headers });
      });
    },
  );

  it.each([
    [429, '30'],
    [503, '30'],
    [429, '0'],
    [503, 'Wed, 21 Oct 2026 07:28:00 GMT'],
  ])('a refresh answered %i with Retry-After: %s passes that Retry-After on', async (status, retryAfter) => {
    route = (call, res) => (call.path === '/refresh' ? reply(res, status, {}, { 'retry-after': retryAfter }) : defaultRoute(call, res));
    await withProxy({}, async (proxy) => {
      const res = await rawRequest(proxy.url, 'GET', '/api/items', { cookie: expiredCookie(unique('kept-refresh')) });
      expect(res.status).toBe(503);
      expect(res.headers['retry-after']).toBe(retryAfter);
      expect(res.headers['set-cookie']).toBeUndefined();
    });
  });

  it.each(['soon', '-5', '1.5', '30 seconds', 'Wed, 21 Oct 2026', '<script>alert(1)</script>'])(
    'a refresh answered 429 with the garbage Retry-After %j passes no Retry-After',
    async (retryAfter) => {
      route = (call, res) => (call.path === '/refresh' ? reply(res, 429, {}, { 'retry-after': retryAfter }) : defaultRoute(call, res));
      await withProxy({}, async (proxy) => {
        const res = await rawRequest(proxy.url, 'GET', '/api/items', { cookie: expiredCookie(unique('kept-refresh')) });
        expect(res.status).toBe(503);
        expect(JSON.parse(res.body.toString())).toEqual({ error: { code: 'refresh_unavailable', message: expect.any(String) } });
        expect(res.headers['retry-after']).toBeUndefined();
      });
    },
  );

  it.each([
    ['before forwarding (expired access JWT)', '/api/items', (refresh: string) => expiredCookie(refresh), ['POST /refresh']],
    [
      'after an upstream 401 (opaque access token)',
      '/api/items',
      (refresh: string) => `auth-token=revoked-opaque; refresh-token=${refresh}`,
      ['GET /items', 'POST /refresh'],
    ],
    ['for GET /api/session (refresh cookie only)', '/api/session', (refresh: string) => `refresh-token=${refresh}`, ['POST /refresh']],
  ])(
    'a rate-limited refresh %s answers 503 refresh_unavailable with Retry-After: 30 and keeps the cookies',
    async (_name, path, cookie, expectedCalls) => {
      route = (call, res) => {
        if (call.path === '/refresh') return reply(res, 429, {}, { 'retry-after': '30' });
        if (call.headers['auth-token'] === 'revoked-opaque') return reply(res, 401, { error: 'unauthorized' });
        defaultRoute(call, res);
      };
      await withProxy({}, async (proxy) => {
        const res = await rawRequest(proxy.url, 'GET', path, { cookie: cookie(unique('limited-refresh')) });
        expect(res.status).toBe(503);
        expect(JSON.parse(res.body.toString())).toEqual({ error: { code: 'refresh_unavailable', message: expect.any(String) } });
        expect(res.headers['retry-after']).toBe('30');
        expect(res.headers['set-cookie']).toBeUndefined();
        expect(seen()).toEqual(expectedCalls);
      });
    },
  );
});

describe('refreshes in flight are bounded (refresh.maxConcurrent)', () => {
  /** A refresh endpoint that holds every refresh until released (at most 3 s, so nothing can hang). */
  function holdRefreshes() {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    route = async (call, res) => {
      if (call.path !== '/refresh') return defaultRoute(call, res);
      await Promise.race([gate, delay(3_000)]);
      reply(res, 200, { authToken: unique('held-access'), refreshToken: unique('held-refresh') });
    };
    return release;
  }

  it.each([
    ['refresh.maxConcurrent: 2', { maxConcurrent: 2 }, 2],
    ['the default of 32', {}, 32],
  ] as Array<[string, { maxConcurrent?: number }, number]>)(
    'with %s, that many distinct refresh tokens reach the upstream at once, four times as many wait in line, and the next gets 503 refresh_unavailable with Retry-After: 1',
    async (_name, refresh, limit) => {
      const release = holdRefreshes();
      await withProxy({ refresh }, async (proxy) => {
        const extra = unique('one-too-many');
        let held: Promise<Awaited<ReturnType<typeof rawRequest>>[]> = Promise.resolve([]);
        let waiting: Promise<Awaited<ReturnType<typeof rawRequest>>[]> = Promise.resolve([]);
        let handled = 0;
        proxy.server.on('request', () => void (handled += 1));
        let refused: Awaited<ReturnType<typeof rawRequest>>;
        try {
          held = Promise.all(
            Array.from({ length: limit }, () => rawRequest(proxy.url, 'GET', '/api/items', { cookie: `refresh-token=${unique('held')}` })),
          );
          await until(() => refreshCalls().length >= limit);
          waiting = Promise.all(
            Array.from({ length: limit * 4 }, () =>
              rawRequest(proxy.url, 'GET', '/api/items', { cookie: `refresh-token=${unique('waiting')}` }),
            ),
          );
          await until(() => handled >= limit * 5);
          expect(refreshCalls()).toHaveLength(limit);
          refused = await rawRequest(proxy.url, 'GET', '/api/items', { cookie: `refresh-token=${extra}` });
        } finally {
          release();
        }
        const answers = await held;
        expect((await waiting).map((answer) => answer.status)).toEqual(Array<number>(limit * 4).fill(200));
        expect(refused.status).toBe(503);
        expect(JSON.parse(refused.body.toString())).toEqual({ error: { code: 'refresh_unavailable', message: expect.any(String) } });
        expect(refused.headers['retry-after']).toBe('1');
        expect(refused.headers['set-cookie']).toBeUndefined();
        expect(refreshCalls()).toHaveLength(limit * 5);
        expect(refreshCalls().map(presented)).not.toContain(extra);
        expect(answers.map((answer) => answer.status)).toEqual(Array<number>(limit).fill(200));
        expectNoTokenLeak(extra, proxy.logger, { body: refused.body, headers: refused.headers });
      });
    },
  );

  it('requests sharing a refresh token already in flight join it instead of being refused', async () => {
    const release = holdRefreshes();
    await withProxy({ refresh: { maxConcurrent: 2 } }, async (proxy) => {
      const [first, second] = [unique('shared-a'), unique('shared-b')];
      // The proxy asks for (or joins) a refresh synchronously while handling a request's headers.
      let handled = 0;
      proxy.server.on('request', () => void (handled += 1));
      let answers: Promise<Awaited<ReturnType<typeof rawRequest>>[]> = Promise.resolve([]);
      try {
        const leaders = [first, second].map((token) => rawRequest(proxy.url, 'GET', '/api/items', { cookie: `refresh-token=${token}` }));
        await until(() => refreshCalls().length >= 2);
        const followers = [first, second, first].map((token) =>
          rawRequest(proxy.url, 'GET', '/api/items', { cookie: `refresh-token=${token}` }),
        );
        answers = Promise.all([...leaders, ...followers]);
        await until(() => handled >= 5);
      } finally {
        release();
      }
      expect((await answers).map((answer) => answer.status)).toEqual([200, 200, 200, 200, 200]);
      expect(refreshCalls()).toHaveLength(2);
    });
  });
});

describe('refused refresh tokens are kept apart from rotations', () => {
  /**
   * Sends `count` GET requests over `sockets` kept-alive connections, one request at a time on each (raw
   * HTTP/1.1: the flood is the proxy's work, not the test client's), and counts the answers' statuses.
   * A connection silent for 5 s fails the test instead of hanging it.
   */
  function flood(url: string, cookies: (i: number) => string, count: number, sockets: number): Promise<Map<number, number>> {
    const { hostname, port } = new URL(url);
    const statuses = new Map<number, number>();
    let next = 0;
    const connection = () =>
      new Promise<void>((resolve, reject) => {
        const socket = net.connect(Number(port), hostname);
        socket.setTimeout(5_000, () => socket.destroy(new Error('flood connection timed out')));
        socket.on('error', reject);
        let pending = Buffer.alloc(0);
        const send = () => {
          if (next >= count) {
            socket.destroy();
            return resolve();
          }
          socket.write(`GET /api/items HTTP/1.1\r\nHost: ${hostname}\r\nCookie: ${cookies(next++)}\r\n\r\n`);
        };
        socket.on('data', (chunk: Buffer) => {
          pending = Buffer.concat([pending, chunk]);
          for (;;) {
            const headEnd = pending.indexOf('\r\n\r\n');
            if (headEnd === -1) return;
            const head = pending.subarray(0, headEnd).toString('latin1');
            const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
            if (pending.length < headEnd + 4 + length) return;
            const status = Number(head.slice(9, 12));
            statuses.set(status, (statuses.get(status) ?? 0) + 1);
            pending = pending.subarray(headEnd + 4 + length);
            send();
          }
        });
        socket.on('connect', send);
      });
    return Promise.all(Array.from({ length: sockets }, connection)).then(() => statuses);
  }

  // The reuse window held 10,000 entries, refusals and rotations alike: 10,050 refusals push a rotation
  // made just before them out, and the old refresh token would be presented upstream a second time.
  const JUNK = 10_050;

  it(`a flood of ${JUNK} refused refresh tokens does not evict a rotation: the old refresh token still gets the rotated tokens, without a second upstream refresh`, async () => {
    const rotated = unique('rotated-refresh');
    const access = fakeJwt({ sub: unique('rotated-access'), exp: now() + 600 });
    const next = unique('rotated-refresh-next');
    const junk = unique('junk');
    route = (call, res) => {
      if (call.path !== '/refresh') return defaultRoute(call, res);
      if (presented(call) === rotated) return reply(res, 200, { authToken: access, refreshToken: next });
      reply(res, 401, { error: 'invalid_grant' });
    };
    await withProxy({ refresh: { reuseWindowSeconds: 120, maxConcurrent: 128 } }, async (proxy) => {
      const first = await rawRequest(proxy.url, 'GET', '/api/one', { cookie: `refresh-token=${rotated}` });
      expect(first.status).toBe(200);

      const statuses = await flood(proxy.url, (i) => `refresh-token=${junk}-${i}`, JUNK, 32);
      expect([...statuses]).toEqual([[401, JUNK]]);
      expect(refreshCalls()).toHaveLength(1 + JUNK);

      // A request that left the browser before the rotated cookies arrived.
      const late = await rawRequest(proxy.url, 'GET', '/api/two', { cookie: `refresh-token=${rotated}` });
      expect(late.status).toBe(200);
      expect(late.body.toString()).toBe(`{"path":"/two","token":"${access}"}`);
      expect(late.headers['set-cookie']).toEqual([
        expect.stringMatching(new RegExp(`^auth-token=${access}; Path=/; HttpOnly; SameSite=Lax; Max-Age=\\d+$`)),
        `refresh-token=${next}; Path=/; HttpOnly; SameSite=Lax`,
      ]);
      expect(refreshCalls().filter((call) => presented(call) === rotated)).toHaveLength(1);
      expectNoTokenLeak(rotated, proxy.logger, { body: late.body, headers: late.headers });
      expectNoTokenLeak(next, proxy.logger, { body: late.body, headers: late.headers });
    });
  }, 30_000);
});

describe('a JWT exp outside the range of a date', () => {
  it.each([1e13, -1e13, 8.64e12 + 1, 1e300])(
    'GET /api/session with exp %d answers 200 {"authenticated":true,"expiresAt":null}',
    async (exp) => {
      const token = fakeJwt({ sub: 'u', exp });
      await withProxy({}, async (proxy) => {
        const res = await rawRequest(proxy.url, 'GET', '/api/session', { cookie: `auth-token=${token}` });
        expect(res.status).toBe(200);
        expect(res.body.toString()).toBe('{"authenticated":true,"expiresAt":null}');
        expect(calls).toEqual([]);
        expectNoTokenLeak(token, proxy.logger, { body: res.body, headers: res.headers });
      });
    },
  );

  it('the last representable exp (8.64e12) is still a date', async () => {
    await withProxy({}, async (proxy) => {
      const res = await rawRequest(proxy.url, 'GET', '/api/session', { cookie: `auth-token=${fakeJwt({ exp: 8.64e12 })}` });
      expect(res.body.toString()).toBe('{"authenticated":true,"expiresAt":"+275760-09-13T00:00:00.000Z"}');
    });
  });
});

describe('logout after the access token expired', () => {
  it.each([
    ['only a refresh cookie', (refresh: string) => `refresh-token=${refresh}`],
    [
      'an expired access JWT and a refresh cookie',
      (refresh: string) => `auth-token=${fakeJwt({ sub: 'old', exp: now() - 60 })}; refresh-token=${refresh}`,
    ],
  ])(
    'with %s: refreshes first, then POST /logout with the new access token and the new refresh token; both cookies cleared',
    async (_name, cookie) => {
      const refresh = unique('logout-refresh');
      const newAccess = unique('logout-new-access');
      const newRefresh = unique('logout-new-refresh');
      route = (call, res) => {
        if (call.path === '/refresh')
          return presented(call) === refresh ? reply(res, 200, { authToken: newAccess, refreshToken: newRefresh }) : reply(res, 401, {});
        if (call.path === '/logout') return void res.writeHead(204).end();
        defaultRoute(call, res);
      };
      await withProxy({ logout: { upstreamPath: '/logout' } }, async (proxy) => {
        const res = await request(proxy.url).post('/api/logout').set(same).set('cookie', cookie(refresh));
        expect(res.status).toBe(200);
        expect(res.text).toBe('{"loggedOut":true}');
        expect(setCookiesOf(res)).toEqual(CLEARED);
        expect(seen()).toEqual(['POST /refresh', 'POST /logout']);
        expect(calls[0]?.body).toBe(JSON.stringify({ refreshToken: refresh }));
        expect(calls[1]?.headers['auth-token']).toBe(newAccess);
        expect(calls[1]?.headers['content-type']).toBe('application/json');
        expect(calls[1]?.body).toBe(`{"refreshToken":"${newRefresh}"}`);
        for (const token of [refresh, newAccess, newRefresh]) expectNoTokenLeak(token, proxy.logger, res);
      });
    },
  );

  it('a refused refresh token: the upstream logout is not called, and both cookies are cleared', async () => {
    const refresh = unique('logout-dead-refresh');
    route = (call, res) => (call.path === '/logout' ? void res.writeHead(204).end() : defaultRoute(call, res));
    await withProxy({ logout: { upstreamPath: '/logout' } }, async (proxy) => {
      const res = await request(proxy.url).post('/api/logout').set(same).set('cookie', `refresh-token=${refresh}`);
      expect(res.status).toBe(200);
      expect(res.text).toBe('{"loggedOut":true}');
      expect(setCookiesOf(res)).toEqual(CLEARED);
      expect(seen()).toEqual(['POST /refresh']);
      expectNoTokenLeak(refresh, proxy.logger, res);
    });
  });

  it.each([401, 500])(
    'an upstream logout answering %i is logged with its status; the client still gets 200 {"loggedOut":true} and cleared cookies',
    async (status) => {
      const access = unique('logout-access');
      const refresh = unique('logout-refresh');
      route = (call, res) => (call.path === '/logout' ? reply(res, status, { error: 'nope' }) : defaultRoute(call, res));
      await withProxy({ logout: { upstreamPath: '/logout' } }, async (proxy) => {
        const res = await request(proxy.url).post('/api/logout').set(same).set('cookie', `auth-token=${access}; refresh-token=${refresh}`);
        expect(res.status).toBe(200);
        expect(res.text).toBe('{"loggedOut":true}');
        expect(setCookiesOf(res)).toEqual(CLEARED);
        expect(seen()).toEqual(['POST /logout']);
        expect(calls[0]?.headers['auth-token']).toBe(access);
        expect(proxy.logger.lines).toEqual([expect.stringMatching(new RegExp(`\\b${status}\\b`))]);
        for (const token of [access, refresh]) expectNoTokenLeak(token, proxy.logger, res);
      });
    },
  );
});
