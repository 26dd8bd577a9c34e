import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import zlib from 'node:zlib';
import { buildNextApp, startNextApp, type NextApp } from '../helpers/next-app';
import { fakeJwt, listen, rawRequest, readBody, type RunningServer } from '../helpers/servers';
import { eventStreamUpstream, expectEventByEvent } from '../helpers/sse';

// The App Router side under a real `next build` + `next start`: the fixture app
// (__tests__/fixtures/app-router-app) has the README's route file, a server component page and proxy.ts.
const APP = path.resolve(__dirname, '../fixtures/app-router-app');
const DIST = '.next-jest';
const GiB = 1024 * 1024 * 1024;
const now = () => Math.floor(Date.now() / 1000);
const events = eventStreamUpstream();
let upstream: RunningServer;
let app: NextApp;
const seen: Array<{ url: string; headers: http.IncomingHttpHeaders }> = [];
let refreshes = 0;
let downloadClosedEarly: Promise<boolean> | undefined;

function freshTokens(user: string) {
  return { authToken: fakeJwt({ sub: user, exp: now() + 600 }), refreshToken: `refresh-${user}-${now()}-${refreshes}` };
}

beforeAll(async () => {
  upstream = await listen(async (req, res) => {
    seen.push({ url: req.url ?? '', headers: req.headers });
    const url = req.url ?? '';
    if (url === '/v1/events') return events.handler(req, res);
    if (url === '/v1/login') {
      await readBody(req);
      res.setHeader('content-type', 'application/json');
      return void res.end(JSON.stringify({ ...freshTokens('ada'), user: { name: 'Ada' } }));
    }
    if (url === '/v1/refresh') {
      refreshes++;
      const { refreshToken } = JSON.parse((await readBody(req)).toString()) as { refreshToken: string };
      if (refreshToken === 'refresh-token-endpoint-down') return void res.writeHead(503).end('{}');
      // The proxy's single flight means one refresh per token; slow enough for the others to join.
      await new Promise((resolve) => setTimeout(resolve, 200));
      res.setHeader('content-type', 'application/json');
      if (!refreshToken.startsWith('refresh-')) return void res.writeHead(401).end('{}');
      return void res.end(JSON.stringify(freshTokens('ada')));
    }
    if (url === '/v1/me') {
      res.setHeader('content-type', 'application/json');
      const token = req.headers['auth-token'];
      if (typeof token !== 'string') return void res.writeHead(401).end('{}');
      return void res.end(JSON.stringify({ name: 'Ada Lovelace', tokenSeen: token.slice(-6) }));
    }
    if (url === '/v1/revoked-me') {
      res.setHeader('content-type', 'application/json');
      return void res.writeHead(401).end('{"error":"revoked"}');
    }
    if (url === '/v1/gzip') {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-encoding': 'gzip' });
      return void res.end(zlib.gzipSync('compressed though asked for identity'));
    }
    if (url === '/v1/download') {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': GiB });
      const chunk = Buffer.alloc(1024 * 1024, 5);
      let sent = 0;
      downloadClosedEarly = new Promise((resolve) => res.once('close', () => resolve(sent < GiB)));
      const pump = () => {
        while (sent < GiB) {
          sent += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
        res.end();
      };
      return pump();
    }
    const hash = createHash('sha256');
    let bytes = 0;
    req.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      hash.update(chunk);
    });
    req.on('error', () => {});
    req.on('end', () => {
      res.setHeader('content-type', 'application/json');
      res.end(
        JSON.stringify({
          method: req.method,
          url,
          bytes,
          sha256: hash.digest('hex'),
          token: req.headers['auth-token'] ?? null,
          cookie: req.headers.cookie ?? null,
        }),
      );
    });
  });
  buildNextApp(DIST, {}, APP);
  app = await startNextApp(DIST, { API_URL: `${upstream.url}/v1` }, APP);
}, 300_000);

afterAll(async () => {
  await app?.stop();
  await upstream?.close();
});

beforeEach(() => {
  seen.length = 0;
  refreshes = 0;
});

const json = (res: { body: Buffer }) => JSON.parse(res.body.toString()) as Record<string, unknown>;
const sameOrigin = { 'sec-fetch-site': 'same-origin' };

/** The most resident memory of the Next process while `work` runs (sampled every 50 ms). */
async function peakRss<T>(work: () => Promise<T>): Promise<{ result: T; growthMiB: number }> {
  const rss = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${app.pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
  const before = rss();
  let peak = before;
  const timer = setInterval(() => (peak = Math.max(peak, rss())), 50);
  try {
    const result = await work();
    return { result, growthMiB: peak - before };
  } finally {
    clearInterval(timer);
  }
}

describe('app/api/[...path]/route.ts (createRouteHandlers) under next start', () => {
  it('sends the cookie as the auth-token header, leaves the browser cookies behind and asks for identity encoding', async () => {
    const res = await rawRequest(app.url, 'GET', '/api/items/7', { ...sameOrigin, cookie: 'auth-token=t-app-1; theme=dark' });
    expect(res.status).toBe(200);
    expect(json(res)).toMatchObject({ method: 'GET', url: '/v1/items/7', token: 't-app-1', cookie: null });
    expect(seen[0]?.headers['accept-encoding']).toBe('identity');
  });

  it('forwards the query string as Next re-serialises it for route handlers (documented: ?b=%20x&a arrives as ?b=+x&a=)', async () => {
    const res = await rawRequest(app.url, 'GET', '/api/sign?b=%20x&a&c=%2B');
    expect(json(res).url).toBe('/v1/sign?b=+x&a=&c=%2B');
  });

  it.each([
    ['/api/internal/secrets?q=1', '/v1/public/fenced?q=1'],
    ['/backend/internal/secrets', '/v1/public/fenced'],
    ['/backend/items?x=%2B', '/v1/items?x=%2B'],
    ['/api/v2/things', '/v1/v1/things'],
  ])('forwards the path Next routed after a next.config.js rewrite: %s reaches the upstream as %s', async (target, expected) => {
    const res = await rawRequest(app.url, 'GET', target, sameOrigin);
    expect(res.status).toBe(200);
    expect(json(res).url).toBe(expected);
    expect(seen.map((call) => call.url)).toEqual([expected]);
  });

  it.each(['/backend/a%2Fb', '/api/%69nternal/secrets'])('refuses %s with 400 bad_path, the upstream not called', async (target) => {
    const res = await rawRequest(app.url, 'GET', target, sameOrigin);
    expect(res.status).toBe(400);
    expect(json(res)).toEqual({ error: { code: 'bad_path', message: expect.any(String) } });
    expect(seen).toHaveLength(0);
  });

  it('captures the login into httpOnly cookies and answers without the tokens', async () => {
    const res = await rawRequest(
      app.url,
      'POST',
      '/api/login',
      { 'content-type': 'application/json', origin: app.url },
      '{"email":"a","password":"b"}',
    );
    expect(res.status).toBe(200);
    const cookies = res.headers['set-cookie'] ?? [];
    expect(cookies).toHaveLength(2);
    expect(cookies[0]).toMatch(/^auth-token=[\w.-]+; Path=\/; HttpOnly; SameSite=Lax; Max-Age=\d+$/);
    expect(cookies[1]).toMatch(/^refresh-token=refresh-ada-\d+-0; Path=\/; HttpOnly; SameSite=Lax$/);
    expect(res.body.toString()).toBe('{"user":{"name":"Ada"}}');
    expect(res.headers['cache-control']).toBe('private, no-store');
  });

  it('refuses a cross-site login with 403 csrf, before the upstream is called', async () => {
    const res = await rawRequest(
      app.url,
      'POST',
      '/api/login',
      { 'content-type': 'application/json', origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' },
      '{}',
    );
    expect(res.status).toBe(403);
    expect(json(res)).toEqual({ error: { code: 'csrf', message: expect.any(String) } });
    expect(seen).toHaveLength(0);
  });

  it('answers logout itself, clearing both cookies', async () => {
    const res = await rawRequest(app.url, 'POST', '/api/logout', { ...sameOrigin, cookie: 'auth-token=x' });
    expect(res.status).toBe(200);
    expect(json(res)).toEqual({ loggedOut: true });
    expect(res.headers['set-cookie']).toEqual([
      'auth-token=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0',
      'refresh-token=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0',
    ]);
  });

  it('refreshes once for five concurrent requests whose access token expired (single flight), each forwarded with the new token', async () => {
    const cookie = `auth-token=${fakeJwt({ sub: 'ada', exp: now() - 10 })}; refresh-token=refresh-ada-old`;
    const answers = await Promise.all(
      Array.from({ length: 5 }, (_, i) => rawRequest(app.url, 'GET', `/api/r/${i}`, { ...sameOrigin, cookie })),
    );
    expect(answers.map((res) => res.status)).toEqual([200, 200, 200, 200, 200]);
    expect(refreshes).toBe(1);
    const tokens = new Set(answers.map((res) => json(res).token));
    expect(tokens.size).toBe(1);
    for (const res of answers) expect(res.headers['set-cookie']?.[0]).toContain(`auth-token=${String([...tokens][0])};`);
  });

  it('answers GET /api/session without the token: {"authenticated":true,"expiresAt":…}', async () => {
    const exp = now() + 300;
    const res = await rawRequest(app.url, 'GET', '/api/session', { ...sameOrigin, cookie: `auth-token=${fakeJwt({ exp })}` });
    expect(res.status).toBe(200);
    expect(json(res)).toEqual({ authenticated: true, expiresAt: new Date(exp * 1000).toISOString() });
  });

  it('streams a 1 GiB upload to the upstream byte for byte, the Next process growing by less than 200 MiB', async () => {
    const { result, growthMiB } = await peakRss(
      () =>
        new Promise<Record<string, unknown>>((resolve, reject) => {
          const req = http.request(
            `${app.url}/api/upload`,
            { method: 'POST', headers: { ...sameOrigin, 'content-type': 'application/octet-stream', 'content-length': GiB } },
            (res) => {
              readBody(res).then((body) => resolve(JSON.parse(body.toString()) as Record<string, unknown>), reject);
            },
          );
          req.on('error', reject);
          const chunk = Buffer.alloc(1024 * 1024, 9);
          let sent = 0;
          const pump = () => {
            while (sent < GiB) {
              sent += chunk.length;
              if (!req.write(chunk)) return void req.once('drain', pump);
            }
            req.end();
          };
          pump();
        }),
    );
    expect(result.bytes).toBe(GiB);
    expect(growthMiB).toBeLessThan(200);
  }, 120_000);

  it('streams a 1 GiB download whole, the Next process growing by less than 200 MiB (Content-Length is dropped by Next: documented)', async () => {
    const { result, growthMiB } = await peakRss(
      () =>
        new Promise<{ bytes: number; length: string | undefined }>((resolve, reject) => {
          http
            .get(`${app.url}/api/download`, { headers: { 'accept-encoding': 'identity' } }, (res) => {
              let bytes = 0;
              res.on('data', (chunk: Buffer) => (bytes += chunk.length));
              res.on('end', () => resolve({ bytes, length: res.headers['content-length'] }));
              res.on('error', reject);
            })
            .on('error', reject);
        }),
    );
    expect(result).toEqual({ bytes: GiB, length: undefined });
    expect(growthMiB).toBeLessThan(200);
  }, 120_000);

  it('abandons the upstream download when the client goes away mid-body', async () => {
    await new Promise<void>((resolve, reject) => {
      const req = http.get(`${app.url}/api/download`, (res) => {
        let bytes = 0;
        res.on('data', (chunk: Buffer) => {
          bytes += chunk.length;
          if (bytes > 8 * 1024 * 1024) {
            req.destroy();
            resolve();
          }
        });
      });
      req.on('error', () => {});
      setTimeout(() => reject(new Error('no bytes in 10 s')), 10_000).unref();
    });
    await expect(downloadClosedEarly).resolves.toBe(true);
  });

  it('decodes an answer the upstream compressed although asked for identity (Next drops Content-Encoding)', async () => {
    const res = await rawRequest(app.url, 'GET', '/api/gzip', { 'accept-encoding': 'identity' });
    expect(res.status).toBe(200);
    expect(res.headers['content-encoding']).toBeUndefined();
    expect(res.body.toString()).toBe('compressed though asked for identity');
  });

  it('refuses a GET with a body (Next never reads it) with 400 bad_request, the upstream not called', async () => {
    const res = await rawRequest(app.url, 'GET', '/api/search', { 'content-type': 'application/json', 'content-length': '9' }, '{"q":"x"}');
    expect(res.status).toBe(400);
    expect(json(res)).toEqual({ error: { code: 'bad_request', message: expect.any(String) } });
    expect(seen).toHaveLength(0);
  });

  it('never forwards the x-middleware-* headers a proxy.ts run or a client could add', async () => {
    const res = await rawRequest(app.url, 'GET', '/api/h', {
      'x-middleware-set-cookie': 'auth-token=stolen',
      'x-middleware-override-headers': 'cookie',
    });
    expect(res.status).toBe(200);
    expect(Object.keys(seen[0]?.headers ?? {}).filter((name) => name.startsWith('x-middleware'))).toEqual([]);
  });

  it('passes server-sent events event by event, with no compression on the way (Accept-Encoding: gzip)', async () => {
    await expectEventByEvent(`${app.url}/api/events`, events.signal, { 'accept-encoding': 'gzip, deflate, br' });
  });
});

describe('a server component page (requireSession) and proxy.ts (createSessionProxy) under next start', () => {
  it('redirects a visitor without a session to /login?next=%2Fdashboard, without calling the API', async () => {
    const res = await rawRequest(app.url, 'GET', '/dashboard');
    expect(res.status).toBe(307);
    expect(res.headers.location).toBe('/login?next=%2Fdashboard');
    expect(seen).toHaveLength(0);
  });

  it('renders the user from the API with the session token, which never appears in the HTML', async () => {
    const token = fakeJwt({ sub: 'ada', exp: now() + 600 });
    const res = await rawRequest(app.url, 'GET', '/dashboard', { cookie: `auth-token=${token}` });
    expect(res.status).toBe(200);
    expect(res.body.toString()).toContain(`signed in as <!-- -->Ada Lovelace`);
    expect(res.body.toString()).not.toContain(token);
    expect(seen.map((call) => call.headers['auth-token'])).toEqual([token]);
  });

  it('refreshes an expired access token in proxy.ts before the render: one refresh, the page rendered with the new token, the new cookies on the answer', async () => {
    const expired = fakeJwt({ sub: 'ada', exp: now() - 5 });
    // A refresh token of its own: the one above is in the reuse memory now.
    const res = await rawRequest(app.url, 'GET', '/dashboard', { cookie: `auth-token=${expired}; refresh-token=refresh-ada-page` });
    expect(res.status).toBe(200);
    expect(refreshes).toBe(1);
    const cookies = res.headers['set-cookie'] ?? [];
    const newToken = /^auth-token=([^;]+);/.exec(cookies[0] ?? '')?.[1];
    expect(newToken).toBeDefined();
    expect(cookies[1]).toMatch(/^refresh-token=refresh-ada-\d+-1; Path=\/; HttpOnly; SameSite=Lax$/);
    // The /me call of the render carried the refreshed token, not the expired one.
    expect(seen.filter((call) => call.url === '/v1/me').map((call) => call.headers['auth-token'])).toEqual([newToken]);
    const html = res.body.toString();
    expect(html).toContain('Ada Lovelace');
    expect(html).not.toContain(String(newToken));
    expect(html).not.toContain('refresh-ada-');
  });

  it("keeps a prerendered page that carries proxy.ts's new cookies out of shared caches (private, no-store)", async () => {
    const plain = await rawRequest(app.url, 'GET', '/static');
    expect(plain.status).toBe(200);
    expect(plain.headers['set-cookie']).toBeUndefined();
    const expired = fakeJwt({ sub: 'ada', exp: now() - 5 });
    const res = await rawRequest(app.url, 'GET', '/static', { cookie: `auth-token=${expired}; refresh-token=refresh-ada-static` });
    expect(res.status).toBe(200);
    expect(res.headers['set-cookie']).toHaveLength(2);
    expect(res.headers['cache-control']).toBe('private, no-store');
  });

  it('clears the cookies and redirects to the login page when the refresh token is refused', async () => {
    const expired = fakeJwt({ sub: 'ada', exp: now() - 5 });
    const res = await rawRequest(app.url, 'GET', '/dashboard', { cookie: `auth-token=${expired}; refresh-token=revoked` });
    expect(res.status).toBe(307);
    expect(res.headers.location).toBe('/login?next=%2Fdashboard');
    expect(res.headers['set-cookie']).toEqual([
      'auth-token=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0',
      'refresh-token=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0',
    ]);
  });
});

describe('server components and server actions, the second outside pass', () => {
  it('a server component keeps a still-valid access token when proxy.ts could not refresh: one refresh attempt, not a second one that would use up the refresh token', async () => {
    const soon = fakeJwt({ sub: 'ada', exp: now() + 10 });
    const res = await rawRequest(app.url, 'GET', '/dashboard', { cookie: `auth-token=${soon}; refresh-token=refresh-token-endpoint-down` });
    expect(res.status).toBe(200);
    expect(res.body.toString()).toContain('Ada Lovelace');
    expect(refreshes).toBe(1);
    expect(seen.filter((call) => call.url === '/v1/me').map((call) => call.headers['auth-token'])).toEqual([soon]);
  });

  it('requireSession sends the visitor to the login page when a later call answers 401 (a session revoked elsewhere), not to an error page', async () => {
    const token = fakeJwt({ sub: 'ada', exp: now() + 600 });
    const res = await rawRequest(app.url, 'GET', '/revoked', { cookie: `auth-token=${token}` });
    expect(res.status).toBe(307);
    expect(res.headers.location).toBe('/login?next=%2Frevoked');
  });

  /** Posts the page's sign-out form as a browser without JavaScript would (the action id rides in the body). */
  async function postSignOut(headers: Record<string, string>) {
    const page = await rawRequest(app.url, 'GET', '/account');
    const field = /name="(\$ACTION_ID_[0-9a-f]+)"/.exec(page.body.toString())?.[1];
    expect(field).toBeDefined();
    const boundary = 'x-boundary-1';
    const body = `--${boundary}\r\nContent-Disposition: form-data; name="${String(field)}"\r\n\r\n\r\n--${boundary}--\r\n`;
    const token = fakeJwt({ sub: 'ada', exp: now() + 600 });
    return rawRequest(
      app.url,
      'POST',
      '/account',
      { 'content-type': `multipart/form-data; boundary=${boundary}`, cookie: `auth-token=${token}`, ...headers },
      body,
    );
  }
  const clearsSession = (res: { headers: http.IncomingHttpHeaders }) =>
    (res.headers['set-cookie'] ?? []).some((cookie) => /^auth-token=;.*Max-Age=0/i.test(cookie));

  it('a same-origin sign-out action clears the session cookies', async () => {
    const res = await postSignOut({ origin: app.url, 'sec-fetch-site': 'same-origin' });
    expect(clearsSession(res)).toBe(true);
  });

  it.each([
    [
      'Sec-Fetch-Site: cross-site (its Origin matching the host, which is all Next checks)',
      () => ({ origin: app.url, 'sec-fetch-site': 'cross-site' }),
    ],
    ['no Origin, no Sec-Fetch-Site, no Referer (Next lets it through with a warning)', () => ({})],
  ])('a sign-out action posted with %s is refused: the session is left as it was', async (_label, headers) => {
    const res = await postSignOut(headers());
    expect(clearsSession(res)).toBe(false);
  });
});

describe('the Next process over the requests above', () => {
  it('printed no uncaught error, DeprecationWarning or MaxListenersExceededWarning', () => {
    expect(app.output()).toContain('Ready');
    expect(app.output()).not.toMatch(/DeprecationWarning|\[DEP\d+\]|MaxListenersExceededWarning|uncaught|unhandled/i);
  });
});
