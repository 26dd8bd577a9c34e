import nock from 'nock';
import request from 'supertest';
import { ProxyConfigError } from '../../proxy/index';
import { resolveOptions } from '../../proxy/resolve-options';
import { setupNock } from '../helpers/nock';
import { startProxy } from '../helpers/servers';
import { expectNoTokenLeak } from './leaks';

const API = 'http://api.test';
const TOKEN = 'cookie-suite-token-8';
setupNock();

function login(url: string) {
  return request(url).post('/api/login').set('sec-fetch-site', 'same-origin').send({});
}

describe('session cookie options', () => {
  it.each([
    [{ name: '__Host-session' }, /needs cookie.secure: true/],
    [{ name: '__Host-session', secure: 'auto' as const }, /needs cookie.secure: true/],
    [{ name: '__Secure-session', secure: false }, /needs cookie.secure: true/],
  ])('refuses a prefixed cookie name without secure: true (%j)', (cookie, message) => {
    expect(() => resolveOptions({ apiUrl: API, cookie })).toThrow(ProxyConfigError);
    expect(() => resolveOptions({ apiUrl: API, cookie })).toThrow(message);
  });

  it('writes a __Host- cookie the way the prefix demands: Secure, Path=/, no Domain', async () => {
    const proxy = await startProxy({ apiUrl: API, cookie: { name: '__Host-session', secure: true } });
    try {
      nock(API).post('/login').reply(200, { authToken: TOKEN });
      const res = await login(proxy.url);
      expect(res.headers['set-cookie']).toEqual([
        `__Host-session=${TOKEN}; Path=/; HttpOnly; SameSite=Lax; Secure`,
        '__Host-refresh-token=; Path=/; HttpOnly; SameSite=Lax; Secure; Max-Age=0',
      ]);
      nock(API).get('/me').matchHeader('auth-token', TOKEN).reply(200, {});
      expect((await request(proxy.url).get('/api/me').set('cookie', `__Host-session=${TOKEN}`)).status).toBe(200);
    } finally {
      await proxy.close();
    }
  });

  it("percent-encodes an opaque base64 token in its cookie (as Next's cookie store does) and sends it upstream as issued", async () => {
    const opaque = 'op/aque+Token=';
    const refresh = 'rt/AbC+xyz==';
    const proxy = await startProxy({ apiUrl: API });
    try {
      nock(API).post('/login').reply(200, { authToken: opaque, refreshToken: refresh });
      const res = await login(proxy.url);
      expect(res.headers['set-cookie']).toEqual([
        'auth-token=op%2Faque%2BToken%3D; Path=/; HttpOnly; SameSite=Lax',
        'refresh-token=rt%2FAbC%2Bxyz%3D%3D; Path=/; HttpOnly; SameSite=Lax',
      ]);
      nock(API).get('/me').matchHeader('auth-token', opaque).reply(200, {});
      expect((await request(proxy.url).get('/api/me').set('cookie', 'auth-token=op%2Faque%2BToken%3D')).status).toBe(200);
    } finally {
      await proxy.close();
    }
  });

  it('warns once when production sets the session cookie without Secure, never with the token', async () => {
    const env = process.env.NODE_ENV;
    (process.env as Record<string, string>).NODE_ENV = 'production';
    const proxy = await startProxy({ apiUrl: API });
    try {
      nock(API).post('/login').times(3).reply(200, { authToken: TOKEN });
      for (let i = 0; i < 3; i++) expect((await login(proxy.url)).status).toBe(200);
      expect(proxy.logger.lines).toEqual([expect.stringContaining('without Secure in production')]);
      expectNoTokenLeak(TOKEN, proxy.logger);
    } finally {
      (process.env as Record<string, string | undefined>).NODE_ENV = env;
      await proxy.close();
    }
  });

  it('does not warn when the cookie is Secure', async () => {
    const env = process.env.NODE_ENV;
    (process.env as Record<string, string>).NODE_ENV = 'production';
    const proxy = await startProxy({ apiUrl: API, cookie: { secure: true } });
    try {
      nock(API).post('/login').reply(200, { authToken: TOKEN });
      await login(proxy.url);
      expect(proxy.logger.lines).toEqual([]);
    } finally {
      (process.env as Record<string, string | undefined>).NODE_ENV = env;
      await proxy.close();
    }
  });

  it.each([
    ['CR LF', 'abc\r\nx-injected: 1'],
    ['a semicolon', 'abc;def'],
    ['a comma', 'abc,def'],
    ['a space', 'abc def'],
    ['a tab', 'abc\tdef'],
    ['a non-ASCII character', 'abcé'],
  ])('refuses to write a token with %s (502, no cookie, token not echoed)', async (_name, token) => {
    const proxy = await startProxy({ apiUrl: API });
    try {
      nock(API).post('/login').reply(200, { authToken: token, user: 'u' });
      const res = await login(proxy.url);
      expect(res.status).toBe(502);
      expect(res.headers['set-cookie']).toBeUndefined();
      expect(res.text).not.toContain('abc');
      expect(proxy.logger.lines.join('\n')).not.toContain('abc');
    } finally {
      await proxy.close();
    }
  });

  it.each([
    ['a semicolon-split value', 'auth-token=abc;def'],
    ['an encoded CR LF', 'auth-token=abc%0d%0ax'],
    ['a comma', 'auth-token=abc,def'],
    ['a quote', 'auth-token=abc"def'],
    ['a duplicate with a bad first value', 'auth-token=a b; auth-token=good'],
  ])('reads a cookie with %s as no session, or only its safe part: never a broken header, never a crash', async (_name, cookie) => {
    const proxy = await startProxy({ apiUrl: API });
    try {
      let seen: string | string[] | undefined;
      nock(API)
        .get('/me')
        .reply(200, function () {
          seen = this.req.headers['auth-token'];
          return {};
        });
      const res = await request(proxy.url).get('/api/me').set('cookie', cookie);
      expect(res.status).toBe(200);
      expect(seen === undefined || /^[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]+$/.test(String(seen))).toBe(true);
    } finally {
      await proxy.close();
    }
  });
});
