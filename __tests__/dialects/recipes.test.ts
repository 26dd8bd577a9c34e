import type { ApiProxyOptions } from '../../proxy/index';
import { listen, startProxy, type RunningServer, type recordingLogger } from '../helpers/servers';
import { BrowserSession } from '../helpers/browser-session';
import { startCookieRefreshApi, type RunningCookieRefreshApi } from '../helpers/upstreams/cookie-refresh-api';
import { startBearerRefreshApi, type RunningBearerRefreshApi } from '../helpers/upstreams/bearer-refresh-api';

// The README's recipes, as written there, against upstream fixtures of each dialect (the OAuth 2.0
// recipe runs against a real server library in oauth2.test.ts).

/** README, Recipes: an API that sets the refresh token as its own cookie (the original App Router pattern). */
const cookieRefreshRecipe = {
  authHeader: 'bearer',
  login: { path: '/auth/login', tokenField: 'data.accessToken' },
  refresh: { dialect: 'cookie', path: '/auth/refresh', upstreamCookieName: 'refreshToken' },
  logout: { upstreamPath: '/auth/logout', upstreamMethod: 'DELETE' },
} satisfies ApiProxyOptions;

/** README, Recipes: an API that takes the refresh token as a Bearer token (common in NestJS). */
const bearerRefreshRecipe = {
  authHeader: 'bearer',
  login: { path: '/auth/login', tokenField: 'accessToken' },
  refresh: { dialect: 'bearer', path: '/auth/refresh', tokenField: 'refreshToken' },
  logout: { upstreamPath: '/auth/logout' },
} satisfies ApiProxyOptions;

let proxy: (RunningServer & { logger: ReturnType<typeof recordingLogger> }) | undefined;
let api: RunningCookieRefreshApi | RunningBearerRefreshApi | undefined;

afterEach(async () => {
  await proxy?.close();
  await api?.close();
  proxy = undefined;
  api = undefined;
});

function accessTokenOf(browser: BrowserSession): string {
  return decodeURIComponent(browser.cookies.get('auth-token') ?? '');
}

describe('recipe: refresh token in the API’s own cookie, DELETE logout', () => {
  async function setUp(skewSeconds = 30) {
    const cookieApi = await startCookieRefreshApi({ accessTokenLifetime: 20 });
    api = cookieApi;
    proxy = await startProxy({ apiUrl: cookieApi.url, ...cookieRefreshRecipe, refresh: { ...cookieRefreshRecipe.refresh, skewSeconds } });
    const browser = new BrowserSession(proxy.url);
    const login = await browser.request('POST', '/api/auth/login', { json: { email: 'ada@example.com', password: 'lovelace' } });
    return { cookieApi, browser, login };
  }

  it('takes the access token from data.accessToken and the refresh token from the API’s Set-Cookie, neither reaching the browser', async () => {
    const { cookieApi, browser, login } = await setUp(5);
    expect(login.status).toBe(200);
    expect(JSON.parse(login.body)).toEqual({ data: { user: { id: 'u1', email: 'ada@example.com', name: 'Ada Lovelace' } } });
    expect(login.setCookies.map((c) => c.split('=')[0])).toEqual(['auth-token', 'refresh-token']);
    const refreshToken = browser.cookies.get('refresh-token') ?? '';
    expect(cookieApi.isRefreshTokenValid(refreshToken)).toBe(true);
    expect(cookieApi.isAccessTokenValid(accessTokenOf(browser))).toBe(true);
    const me = await browser.request('GET', '/api/me');
    expect(me.status).toBe(200);
    expect(cookieApi.stats.refreshCount).toBe(0);
  });

  it('presents the refresh token back as the API’s refreshToken cookie, and stores the rotated one', async () => {
    const { cookieApi, browser } = await setUp(30);
    const first = browser.cookies.get('refresh-token');
    const me = await browser.request('GET', '/api/me');
    expect(me.status).toBe(200);
    expect(cookieApi.stats.refreshCount).toBe(1);
    expect(cookieApi.stats.refreshTokensPresented).toEqual([first]);
    expect(browser.cookies.get('refresh-token')).not.toBe(first);
    expect(me.setCookies.join('\n')).not.toMatch(/refreshToken=/);
  });

  it('logs out with DELETE /auth/logout carrying the access token and the refresh cookie, and clears the cookies', async () => {
    const { cookieApi, browser } = await setUp(5);
    const access = accessTokenOf(browser);
    const refresh = browser.cookies.get('refresh-token');
    const res = await browser.request('POST', '/api/logout');
    expect(res.status).toBe(200);
    expect(browser.cookies.size).toBe(0);
    expect(cookieApi.stats.logoutCalls).toEqual([{ accessToken: access, refreshToken: refresh, status: 204 }]);
    expect(cookieApi.isRefreshTokenValid(refresh ?? '')).toBe(false);
  });
});

describe('recipe: refresh token presented as a Bearer token', () => {
  async function setUp(skewSeconds = 30) {
    const bearerApi = await startBearerRefreshApi({ accessTokenLifetime: 20 });
    api = bearerApi;
    proxy = await startProxy({ apiUrl: bearerApi.url, ...bearerRefreshRecipe, refresh: { ...bearerRefreshRecipe.refresh, skewSeconds } });
    const browser = new BrowserSession(proxy.url);
    const login = await browser.request('POST', '/api/auth/login', { json: { username: 'ada', password: 'lovelace' } });
    return { bearerApi, browser, login };
  }

  it('keeps both tokens out of the body and in httpOnly cookies', async () => {
    const { bearerApi, browser, login } = await setUp(5);
    expect(login.status).toBe(200);
    expect(login.body).toBe('{}');
    expect(bearerApi.isRefreshTokenValid(browser.cookies.get('refresh-token') ?? '')).toBe(true);
    expect((await browser.request('GET', '/api/me')).status).toBe(200);
  });

  it('refreshes with Authorization: Bearer <refresh token> and rotates', async () => {
    const { bearerApi, browser } = await setUp(30);
    const first = browser.cookies.get('refresh-token');
    const me = await browser.request('GET', '/api/me');
    expect(me.status).toBe(200);
    expect(JSON.parse(me.body)).toEqual({ id: 'u1', username: 'ada' });
    expect(bearerApi.stats.refreshTokensPresented).toEqual([first]);
    expect(bearerApi.stats.refreshCount).toBe(1);
    expect(bearerApi.isRefreshTokenValid(first ?? '')).toBe(false);
    expect(bearerApi.isRefreshTokenValid(browser.cookies.get('refresh-token') ?? '')).toBe(true);
  });

  it('logs out with the access token as Bearer, which ends the refresh tokens upstream', async () => {
    const { bearerApi, browser } = await setUp(5);
    const access = accessTokenOf(browser);
    const refresh = browser.cookies.get('refresh-token') ?? '';
    await browser.request('POST', '/api/logout');
    expect(bearerApi.stats.logoutCalls).toEqual([{ accessToken: access, status: 204 }]);
    expect(bearerApi.isRefreshTokenValid(refresh)).toBe(false);
    expect(browser.cookies.size).toBe(0);
  });
});

describe('recipe: two APIs behind one app', () => {
  /** README, Recipes: a second service under /api/billing, and public paths that never carry the token. */
  const twoApisRecipe = (billingUrl: string) =>
    ({
      authHeader: 'bearer',
      routes: [
        { pathPrefix: '/billing', url: billingUrl }, // in the README: process.env.BILLING_API_URL
        { pathPrefix: '/public', token: 'none' },
      ],
    }) satisfies ApiProxyOptions;

  /** An API that names itself and echoes what it got; `/login` answers a session. */
  function echoApi(name: string) {
    return listen((req, res) => {
      req.resume();
      res.writeHead(200, { 'content-type': 'application/json' });
      const body =
        req.url === '/login'
          ? { authToken: 'two-apis-access-token' }
          : { api: name, url: req.url, authorization: req.headers.authorization ?? null };
      res.end(JSON.stringify(body));
    });
  }

  it('sends /api/billing/… to the billing API with the token, /api/public/… to API_URL without it', async () => {
    const main = await echoApi('main');
    const billing = await echoApi('billing');
    try {
      proxy = await startProxy({ apiUrl: main.url, ...twoApisRecipe(`${billing.url}/v2`) });
      const browser = new BrowserSession(proxy.url);
      expect((await browser.request('POST', '/api/login', { json: {} })).status).toBe(200);
      const bearer = 'Bearer two-apis-access-token';
      expect(JSON.parse((await browser.request('GET', '/api/billing/invoices?page=2')).body)).toEqual({
        api: 'billing',
        url: '/v2/invoices?page=2',
        authorization: bearer,
      });
      expect(JSON.parse((await browser.request('GET', '/api/public/news')).body)).toEqual({
        api: 'main',
        url: '/public/news',
        authorization: null,
      });
      expect(JSON.parse((await browser.request('GET', '/api/me')).body)).toEqual({ api: 'main', url: '/me', authorization: bearer });
    } finally {
      await main.close();
      await billing.close();
    }
  });
});
