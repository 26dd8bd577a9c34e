import type { ApiProxyOptions } from '../../proxy/index';
import { startProxy, type RunningServer, type recordingLogger } from '../helpers/servers';
import { BrowserSession } from '../helpers/browser-session';
import { startOAuthServer, type RunningOAuthServer } from '../helpers/upstreams/oauth-server';

// The proxy in front of @node-oauth/oauth2-server, a real OAuth 2.0 server library: password and refresh
// token grants, rotation on, opaque tokens with a short expires_in, RFC 7009 revocation.

const CLIENT = { id: 'bff', secret: 's3cret-client' };

function oauthOptions(server: RunningOAuthServer, oauth2: Partial<NonNullable<ApiProxyOptions['oauth2']>> = {}): ApiProxyOptions {
  return {
    apiUrl: server.url,
    oauth2: { tokenUrl: '/oauth/token', revocationUrl: '/oauth/revoke', clientId: CLIENT.id, clientSecret: CLIENT.secret, ...oauth2 },
  };
}

let oauth: RunningOAuthServer;
let proxy: RunningServer & { logger: ReturnType<typeof recordingLogger> };

async function start(serverOptions: Parameters<typeof startOAuthServer>[0], options: (s: RunningOAuthServer) => ApiProxyOptions) {
  oauth = await startOAuthServer({ clients: [{ ...CLIENT, grants: ['password', 'refresh_token'] }], ...serverOptions });
  proxy = await startProxy(options(oauth));
}

afterEach(async () => {
  await proxy?.close();
  await oauth?.close();
});

async function signIn(session: BrowserSession) {
  const res = await session.request('POST', '/api/login', { json: { username: 'ada', password: 'lovelace' } });
  expect(res.status).toBe(200);
  return res;
}

describe('login through the password grant', () => {
  it('turns {username, password} into the grant and the tokens into httpOnly cookies, keeping expires_in with the opaque token', async () => {
    await start({ accessTokenLifetime: 60 }, (s) => oauthOptions(s));
    const browser = new BrowserSession(proxy.url);
    const before = Math.floor(Date.now() / 1000);
    const res = await signIn(browser);
    const body = JSON.parse(res.body) as Record<string, unknown>;
    expect(Object.keys(body).sort()).toEqual(['expires_in', 'token_type']);
    expect(body.token_type).toBe('Bearer');
    expect(oauth.stats.tokenRequests).toEqual({ password: 1 });
    expect(oauth.stats.lastTokenRequestAuth).toBe('basic');

    const [access, refresh] = res.setCookies;
    const stored = /^auth-token=([0-9a-f]{64})%2C(\d+); Path=\/; HttpOnly; SameSite=Lax; Max-Age=(\d+)$/.exec(access ?? '');
    expect(stored).not.toBeNull();
    const [, token, expiresAt, maxAge] = stored as RegExpExecArray;
    expect(oauth.isAccessTokenValid(token ?? '')).toBe(true);
    expect(Number(expiresAt)).toBeGreaterThanOrEqual(before + 59);
    expect(Number(expiresAt)).toBeLessThanOrEqual(before + 61);
    expect(Number(maxAge)).toBeGreaterThanOrEqual(58);
    expect(Number(maxAge)).toBeLessThanOrEqual(60);
    expect(refresh).toMatch(/^refresh-token=[0-9a-f]{64}; Path=\/; HttpOnly; SameSite=Lax$/);
    expect(res.body).not.toContain(token);

    const session = await browser.request('GET', '/api/session');
    expect(JSON.parse(session.body)).toEqual({ authenticated: true, expiresAt: new Date(Number(expiresAt) * 1000).toISOString() });
    const me = await browser.request('GET', '/api/me');
    expect(me.status).toBe(200);
    expect(JSON.parse(me.body)).toEqual({ id: 'u1', username: 'ada' });
  });

  it('accepts a form-encoded login and client_secret_post', async () => {
    await start({}, (s) => oauthOptions(s, { clientAuth: 'client_secret_post' }));
    const browser = new BrowserSession(proxy.url);
    const res = await browser.request('POST', '/api/login', { form: 'username=ada&password=lovelace' });
    expect(res.status).toBe(200);
    expect(oauth.stats.lastTokenRequestAuth).toBe('post');
    expect((await browser.request('GET', '/api/me')).status).toBe(200);
  });

  it("passes the server's invalid_grant on as 400 with error and error_description only, and sets no cookie", async () => {
    await start({}, (s) => oauthOptions(s));
    const browser = new BrowserSession(proxy.url);
    const res = await browser.request('POST', '/api/login', { json: { username: 'ada', password: 'wrong' } });
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body)).toEqual({ error: 'invalid_grant', error_description: 'Invalid grant: user credentials are invalid' });
    expect(res.setCookies).toEqual([]);
  });

  it('answers 400 bad_request without calling the server when the username or password is missing', async () => {
    await start({}, (s) => oauthOptions(s));
    const res = await new BrowserSession(proxy.url).request('POST', '/api/login', { json: { username: 'ada' } });
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body)).toEqual({ error: { code: 'bad_request', message: 'The request is malformed.' } });
    expect(oauth.stats.tokenRequests).toEqual({});
  });

  it('reads a refusal of the client itself (a wrong secret) as a 502 for the browser and a log line naming the options', async () => {
    await start({}, (s) => oauthOptions(s, { clientSecret: 'not-the-secret' }));
    const res = await new BrowserSession(proxy.url).request('POST', '/api/login', { json: { username: 'ada', password: 'lovelace' } });
    expect(res.status).toBe(502);
    expect(JSON.parse(res.body).error.code).toBe('bad_login_response');
    expect(proxy.logger.lines.join('\n')).toMatch(/invalid_client: check oauth2\.clientId, clientSecret and clientAuth/);
    expect(proxy.logger.lines.join('\n')).not.toContain('not-the-secret');
  });
});

describe('refresh with the refresh token grant', () => {
  it('refreshes before the opaque token expires, from the expires_in kept with it, and rotates the refresh token', async () => {
    // Tokens of 5 s, refreshed within 2 s of expiry. The server's expires_in may be a second short (it is
    // computed from its clock): 4 or 5, so the token starts at least 3 s outside the skew, and is inside
    // it 3.1 s later either way.
    await start({ accessTokenLifetime: 5 }, (s) => ({ ...oauthOptions(s), refresh: { skewSeconds: 2 } }));
    const browser = new BrowserSession(proxy.url);
    await signIn(browser);
    const firstRefresh = browser.cookies.get('refresh-token');
    expect((await browser.request('GET', '/api/me')).status).toBe(200);
    expect(oauth.stats.tokenRequests.refresh_token).toBeUndefined();

    await new Promise((resolve) => setTimeout(resolve, 3_100));
    const me = await browser.request('GET', '/api/me');
    expect(me.status).toBe(200);
    expect(oauth.stats.tokenRequests.refresh_token).toBe(1);
    expect(oauth.stats.refreshTokensPresented).toEqual([firstRefresh]);
    expect(me.setCookies).toHaveLength(2);
    expect(browser.cookies.get('refresh-token')).not.toBe(firstRefresh);
    expect(oauth.isAccessTokenValid(decodeURIComponent(browser.cookies.get('auth-token') ?? '').split(',')[0] ?? '')).toBe(true);
  });

  it('runs one refresh for ten concurrent requests (single flight): the rotating server never sees a refresh token twice', async () => {
    await start({ accessTokenLifetime: 60, refreshDelayMs: 200 }, (s) => ({ ...oauthOptions(s), refresh: { skewSeconds: 60 } }));
    const browser = new BrowserSession(proxy.url);
    await signIn(browser);
    const answers = await Promise.all(Array.from({ length: 10 }, () => browser.request('GET', '/api/items')));
    expect(answers.map((a) => a.status)).toEqual(Array(10).fill(200));
    expect(oauth.stats.tokenRequests.refresh_token).toBe(1);
    expect(oauth.stats.refusedRefreshes).toBe(0);
  });

  it('ends the session when the server refuses a reused refresh token (invalid_grant): 401 session_expired, cookies cleared', async () => {
    await start({ accessTokenLifetime: 60 }, (s) => ({ ...oauthOptions(s), refresh: { skewSeconds: 60, reuseWindowSeconds: 0 } }));
    const browser = new BrowserSession(proxy.url);
    await signIn(browser);
    const stale = new Map(browser.cookies);
    expect((await browser.request('GET', '/api/me')).status).toBe(200);
    // A copy of the cookies from before the rotation presents the rotated refresh token again.
    const copy = new BrowserSession(proxy.url);
    for (const [name, value] of stale) copy.cookies.set(name, value);
    const res = await copy.request('GET', '/api/me');
    expect(res.status).toBe(401);
    expect(JSON.parse(res.body).error.code).toBe('session_expired');
    expect(copy.cookies.size).toBe(0);
    expect(oauth.stats.refusedRefreshes).toBe(1);
  });

  it('keeps the session when the token endpoint refuses the client (its secret rotated): 503 refresh_unavailable, cookies kept', async () => {
    const clients = [{ ...CLIENT, grants: ['password', 'refresh_token'] }];
    await start({ accessTokenLifetime: 60, clients }, (s) => ({ ...oauthOptions(s), refresh: { skewSeconds: 60 } }));
    const browser = new BrowserSession(proxy.url);
    await signIn(browser);
    // The server's copy of the secret changes; the proxy still presents the old one.
    clients[0]!.secret = 'rotated-at-the-server';
    const res = await browser.request('GET', '/api/me');
    expect(res.status).toBe(503);
    expect(JSON.parse(res.body).error.code).toBe('refresh_unavailable');
    expect(res.setCookies).toEqual([]);
    expect(browser.cookies.has('refresh-token')).toBe(true);
    expect(proxy.logger.lines.join('\n')).toMatch(/the token endpoint answered invalid_client: check oauth2\.clientId/);
  });
});

describe('logout with RFC 7009 revocation', () => {
  it('revokes the refresh token at the revocation endpoint and clears the cookies', async () => {
    await start({}, (s) => oauthOptions(s));
    const browser = new BrowserSession(proxy.url);
    await signIn(browser);
    const refresh = browser.cookies.get('refresh-token');
    const res = await browser.request('POST', '/api/logout');
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toEqual({ loggedOut: true });
    expect(browser.cookies.size).toBe(0);
    expect(oauth.stats.revoked).toEqual([{ token: refresh, hint: 'refresh_token', found: 'refresh_token' }]);
  });

  it('revokes the access token too with revokeAccessToken: it stops working upstream at once', async () => {
    await start({}, (s) => oauthOptions(s, { revokeAccessToken: true }));
    const browser = new BrowserSession(proxy.url);
    await signIn(browser);
    const access = decodeURIComponent(browser.cookies.get('auth-token') ?? '').split(',')[0] ?? '';
    expect(oauth.isAccessTokenValid(access)).toBe(true);
    await browser.request('POST', '/api/logout');
    expect(oauth.stats.revoked.map((r) => r.hint)).toEqual(['refresh_token', 'access_token']);
    expect(oauth.isAccessTokenValid(access)).toBe(false);
  });

  it('clears the cookies even when the revocation endpoint fails', async () => {
    await start({}, (s) => oauthOptions(s, { revocationUrl: '/oauth/no-such-endpoint' }));
    const browser = new BrowserSession(proxy.url);
    await signIn(browser);
    const res = await browser.request('POST', '/api/logout');
    expect(res.status).toBe(200);
    expect(browser.cookies.size).toBe(0);
    expect(proxy.logger.lines.join('\n')).toMatch(/token revocation \(refresh_token\) answered 404/);
  });
});
