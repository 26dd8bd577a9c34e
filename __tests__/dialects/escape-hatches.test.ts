import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ApiProxyOptions } from '../../proxy/index';
import { listen, readBody, startProxy, type RunningServer, type recordingLogger } from '../helpers/servers';
import { BrowserSession } from '../helpers/browser-session';

// refresh.perform and logout.perform: the user's own code speaks to the upstream; the proxy keeps the
// rest (single flight, cookies, timeouts, what reaches logs and the browser).

let api: RunningServer;
let proxy: RunningServer & { logger: ReturnType<typeof recordingLogger> };
/** Every Authorization header the API saw, in order. */
let seen: Array<string | undefined>;

beforeEach(async () => {
  seen = [];
  api = await listen((req: IncomingMessage, res: ServerResponse) => {
    void readBody(req).then((body) => {
      seen.push(req.headers.authorization);
      if (req.url === '/login') {
        res.writeHead(200, { 'content-type': 'application/json' });
        return res.end(
          JSON.stringify({ ...(JSON.parse(body.toString()) as object), authToken: 'opaque-access-1', refreshToken: 'opaque-refresh-1' }),
        );
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ path: req.url }));
    });
  });
});

afterEach(async () => {
  await proxy?.close();
  await api.close();
});

async function signedIn(options: ApiProxyOptions): Promise<BrowserSession> {
  proxy = await startProxy({ apiUrl: api.url, authHeader: 'bearer', ...options });
  const browser = new BrowserSession(proxy.url);
  expect((await browser.request('POST', '/api/login', { json: {} })).status).toBe(200);
  // An access token already past its expiry: the next request refreshes first.
  browser.cookies.set('auth-token', encodeURIComponent(`opaque-access-1,${Math.floor(Date.now() / 1000) - 5}`));
  return browser;
}

type Perform = NonNullable<Exclude<ApiProxyOptions['refresh'], false | undefined>['perform']>;

describe('refresh.perform', () => {
  it('is called once for concurrent requests, and its tokens (with expiresIn) become the session', async () => {
    const calls: string[] = [];
    const perform: Perform = async (refreshToken) => {
      calls.push(refreshToken);
      await new Promise((resolve) => setTimeout(resolve, 100));
      return { accessToken: 'opaque-access-2', refreshToken: 'opaque-refresh-2', expiresIn: 300 };
    };
    const browser = await signedIn({ refresh: { perform } });
    const answers = await Promise.all(Array.from({ length: 5 }, () => browser.request('GET', '/api/items')));
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200, 200]);
    expect(calls).toEqual(['opaque-refresh-1']);
    expect(seen.slice(1)).toEqual(Array(5).fill('Bearer opaque-access-2'));
    const [access, refresh] = answers[0]?.setCookies ?? [];
    expect(access).toMatch(/^auth-token=opaque-access-2%2C\d+; Path=\/; HttpOnly; SameSite=Lax; Max-Age=(299|300)$/);
    expect(refresh).toBe('refresh-token=opaque-refresh-2; Path=/; HttpOnly; SameSite=Lax');
  });

  it('ends the session when it resolves null: 401 session_expired, cookies cleared, the API never asked', async () => {
    const browser = await signedIn({ refresh: { perform: async () => null } });
    const res = await browser.request('GET', '/api/items');
    expect(res.status).toBe(401);
    expect(JSON.parse(res.body).error.code).toBe('session_expired');
    expect(browser.cookies.size).toBe(0);
    expect(seen).toHaveLength(1);
  });

  it('keeps the session when it throws: 502 upstream_unavailable, and the log names the error class, never its message', async () => {
    const browser = await signedIn({
      refresh: {
        perform: async () => {
          throw new TypeError('refresh failed for opaque-refresh-1 at http://10.0.0.7/internal');
        },
      },
    });
    const res = await browser.request('GET', '/api/items');
    expect(res.status).toBe(502);
    expect(JSON.parse(res.body).error.code).toBe('upstream_unavailable');
    expect(res.setCookies).toEqual([]);
    const log = proxy.logger.lines.join('\n');
    expect(log).toContain('refresh.perform threw TypeError');
    expect(log).not.toContain('opaque-refresh-1');
    expect(log).not.toContain('10.0.0.7');
  });

  it('is bounded by timeoutMs: a perform that never settles gives 504 upstream_timeout and its signal aborts', async () => {
    let signal: AbortSignal | undefined;
    const browser = await signedIn({
      timeoutMs: 300,
      refresh: {
        perform: (_token, context) => {
          signal = context.signal;
          return new Promise(() => undefined);
        },
      },
    });
    const res = await browser.request('GET', '/api/items');
    expect(res.status).toBe(504);
    expect(JSON.parse(res.body).error.code).toBe('upstream_timeout');
    expect(signal?.aborted).toBe(true);
  });

  it('treats an answer without an access token as an unusable upstream answer (502), not as new tokens', async () => {
    const browser = await signedIn({ refresh: { perform: async () => ({ accessToken: '' }) } });
    const res = await browser.request('GET', '/api/items');
    expect(res.status).toBe(502);
    expect(JSON.parse(res.body).error.code).toBe('bad_upstream_response');
  });
});

describe('logout.perform', () => {
  it('is given the newest tokens; the cookies are cleared even when it throws', async () => {
    const told: unknown[] = [];
    proxy = await startProxy({
      apiUrl: api.url,
      logout: {
        perform: async (tokens) => {
          told.push(tokens);
          throw new Error('upstream said no');
        },
      },
    });
    const browser = new BrowserSession(proxy.url);
    await browser.request('POST', '/api/login', { json: {} });
    const res = await browser.request('POST', '/api/logout');
    expect(res.status).toBe(200);
    expect(browser.cookies.size).toBe(0);
    expect(told).toEqual([{ accessToken: 'opaque-access-1', refreshToken: 'opaque-refresh-1' }]);
    expect(proxy.logger.lines.join('\n')).toContain('logout.perform threw Error');
    expect(proxy.logger.lines.join('\n')).not.toContain('upstream said no');
  });
});
