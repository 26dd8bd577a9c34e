import type { AddressInfo } from 'node:net';
import request from 'supertest';
import { createDemoApi } from '../../demo-api/server';
import { verifyJwt } from '../../demo-api/jwt';

const SECRET = 'test-secret';
const lines: string[] = [];
const server = createDemoApi({ secret: SECRET, accessTokenTtlSeconds: 600, log: (line) => lines.push(line) });
let url: string;

beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

async function loginTokens(): Promise<{ authToken: string; refreshToken: string }> {
  const res = await request(url).post('/login').send({ email: 'ada@example.com', password: 'lovelace' });
  expect(res.status).toBe(200);
  return res.body as { authToken: string; refreshToken: string };
}

async function login(): Promise<string> {
  return (await loginTokens()).authToken;
}

describe('demo API', () => {
  it('logs in with the demo credentials: an HS256 JWT with exp, and the user', async () => {
    const res = await request(url).post('/login').send({ email: 'ada@example.com', password: 'lovelace' });
    expect(res.status).toBe(200);
    expect(res.body.user).toEqual({ id: 'u1', email: 'ada@example.com', name: 'Ada Lovelace' });
    const claims = verifyJwt(res.body.authToken as string, SECRET);
    expect(claims?.sub).toBe('u1');
    expect((claims?.exp ?? 0) - Math.floor(Date.now() / 1000)).toBeGreaterThan(590);
  });

  it.each([
    [{ email: 'ada@example.com', password: 'wrong' }, 401, 'invalid_credentials'],
    [{ email: 'nobody@example.com', password: 'lovelace' }, 401, 'invalid_credentials'],
    [{ email: 1 }, 401, 'invalid_credentials'],
  ])('refuses %j with %i', async (body, status, code) => {
    const res = await request(url).post('/login').send(body);
    expect(res.status).toBe(status);
    expect(res.body).toEqual({ error: { code, message: expect.any(String) } });
    expect(res.body.authToken).toBeUndefined();
  });

  it('answers 400 to a body that is not a JSON object', async () => {
    const res = await request(url).post('/login').set('content-type', 'application/json').send('[1]');
    expect(res.status).toBe(400);
  });

  it('requires a valid auth-token header for /me', async () => {
    expect((await request(url).get('/me')).status).toBe(401);
    expect((await request(url).get('/me').set('auth-token', 'garbage')).status).toBe(401);
    const token = await login();
    const res = await request(url).get('/me').set('auth-token', token);
    expect(res.status).toBe(200);
    expect(res.body.user.email).toBe('ada@example.com');
  });

  it('keeps a per-user item list', async () => {
    const token = await login();
    const added = await request(url).post('/items').set('auth-token', token).send({ title: 'Write the first program' });
    expect(added.status).toBe(201);
    expect(added.body.item.title).toBe('Write the first program');
    const list = await request(url).get('/items').set('auth-token', token);
    expect(list.body.items.map((item: { title: string }) => item.title)).toContain('Write the first program');
    expect((await request(url).post('/items').set('auth-token', token).send({ title: '' })).status).toBe(400);
  });

  it('counts the bytes of a streamed upload', async () => {
    const token = await login();
    const res = await request(url)
      .post('/upload')
      .set('auth-token', token)
      .set('content-type', 'application/octet-stream')
      .send(Buffer.alloc(123_456));
    expect(res.body).toEqual({ bytes: 123_456 });
  });

  it('revokes the token on logout', async () => {
    const token = await login();
    expect((await request(url).post('/logout').set('auth-token', token)).status).toBe(200);
    expect((await request(url).get('/me').set('auth-token', token)).status).toBe(401);
  });

  it('rotates refresh tokens: each works once and gives a new pair', async () => {
    const first = await loginTokens();
    const rotated = await request(url).post('/refresh').send({ refreshToken: first.refreshToken });
    expect(rotated.status).toBe(200);
    expect(rotated.body.refreshToken).not.toBe(first.refreshToken);
    expect((await request(url).get('/me').set('auth-token', rotated.body.authToken)).status).toBe(200);
    const again = await request(url).post('/refresh').send({ refreshToken: rotated.body.refreshToken });
    expect(again.status).toBe(200);
  });

  it('a reused refresh token revokes its whole family', async () => {
    const first = await loginTokens();
    const rotated = await request(url).post('/refresh').send({ refreshToken: first.refreshToken });
    const reuse = await request(url).post('/refresh').send({ refreshToken: first.refreshToken });
    expect(reuse.status).toBe(401);
    expect(reuse.body.error.code).toBe('invalid_grant');
    expect((await request(url).get('/me').set('auth-token', rotated.body.authToken)).status).toBe(401);
    expect((await request(url).post('/refresh').send({ refreshToken: rotated.body.refreshToken })).status).toBe(401);
  });

  it('within a grace period, a reused refresh token gets the same answer instead', async () => {
    const graceful = createDemoApi({ secret: SECRET, refreshGraceSeconds: 30, log: () => {} });
    await new Promise<void>((resolve) => graceful.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(graceful.address() as AddressInfo).port}`;
    try {
      const { refreshToken } = (await request(base).post('/login').send({ email: 'ada@example.com', password: 'lovelace' })).body as {
        refreshToken: string;
      };
      const a = await request(base).post('/refresh').send({ refreshToken });
      const b = await request(base).post('/refresh').send({ refreshToken });
      expect(b.status).toBe(200);
      expect(b.body).toEqual(a.body);
    } finally {
      graceful.closeAllConnections();
      await new Promise((resolve) => graceful.close(resolve));
    }
  });

  it('refuses an access token as a refresh token, and a refresh token as an access token', async () => {
    const { authToken, refreshToken } = await loginTokens();
    expect((await request(url).post('/refresh').send({ refreshToken: authToken })).status).toBe(401);
    expect((await request(url).get('/me').set('auth-token', refreshToken)).status).toBe(401);
  });

  it('logout revokes the family: the refresh token stops working too', async () => {
    const { authToken, refreshToken } = await loginTokens();
    await request(url).post('/logout').set('auth-token', authToken);
    expect((await request(url).post('/refresh').send({ refreshToken })).status).toBe(401);
  });

  it('logout with only the refresh token (the access token expired) revokes its family', async () => {
    const { authToken, refreshToken } = await loginTokens();
    const res = await request(url).post('/logout').send({ refreshToken });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ loggedOut: true });
    expect((await request(url).post('/refresh').send({ refreshToken })).status).toBe(401);
    expect((await request(url).get('/me').set('auth-token', authToken)).status).toBe(401);
  });

  it('logout with neither a valid access token nor a refresh token is 401', async () => {
    const res = await request(url).post('/logout').send({ refreshToken: 'not-a-token' });
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe('unauthorized');
  });

  it('logs one line per request, with the path and never a token', async () => {
    lines.length = 0;
    const token = await login();
    await request(url).get(`/me?token=${token}`).set('auth-token', token);
    await request(url).get('/nope');
    expect(lines).toEqual([
      expect.stringMatching(/^\[demo-api\] POST \/login 200 [\d.]+ms$/),
      expect.stringMatching(/^\[demo-api\] GET \/me 200 [\d.]+ms$/),
      expect.stringMatching(/^\[demo-api\] GET \/nope 404 [\d.]+ms$/),
    ]);
    expect(lines.join('\n')).not.toContain(token);
  });
});
