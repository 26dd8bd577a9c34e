import net from 'node:net';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ApiProxyOptions } from '../../proxy/index';
import { listen, readBody, startProxy, type RunningServer, type recordingLogger } from '../helpers/servers';
import { BrowserSession } from '../helpers/browser-session';

// What an outside pass found in the dialects: a token endpoint echoing credentials, unsafe tokens
// kept for a later logout, the OAuth client's credentials at logout, a trickled login body, a hanging
// revocation, a 1-second expires_in.

const SECRET = 'SECRET-xyzzy-4242';
const PASSWORD = 'hunter2-PASSWORD';
const BASIC = Buffer.from(`bff:${SECRET}`).toString('base64');

type Handler = (req: IncomingMessage, body: string, res: ServerResponse) => void;
let upstream: RunningServer;
let proxy: RunningServer & { logger: ReturnType<typeof recordingLogger> };
/** What the upstream saw: method, url, authorization, cookie, body. */
let seen: Array<{ method: string; url: string; authorization?: string; cookie?: string; body: string }>;

async function start(handler: Handler, options: (url: string) => ApiProxyOptions) {
  seen = [];
  upstream = await listen((req, res) => {
    void readBody(req).then((raw) => {
      const body = raw.toString();
      seen.push({
        method: req.method ?? '',
        url: req.url ?? '',
        authorization: req.headers.authorization,
        cookie: req.headers.cookie,
        body,
      });
      handler(req, body, res);
    });
  });
  proxy = await startProxy(options(upstream.url));
}

afterEach(async () => {
  await proxy?.close();
  await upstream?.close();
});

const json = (res: ServerResponse, status: number, body: unknown) => {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
};
const oauth2 = (extra: Partial<NonNullable<ApiProxyOptions['oauth2']>> = {}) => ({
  tokenUrl: '/oauth/token',
  clientId: 'bff',
  clientSecret: SECRET,
  ...extra,
});
const login = (browser: BrowserSession) => browser.request('POST', '/api/login', { json: { username: 'ada', password: PASSWORD } });

describe('a token endpoint that echoes credentials', () => {
  it('drops an error_description that repeats the password or the secret, and keeps the registered error', async () => {
    await start(
      (_req, _body, res) => json(res, 400, { error: 'invalid_grant', error_description: `client ${SECRET} pw ${PASSWORD}` }),
      (url) => ({
        apiUrl: url,
        oauth2: oauth2(),
      }),
    );
    const res = await login(new BrowserSession(proxy.url));
    expect(res.status).toBe(400);
    expect(res.body).toBe('{"error":"invalid_grant"}');
  });

  it('never repeats an unregistered error (its Basic credentials, say): 502, and the log has none of it', async () => {
    await start(
      (req, _body, res) => json(res, 400, { error: `${req.headers.authorization ?? ''} pw=${PASSWORD}\n[next-bff-proxy] forged line` }),
      (url) => ({ apiUrl: url, oauth2: oauth2() }),
    );
    const res = await login(new BrowserSession(proxy.url));
    expect(res.status).toBe(502);
    expect(JSON.parse(res.body).error.code).toBe('bad_login_response');
    const log = proxy.logger.lines.join('\n');
    expect(log).toContain('the token endpoint answered 400 (no usable OAuth 2.0 error)');
    for (const leak of [SECRET, BASIC, PASSWORD, 'forged line']) expect(log + res.body).not.toContain(leak);
  });

  it('scrubs the secret, its Basic form and the password from a successful answer, as it does the tokens', async () => {
    await start(
      (req, body, res) =>
        json(res, 200, {
          access_token: 'access-token-123456',
          token_type: 'Bearer',
          echo: body,
          auth: req.headers.authorization,
          secret: SECRET,
          note: 'kept',
        }),
      (url) => ({ apiUrl: url, oauth2: oauth2() }),
    );
    const res = await login(new BrowserSession(proxy.url));
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toEqual({ token_type: 'Bearer', note: 'kept' });
  });
});

describe('unusable refreshed tokens', () => {
  it('are refused before they are kept: a later logout presents none of them (the cookie dialect)', async () => {
    await start(
      (req, _body, res) => {
        if (req.url === '/auth/refresh') return json(res, 200, { accessToken: 'new,access', refreshToken: 'newRT; admin=1' });
        res.writeHead(204).end();
      },
      (url) => ({
        apiUrl: url,
        authHeader: 'bearer',
        login: { tokenField: 'accessToken' },
        refresh: { dialect: 'cookie', path: '/auth/refresh', tokenField: 'refreshToken' },
        logout: { upstreamPath: '/auth/logout' },
      }),
    );
    const browser = new BrowserSession(proxy.url);
    browser.cookies.set('refresh-token', 'orig-refresh-token');
    const me = await browser.request('GET', '/api/me');
    expect(me.status).toBe(502);
    expect(JSON.parse(me.body).error.code).toBe('bad_upstream_response');
    await browser.request('POST', '/api/logout');
    const logout = seen.filter((call) => call.url === '/auth/logout');
    expect(logout).toHaveLength(1);
    // The refresh token the browser holds, as it was: nothing of the refused answer.
    expect(logout[0]).toMatchObject({ cookie: 'refreshToken=orig-refresh-token', authorization: undefined });
  });
});

describe('logout at an OAuth 2.0 server', () => {
  it('authenticates the client at logout.upstreamPath (Basic), with the refresh token in the form and no user Bearer token', async () => {
    await start(
      (req, _body, res) => {
        if (req.url === '/oauth/token')
          return json(res, 200, { access_token: 'access-token-123456', refresh_token: 'refresh-token-123456' });
        res.writeHead(204).end();
      },
      (url) => ({ apiUrl: url, oauth2: oauth2(), logout: { upstreamPath: '/oauth/logout' } }),
    );
    const browser = new BrowserSession(proxy.url);
    await login(browser);
    await browser.request('POST', '/api/logout');
    const logout = seen.find((call) => call.url === '/oauth/logout');
    expect(logout).toEqual({
      method: 'POST',
      url: '/oauth/logout',
      authorization: `Basic ${BASIC}`,
      cookie: undefined,
      body: 'refresh_token=refresh-token-123456',
    });
  });

  it('answers the browser within timeoutMs when every endpoint hangs (refresh first, then revocation)', async () => {
    await start(
      (req, _body, res) => {
        if (req.url === '/oauth/token' && seen.length === 1)
          return json(res, 200, { access_token: 'access-token-123456', refresh_token: 'refresh-token-123456' });
        // Never answers.
        void res;
      },
      (url) => ({ apiUrl: url, timeoutMs: 600, oauth2: oauth2({ revocationUrl: '/oauth/revoke', revokeAccessToken: true }) }),
    );
    const browser = new BrowserSession(proxy.url);
    await login(browser);
    browser.cookies.set('auth-token', encodeURIComponent('access-token-123456,1'));
    const started = Date.now();
    const res = await browser.request('POST', '/api/logout');
    expect(res.status).toBe(200);
    expect(browser.cookies.size).toBe(0);
    expect(Date.now() - started).toBeLessThan(1_100);
  });
});

describe('the password login body', () => {
  it.each([['Content-Length'], ['chunked']])('gets 408 request_timeout when it stops arriving (%s)', async (framing) => {
    await start(
      (_req, _body, res) => json(res, 500, {}),
      (url) => ({ apiUrl: url, timeoutMs: 400, oauth2: oauth2() }),
    );
    const socket = net.connect(proxy.port, '127.0.0.1');
    const head =
      framing === 'chunked'
        ? 'POST /api/login HTTP/1.1\r\nHost: x\r\nSec-Fetch-Site: same-origin\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n6\r\n{"user\r\n'
        : 'POST /api/login HTTP/1.1\r\nHost: x\r\nSec-Fetch-Site: same-origin\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"user';
    const started = Date.now();
    const answer = await new Promise<string>((resolve) => {
      let text = '';
      socket.on('data', (chunk: Buffer) => (text += chunk.toString()));
      socket.on('close', () => resolve(text));
      socket.write(head);
    });
    expect(answer).toMatch(/^HTTP\/1\.1 408 /);
    expect(answer).toContain('"code":"request_timeout"');
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(seen).toEqual([]);
  });
});

describe('expires_in at the edges', () => {
  it('stores a token of expires_in 1 (Max-Age=1), and reads a session whose known expiry has passed as not authenticated', async () => {
    await start(
      (_req, _body, res) => json(res, 200, { access_token: 'access-token-123456', expires_in: 1 }),
      (url) => ({
        apiUrl: url,
        oauth2: oauth2(),
        refresh: false,
      }),
    );
    const browser = new BrowserSession(proxy.url);
    const res = await login(browser);
    expect(res.status).toBe(200);
    expect(res.setCookies[0]).toMatch(/^auth-token=access-token-123456%2C\d+; Path=\/; HttpOnly; SameSite=Lax; Max-Age=1$/);
    browser.cookies.set('auth-token', encodeURIComponent('access-token-123456,1'));
    expect(JSON.parse((await browser.request('GET', '/api/session')).body)).toEqual({ authenticated: false, expiresAt: null });
  });
});
