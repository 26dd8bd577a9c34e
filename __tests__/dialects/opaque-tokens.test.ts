import nock from 'nock';
import { setupNock } from '../helpers/nock';
import { startProxy, type RunningServer, type recordingLogger } from '../helpers/servers';
import { BrowserSession } from '../helpers/browser-session';
import { expiresAtFrom, packToken, unpackToken } from '../../proxy/token-expiry';

// An opaque access token's expiry is known only from its answer's expires_in: it is kept with the token
// (in its cookie), so proactive refresh, the cookie's lifetime and /api/session's expiresAt work.

setupNock();
const API = 'http://api.test';
let proxy: RunningServer & { logger: ReturnType<typeof recordingLogger> };

afterEach(async () => {
  await proxy?.close();
});

function jwt(exp: number): string {
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ alg: 'HS256' })}.${part({ sub: 'u1', exp })}.c2lnbmF0dXJl`;
}

describe('the expiry kept in the access cookie', () => {
  it.each([
    ['opaque-token', 1_900_000_000, 'opaque-token,1900000000'],
    ['opaque-token', undefined, 'opaque-token'],
    [jwt(1_900_000_000), 1_800_000_000, jwt(1_900_000_000)],
  ])('packs %s with %s as %s, and reads it back', (token, expiresAt, stored) => {
    expect(packToken(token, expiresAt)).toBe(stored);
    expect(unpackToken(stored)).toEqual({ token, expiresAt: stored === token ? undefined : expiresAt });
  });

  it.each([
    [120, 1_000_120],
    [59.5, 1_000_059],
    ['3599', 1_003_599],
    [0, undefined],
    [1, 1_000_001],
    [0.4, undefined],
    [-1, undefined],
    ['12.5', undefined],
    [Number.NaN, undefined],
    [1e12, undefined],
    [null, undefined],
    [{ seconds: 5 }, undefined],
  ])('reads expires_in %j as %j', (expiresIn, expected) => {
    expect(expiresAtFrom(expiresIn, 1_000_000)).toBe(expected);
  });
});

describe('opaque tokens in the JSON dialect', () => {
  it('gives the cookie the token’s lifetime and /api/session its expiresAt, and refreshes within the skew', async () => {
    proxy = await startProxy({ apiUrl: API, refresh: { skewSeconds: 30 } });
    const browser = new BrowserSession(proxy.url);
    nock(API).post('/login').reply(200, { authToken: 'opaque-a1', refreshToken: 'opaque-r1', expires_in: 40 });
    const login = await browser.request('POST', '/api/login', { json: {} });
    expect(login.setCookies[0]).toMatch(/^auth-token=opaque-a1%2C\d+; Path=\/; HttpOnly; SameSite=Lax; Max-Age=(39|40)$/);
    const session = JSON.parse((await browser.request('GET', '/api/session')).body) as { expiresAt: string };
    expect(Math.abs(Date.parse(session.expiresAt) - (Date.now() + 40_000))).toBeLessThan(2_000);

    // 40 s left is outside the 30 s skew: no refresh. A cookie saying 20 s left is inside it.
    nock(API).get('/me').matchHeader('auth-token', 'opaque-a1').reply(200, {});
    expect((await browser.request('GET', '/api/me')).status).toBe(200);
    browser.cookies.set('auth-token', encodeURIComponent(`opaque-a1,${Math.floor(Date.now() / 1000) + 20}`));
    nock(API).post('/refresh', { refreshToken: 'opaque-r1' }).reply(200, { authToken: 'opaque-a2', expires_in: 40 });
    nock(API).get('/me').matchHeader('auth-token', 'opaque-a2').reply(200, {});
    const me = await browser.request('GET', '/api/me');
    expect(me.status).toBe(200);
    expect(me.setCookies).toHaveLength(1);
    expect(me.setCookies[0]).toMatch(/^auth-token=opaque-a2%2C\d+;/);
  });

  it('leaves a token without expires_in as it always was: the bare token, a session cookie', async () => {
    proxy = await startProxy({ apiUrl: API });
    nock(API).post('/login').reply(200, { authToken: 'opaque-a1' });
    const login = await new BrowserSession(proxy.url).request('POST', '/api/login', { json: {} });
    expect(login.setCookies[0]).toBe('auth-token=opaque-a1; Path=/; HttpOnly; SameSite=Lax');
  });

  it('reads a forged or garbled expiry as no session, never as an error', async () => {
    proxy = await startProxy({ apiUrl: API });
    const browser = new BrowserSession(proxy.url);
    browser.cookies.set('auth-token', encodeURIComponent('opaque-a1,soon'));
    nock(API)
      .get('/me')
      .reply(200, function () {
        return { authToken: this.req.headers['auth-token'] ?? null };
      });
    const res = await browser.request('GET', '/api/me');
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toEqual({ authToken: null });
  });
});
