import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { launchChromium } from '../helpers/browser';
import { startDemoApi, type DemoApiProcess } from '../helpers/demo-api-process';
import { buildNextApp, startNextApp, type NextApp } from '../helpers/next-app';
import { startOAuthServer, type RunningOAuthServer } from '../helpers/upstreams/oauth-server';

// The demo as a user meets it: `next start` on the demo API (a real process), driven by Chromium.
// The steps build on each other (a session is made, used, then ended), so they run in order.
const DIST = '.next-e2e';
const ARTIFACTS = path.join(__dirname, 'artifacts');

let api: DemoApiProcess;
let app: NextApp;
let browser: Browser;
let context: BrowserContext;
let page: Page;

beforeAll(async () => {
  buildNextApp(DIST);
  api = await startDemoApi();
  app = await startNextApp(DIST, { API_URL: api.url });
  browser = await launchChromium();
  context = await browser.newContext();
  page = await context.newPage();
}, 300_000);

afterAll(async () => {
  await browser?.close();
  await app?.stop();
  await api?.stop();
});

async function sessionCookie() {
  return (await context.cookies(app.url)).find((cookie) => cookie.name === 'auth-token');
}

describe('the demo in a real browser', () => {
  it('shows the upstream error for a wrong password, and sets no cookie', async () => {
    await page.goto(`${app.url}/login`);
    await page.fill('#email', 'ada@example.com');
    await page.fill('#password', 'not-the-password');
    await page.click('button[type=submit]');
    await expect(page.locator('p.error[role=alert]').textContent()).resolves.toBe('Wrong email or password.');
    expect(await sessionCookie()).toBeUndefined();
  });

  it('logs in with the right password and lands on the profile', async () => {
    await page.fill('#password', 'lovelace');
    await Promise.all([page.waitForURL(`${app.url}/profile`), page.click('button[type=submit]')]);
    expect(new URL(page.url()).pathname).toBe('/profile');
  });

  it('keeps the token out of JavaScript: HttpOnly cookie, absent from document.cookie', async () => {
    const cookie = await sessionCookie();
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Lax', path: '/' });
    expect(cookie?.value.split('.')).toHaveLength(3);
    const visible = await page.evaluate(() => document.cookie);
    expect(visible).not.toContain('auth-token');
    expect(visible).not.toContain(cookie?.value ?? '<none>');
    const html = await page.content();
    expect(html).not.toContain(cookie?.value ?? '<none>');
  });

  it('renders the user on the server', async () => {
    const response = await page.goto(`${app.url}/profile`);
    const serverHtml = (await response?.text()) ?? '';
    expect(serverHtml).toContain('Ada Lovelace');
    expect(serverHtml).toContain('ada@example.com');
    await expect(page.getByTestId('user-name').textContent()).resolves.toBe('Ada Lovelace');
  });

  it('adds an item through the proxy, and a reload keeps the session and the item', async () => {
    await page.fill('#title', 'Note G');
    await page.click('text=Add');
    await page.getByTestId('items').getByText('Note G').waitFor();
    await page.reload();
    expect(new URL(page.url()).pathname).toBe('/profile');
    await page.getByTestId('items').getByText('Note G').waitFor();
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: path.join(ARTIFACTS, 'profile.png'), fullPage: true });
  });

  it('renders the App Router dashboard in a server component: the user and the items, the header signed in, no token in the HTML', async () => {
    const token = (await sessionCookie())?.value ?? '<none>';
    const response = await page.goto(`${app.url}/dashboard`);
    const serverHtml = (await response?.text()) ?? '';
    expect(serverHtml).toContain('Ada Lovelace');
    expect(serverHtml).toContain('Note G');
    expect(serverHtml).not.toContain(token);
    await expect(page.getByTestId('signed-in').textContent()).resolves.toBe('Signed in as Ada Lovelace');
  });

  it('adds an item with a server action; neither the action answer nor the page carries the token', async () => {
    const token = (await sessionCookie())?.value ?? '<none>';
    await page.locator('header[data-hydrated="true"]').waitFor();
    // The action's answer is read on its way in (Playwright may drop a response body it saw go by): the
    // RSC payload of the re-rendered page (or, if the form posted before hydration, the page itself).
    const answers: Array<{ status: number; body: string }> = [];
    await page.route('**/dashboard', async (route) => {
      if (route.request().method() !== 'POST') return route.continue();
      const response = await route.fetch();
      answers.push({ status: response.status(), body: await response.text() });
      await route.fulfill({ response });
    });
    await page.fill('#title', 'Analytical Engine');
    await page.click('text=Add with a server action');
    await page.getByTestId('items').getByText('Analytical Engine').waitFor();
    await page.unroute('**/dashboard');
    expect(answers).toHaveLength(1);
    expect(answers[0]?.status).toBe(200);
    expect(answers[0]?.body).toContain('Analytical Engine');
    expect(answers[0]?.body).not.toContain(token);
    expect(await page.content()).not.toContain(token);
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard.png'), fullPage: true });
  });

  it('serves a favicon', async () => {
    const res = await page.request.get(`${app.url}/favicon.ico`);
    expect(res.status()).toBe(200);
    expect(res.headers()['content-type']).toBe('image/x-icon');
  });

  it('logs out: the cookie is gone and /profile redirects to /login', async () => {
    await page.goto(`${app.url}/profile`);
    await Promise.all([page.waitForURL(`${app.url}/login`), page.click('text=Sign out')]);
    expect(await sessionCookie()).toBeUndefined();
    await page.goto(`${app.url}/profile`);
    expect(new URL(page.url()).pathname).toBe('/login');
    expect(new URL(page.url()).searchParams.get('next')).toBe('/profile');
    // The demo API was told: the token was revoked, not only forgotten by the browser.
    expect(api.output()).toMatch(/POST \/logout 200/);
  });
});

describe('the demo with csrf.requireHeader on (DEMO_CSRF_HEADER=1)', () => {
  let strictApp: NextApp;
  let strictPage: Page;

  beforeAll(async () => {
    strictApp = await startNextApp(DIST, { API_URL: api.url, DEMO_CSRF_HEADER: '1' });
    strictPage = await (await browser.newContext()).newPage();
  });
  afterAll(() => strictApp?.stop());

  it("still logs in and adds items: the demo's fetch sends X-CSRF", async () => {
    await strictPage.goto(`${strictApp.url}/login`);
    await strictPage.fill('#password', 'lovelace');
    await Promise.all([strictPage.waitForURL(`${strictApp.url}/profile`), strictPage.click('button[type=submit]')]);
    await strictPage.fill('#title', 'Strict item');
    await strictPage.click('text=Add');
    await strictPage.getByTestId('items').getByText('Strict item').waitFor();
  });

  it('refuses a same-origin fetch that lacks the header', async () => {
    const status = await strictPage.evaluate(async () => (await fetch('/api/items')).status);
    expect(status).toBe(403);
  });
});

describe('a session that outlives its access token (refresh)', () => {
  // Access tokens of 6 s, refreshed within 1 s of expiry: the test can wait past a token's lifetime, with
  // 5 s of margin on either side for the steps that must not refresh.
  let shortApi: DemoApiProcess;
  let shortApp: NextApp;
  let shortPage: Page;

  beforeAll(async () => {
    shortApi = await startDemoApi({ DEMO_ACCESS_TOKEN_TTL_SECONDS: '6' });
    shortApp = await startNextApp(DIST, { API_URL: shortApi.url, DEMO_REFRESH_SKEW_SECONDS: '1' });
    shortPage = await (await browser.newContext()).newPage();
  });
  afterAll(async () => {
    await shortApp?.stop();
    await shortApi?.stop();
  });

  const refreshesSeen = () => (shortApi.output().match(/POST \/refresh 200/g) ?? []).length;

  it('stays logged in past the access token lifetime with exactly one refresh', async () => {
    await shortPage.goto(`${shortApp.url}/login`);
    await shortPage.fill('#password', 'lovelace');
    await Promise.all([shortPage.waitForURL(`${shortApp.url}/profile`), shortPage.click('button[type=submit]')]);
    await shortPage.getByText('No items yet.').waitFor();
    expect(refreshesSeen()).toBe(0);

    await new Promise((resolve) => setTimeout(resolve, 7_000));
    const response = await shortPage.reload();
    expect(new URL(shortPage.url()).pathname).toBe('/profile');
    expect(await response?.text()).toContain('Ada Lovelace');
    await shortPage.getByText('No items yet.').waitFor();
    const status = await shortPage.evaluate(async () => (await fetch('/api/items', { headers: { 'x-csrf': '1' } })).status);
    expect(status).toBe(200);
    expect(refreshesSeen()).toBe(1);
    const cookies = await shortPage.context().cookies(shortApp.url);
    expect(cookies.find((cookie) => cookie.name === 'refresh-token')).toMatchObject({ httpOnly: true });
    expect(await shortPage.evaluate(() => document.cookie)).not.toContain('refresh-token');
  });

  it('renders the App Router dashboard past the next expiry: proxy.ts refreshes once before the server render', async () => {
    const before = (await shortPage.context().cookies(shortApp.url)).find((cookie) => cookie.name === 'refresh-token')?.value;
    await new Promise((resolve) => setTimeout(resolve, 7_000));
    const response = await shortPage.goto(`${shortApp.url}/dashboard`);
    expect(response?.status()).toBe(200);
    expect(new URL(shortPage.url()).pathname).toBe('/dashboard');
    expect(await response?.text()).toContain('Ada Lovelace');
    expect(refreshesSeen()).toBe(2);
    const after = (await shortPage.context().cookies(shortApp.url)).find((cookie) => cookie.name === 'refresh-token');
    expect(after).toMatchObject({ httpOnly: true });
    expect(after?.value).not.toBe(before);
    // The page's own /api calls go on with the rotated cookies: no third refresh.
    const status = await shortPage.evaluate(async () => (await fetch('/api/items', { headers: { 'x-csrf': '1' } })).status);
    expect(status).toBe(200);
    expect(refreshesSeen()).toBe(2);
  });
});

describe('the demo on an OAuth 2.0 server (@node-oauth/oauth2-server): password grant, opaque tokens, rotation, revocation', () => {
  // The same build, told OAUTH_TOKEN_URL: the demo's login form goes to the password grant. Opaque access
  // tokens of 6 s (expires_in is all that tells their expiry), refreshed within 1 s of it.
  let oauth: RunningOAuthServer;
  let oauthApp: NextApp;
  let oauthPage: Page;

  beforeAll(async () => {
    oauth = await startOAuthServer({
      accessTokenLifetime: 6,
      users: [{ username: 'ada@example.com', password: 'lovelace', id: 'u1' }],
      demoApiShapes: true,
    });
    oauthApp = await startNextApp(DIST, {
      API_URL: oauth.url,
      OAUTH_TOKEN_URL: '/oauth/token',
      OAUTH_REVOCATION_URL: '/oauth/revoke',
      OAUTH_CLIENT_ID: 'bff',
      OAUTH_CLIENT_SECRET: 's3cret-client',
      DEMO_REFRESH_SKEW_SECONDS: '1',
    });
    oauthPage = await (await browser.newContext()).newPage();
  });
  afterAll(async () => {
    await oauthApp?.stop();
    await oauth?.close();
  });

  const accessCookie = async () => (await oauthPage.context().cookies(oauthApp.url)).find((cookie) => cookie.name === 'auth-token');

  it('logs in with the password grant: the opaque token is an httpOnly cookie, in no page and no script', async () => {
    await oauthPage.goto(`${oauthApp.url}/login`);
    await oauthPage.fill('#password', 'lovelace');
    await Promise.all([oauthPage.waitForURL(`${oauthApp.url}/profile`), oauthPage.click('button[type=submit]')]);
    await oauthPage.getByText('No items yet.').waitFor();
    expect(oauth.stats.tokenRequests).toEqual({ password: 1 });
    expect(oauth.stats.lastTokenRequestAuth).toBe('basic');
    const cookie = await accessCookie();
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Lax' });
    const token = decodeURIComponent(cookie?.value ?? '').split(',')[0] ?? '<none>';
    expect(oauth.isAccessTokenValid(token)).toBe(true);
    expect(await oauthPage.evaluate(() => document.cookie)).toBe('');
    expect(await oauthPage.content()).not.toContain(token);
  });

  it('stays signed in past the opaque token’s expires_in with exactly one refresh grant, rotated', async () => {
    const before = (await oauthPage.context().cookies(oauthApp.url)).find((cookie) => cookie.name === 'refresh-token')?.value;
    await new Promise((resolve) => setTimeout(resolve, 7_000));
    const response = await oauthPage.reload();
    expect(new URL(oauthPage.url()).pathname).toBe('/profile');
    expect(await response?.text()).toContain('ada@example.com');
    await oauthPage.getByText('No items yet.').waitFor();
    await oauthPage.fill('#title', 'Note G');
    await oauthPage.click('text=Add');
    await oauthPage.getByTestId('items').getByText('Note G').waitFor();
    expect(oauth.stats.tokenRequests.refresh_token).toBe(1);
    expect(oauth.stats.refusedRefreshes).toBe(0);
    expect(oauth.stats.refreshTokensPresented).toEqual([before]);
    const after = (await oauthPage.context().cookies(oauthApp.url)).find((cookie) => cookie.name === 'refresh-token');
    expect(after).toMatchObject({ httpOnly: true });
    expect(after?.value).not.toBe(before);
  });

  it('logs out: the refresh token is revoked at the server (RFC 7009) and the cookies are gone', async () => {
    const refreshToken = (await oauthPage.context().cookies(oauthApp.url)).find((cookie) => cookie.name === 'refresh-token')?.value;
    await Promise.all([oauthPage.waitForURL(`${oauthApp.url}/login`), oauthPage.click('text=Sign out')]);
    expect(await oauthPage.context().cookies(oauthApp.url)).toEqual([]);
    expect(oauth.stats.revoked).toEqual([{ token: refreshToken, hint: 'refresh_token', found: 'refresh_token' }]);
  });
});
