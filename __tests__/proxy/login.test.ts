import zlib from 'node:zlib';
import nock from 'nock';
import request from 'supertest';
import { setupNock } from '../helpers/nock';
import { fakeJwt, rawRequest, startProxy, type RunningServer } from '../helpers/servers';

const API = 'http://api.test';
const TOKEN = 'tok_9f8e7d6c5b4a';
// A login whose answer has no refresh token clears the refresh cookie (a previous user's must not survive).
const NO_REFRESH = 'refresh-token=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0';
let proxy: Awaited<ReturnType<typeof startProxy>>;

setupNock();
beforeAll(async () => {
  proxy = await startProxy({ apiUrl: API });
});
afterAll(() => proxy.close());

function login(server: RunningServer = proxy, path = '/api/login') {
  // Sec-Fetch-Site: same-origin is what a browser sends for the app's own fetch (CSRF defence).
  return request(server.url)
    .post(path)
    .set('sec-fetch-site', 'same-origin')
    .set('content-type', 'application/json')
    .send({ email: 'ada@example.com', password: 'lovelace' });
}

describe('a successful login', () => {
  it('moves the token into an httpOnly cookie and sends the rest of the body on', async () => {
    nock(API)
      .post('/login', { email: 'ada@example.com', password: 'lovelace' })
      .reply(200, { authToken: TOKEN, user: { id: 1, name: 'Ada' }, expiresIn: 3600 });
    const res = await login();
    expect(res.status).toBe(200);
    expect(res.headers['set-cookie']).toEqual([`auth-token=${TOKEN}; Path=/; HttpOnly; SameSite=Lax`, NO_REFRESH]);
    expect(res.headers['cache-control']).toBe('private, no-store');
    expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(res.text).toBe('{"user":{"id":1,"name":"Ada"},"expiresIn":3600}');
    expect(res.text).not.toContain(TOKEN);
  });

  it('answers 200 for any upstream 2xx', async () => {
    nock(API).post('/login').reply(201, { authToken: TOKEN });
    const res = await login();
    expect(res.status).toBe(200);
    expect(res.text).toBe('{}');
    expect(res.headers['set-cookie']).toEqual([`auth-token=${TOKEN}; Path=/; HttpOnly; SameSite=Lax`, NO_REFRESH]);
  });

  it('removes every copy of the token, not only the configured field', async () => {
    nock(API)
      .post('/login')
      .reply(200, { authToken: TOKEN, session: { token: TOKEN, note: `Bearer ${TOKEN}` }, list: ['a', TOKEN], [TOKEN]: 1, ok: true });
    const res = await login();
    expect(res.status).toBe(200);
    expect(res.text).not.toContain(TOKEN);
    expect(JSON.parse(res.text)).toEqual({ session: {}, list: ['a'], ok: true });
  });

  it('reads the token from a dotted path', async () => {
    const dotted = await startProxy({ apiUrl: API, login: { tokenField: 'data.accessToken' } });
    try {
      nock(API)
        .post('/login')
        .reply(200, { data: { accessToken: TOKEN, scope: 'all' } });
      const res = await login(dotted);
      expect(res.status).toBe(200);
      expect(res.headers['set-cookie']?.[0]).toMatch(new RegExp(`^auth-token=${TOKEN};`));
      expect(res.text).toBe('{"data":{"scope":"all"}}');
    } finally {
      await dotted.close();
    }
  });

  it("sets Max-Age from a JWT's exp", async () => {
    const exp = Math.floor(Date.now() / 1000) + 900;
    const jwt = fakeJwt({ sub: '1', exp });
    nock(API).post('/login').reply(200, { authToken: jwt });
    const res = await login();
    const cookie = res.headers['set-cookie']?.[0] ?? '';
    expect(cookie.startsWith(`auth-token=${jwt}; Path=/; HttpOnly; SameSite=Lax; Max-Age=`)).toBe(true);
    const maxAge = Number(/Max-Age=(\d+)$/.exec(cookie)?.[1]);
    expect(maxAge).toBeGreaterThanOrEqual(895);
    expect(maxAge).toBeLessThanOrEqual(900);
  });

  it('uses cookie.maxAgeSeconds for a token that is not a JWT, and a session cookie without it', async () => {
    const lasting = await startProxy({ apiUrl: API, cookie: { maxAgeSeconds: 7200 } });
    try {
      nock(API).post('/login').reply(200, { authToken: TOKEN });
      const res = await login(lasting);
      expect(res.headers['set-cookie']).toEqual([`auth-token=${TOKEN}; Path=/; HttpOnly; SameSite=Lax; Max-Age=7200`, NO_REFRESH]);
    } finally {
      await lasting.close();
    }
    nock(API).post('/login').reply(200, { authToken: TOKEN });
    const session = await login();
    expect(session.headers['set-cookie']?.[0]).not.toMatch(/Max-Age|Expires/i);
  });

  it('adds Secure and the __Host- prefix behind a trusted proxy that says https, and neither for an untrusted claim', async () => {
    const trusting = await startProxy({ apiUrl: API, trustProxy: true });
    try {
      nock(API).post('/login').twice().reply(200, { authToken: TOKEN });
      const trusted = await login(trusting).set('x-forwarded-proto', 'https');
      expect(trusted.headers['set-cookie']).toEqual([
        `__Host-auth-token=${TOKEN}; Path=/; HttpOnly; SameSite=Lax; Secure`,
        '__Host-refresh-token=; Path=/; HttpOnly; SameSite=Lax; Secure; Max-Age=0',
      ]);
      const untrusted = await login().set('x-forwarded-proto', 'https');
      expect(untrusted.headers['set-cookie']).toEqual([`auth-token=${TOKEN}; Path=/; HttpOnly; SameSite=Lax`, NO_REFRESH]);
    } finally {
      await trusting.close();
    }
  });

  it('honours cookie options: name, SameSite=Strict, secure: true', async () => {
    const strict = await startProxy({ apiUrl: API, cookie: { name: 'sid', sameSite: 'strict', secure: true } });
    try {
      nock(API).post('/login').reply(200, { authToken: TOKEN });
      const res = await login(strict);
      expect(res.headers['set-cookie']).toEqual([
        `sid=${TOKEN}; Path=/; HttpOnly; SameSite=Strict; Secure`,
        '__Host-refresh-token=; Path=/; HttpOnly; SameSite=Strict; Secure; Max-Age=0',
      ]);
    } finally {
      await strict.close();
    }
  });

  it('asks the upstream for an uncompressed answer, and decodes a gzip one anyway', async () => {
    nock(API)
      .post('/login')
      .matchHeader('accept-encoding', 'identity')
      .reply(200, zlib.gzipSync(JSON.stringify({ authToken: TOKEN, user: 'ada' })), {
        'content-encoding': 'gzip',
        'content-type': 'application/json',
      });
    const res = await login().set('accept-encoding', 'gzip');
    expect(res.status).toBe(200);
    expect(res.headers['content-encoding']).toBeUndefined();
    expect(res.text).toBe('{"user":"ada"}');
    expect(res.headers['set-cookie']?.[0]).toContain(TOKEN);
  });

  it('passes upstream headers on except its cookies and the ones describing the old body', async () => {
    nock(API)
      .post('/login')
      .reply(
        200,
        { authToken: TOKEN },
        { 'x-request-id': 'r-9', etag: '"abc"', 'set-cookie': 'upstream=1', 'cache-control': 'public, max-age=60' },
      );
    const res = await login();
    expect(res.headers['x-request-id']).toBe('r-9');
    expect(res.headers.etag).toBeUndefined();
    expect(res.headers['cache-control']).toBe('private, no-store');
    expect(res.headers['set-cookie']).toEqual([`auth-token=${TOKEN}; Path=/; HttpOnly; SameSite=Lax`, NO_REFRESH]);
  });

  it.each([
    '/api/login;x',
    '/api/%6cogin',
    '/api/login%3Bx',
    '/api/login%20',
    '/api/login.',
    '/api/%EF%BD%8C%EF%BD%8F%EF%BD%87%EF%BD%89%EF%BD%8E',
  ])('refuses %s with 400 bad_path, the upstream not called (a form of /login a rewrite would not match)', async (path) => {
    const res = await rawRequest(proxy.url, 'POST', path, { 'content-type': 'application/json', 'sec-fetch-site': 'same-origin' }, '{}');
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body.toString())).toEqual({ error: { code: 'bad_path', message: expect.any(String) } });
    expect(res.headers['set-cookie']).toBeUndefined();
  });

  it.each(['/api/LOGIN', '/api/login/', '/api/login?x=1', '/api/Login.json', '/api/log%C4%B1n'])(
    'intercepts %s as the login too',
    async (path) => {
      nock(API)
        .post(() => true)
        .reply(200, { authToken: TOKEN });
      const res = await rawRequest(proxy.url, 'POST', path, { 'content-type': 'application/json', 'sec-fetch-site': 'same-origin' }, '{}');
      expect(res.status).toBe(200);
      expect(res.body.toString()).toBe('{}');
      expect(res.headers['set-cookie']).toEqual([`auth-token=${TOKEN}; Path=/; HttpOnly; SameSite=Lax`, NO_REFRESH]);
    },
  );

  it('answers 405 to a login by GET, without calling the upstream', async () => {
    const res = await request(proxy.url).get('/api/login?email=a&password=b');
    expect(res.status).toBe(405);
    expect(res.headers.allow).toBe('POST');
    expect(res.body).toEqual({ error: { code: 'method_not_allowed', message: expect.any(String) } });
  });
});

describe('a refused login', () => {
  it('passes the upstream status and body through unchanged, with no Set-Cookie at all', async () => {
    nock(API).post('/login').reply(401, '{"error":"bad credentials"}', { 'content-type': 'application/json', 'set-cookie': 'x=1' });
    const res = await login().set('cookie', `auth-token=${TOKEN}`);
    expect(res.status).toBe(401);
    expect(res.text).toBe('{"error":"bad credentials"}');
    expect(res.headers['set-cookie']).toBeUndefined();
  });

  it('passes a 500 through unchanged', async () => {
    nock(API).post('/login').reply(500, 'oops', { 'content-type': 'text/plain' });
    const res = await login();
    expect(res.status).toBe(500);
    expect(res.text).toBe('oops');
    expect(res.headers['set-cookie']).toBeUndefined();
  });
});

describe('a login answer that cannot be used gives 502 bad_login_response and no cookie', () => {
  const cases: Array<[string, () => nock.Scope]> = [
    ['a body that is not JSON', () => nock(API).post('/login').reply(200, '<html>welcome</html>', { 'content-type': 'text/html' })],
    ['a JSON array', () => nock(API).post('/login').reply(200, [TOKEN])],
    ['no body', () => nock(API).post('/login').reply(204)],
    ['a missing token', () => nock(API).post('/login').reply(200, { user: 'ada' })],
    ['a token that is a number', () => nock(API).post('/login').reply(200, { authToken: 12345 })],
    ['an empty token', () => nock(API).post('/login').reply(200, { authToken: '' })],
    ['a token with a space', () => nock(API).post('/login').reply(200, { authToken: 'abc def' })],
    ['a token with a semicolon', () => nock(API).post('/login').reply(200, { authToken: 'abc;Domain=evil.test' })],
    ['a token with CR LF', () => nock(API).post('/login').reply(200, { authToken: 'abc\r\nSet-Cookie: x=1' })],
    ['a token with a comma', () => nock(API).post('/login').reply(200, { authToken: 'a,b' })],
    [
      'a token that would make a cookie over 4096 bytes',
      () =>
        nock(API)
          .post('/login')
          .reply(200, { authToken: 'a'.repeat(4096 - 'auth-token'.length + 1) }),
    ],
    [
      'a JWT that has already expired',
      () =>
        nock(API)
          .post('/login')
          .reply(200, { authToken: fakeJwt({ exp: Math.floor(Date.now() / 1000) - 10 }) }),
    ],
    [
      'an answer over the 64 KiB cap',
      () =>
        nock(API)
          .post('/login')
          .reply(200, { authToken: TOKEN, padding: 'x'.repeat(70_000) }),
    ],
    [
      'a gzip bomb over the cap once decoded',
      () =>
        nock(API)
          .post('/login')
          .reply(200, zlib.gzipSync(Buffer.alloc(10_000_000, 32)), { 'content-encoding': 'gzip' }),
    ],
    ['an encoding that cannot be decoded', () => nock(API).post('/login').reply(200, 'xx', { 'content-encoding': 'compress' })],
    [
      'a gzip header over plain bytes',
      () =>
        nock(API)
          .post('/login')
          .reply(200, JSON.stringify({ authToken: TOKEN }), { 'content-encoding': 'gzip' }),
    ],
  ];

  it.each(cases)('%s', async (_name, upstream) => {
    upstream();
    const res = await login();
    expect(res.status).toBe(502);
    expect(res.body).toEqual({ error: { code: 'bad_login_response', message: expect.any(String) } });
    expect(res.headers['set-cookie']).toBeUndefined();
    expect(res.text).not.toContain(TOKEN);
  });

  it('accepts a token right at the 4096-byte cookie limit', async () => {
    const token = 'a'.repeat(4096 - 'auth-token'.length);
    nock(API).post('/login').reply(200, { authToken: token });
    const res = await login();
    expect(res.status).toBe(200);
    expect(res.headers['set-cookie']?.[0]).toContain(`auth-token=${token};`);
  });

  it('logs why, without the token', async () => {
    proxy.logger.lines.length = 0;
    nock(API).post('/login').reply(200, { authToken: 'has space', other: TOKEN });
    await login();
    expect(proxy.logger.lines).toEqual([expect.stringContaining('bad_login_response')]);
    expect(proxy.logger.lines.join('\n')).not.toContain('has space');
    expect(proxy.logger.lines.join('\n')).not.toContain(TOKEN);
  });
});
