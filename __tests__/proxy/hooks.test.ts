import http from 'node:http';
import net from 'node:net';
import nock from 'nock';
import request from 'supertest';
import type { ProxyErrorContext, ProxyReqContext, ProxyResContext } from '../../proxy/hooks';
import { createServerApi } from '../../server-lib';
import { ProxyConfigError } from '../../proxy/index';
import { resolveOptions } from '../../proxy/resolve-options';
import { setupNock } from '../helpers/nock';
import { listen, readBody, recordingLogger, startProxy, type RunningServer } from '../helpers/servers';

const API = 'http://api.test';
const TOKEN = 'hook-session-token-5150';
const INTERNAL_ERROR = '{"error":{"code":"internal_error","message":"Internal error."}}';

// A real upstream that answers with what it received.
let echo: RunningServer;

setupNock();
beforeAll(async () => {
  echo = await listen(async (req, res) => {
    const body = (await readBody(req)).toString();
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ path: req.url, headers: req.headers, body }));
  });
});
afterAll(() => echo.close());

async function withProxy(options: Parameters<typeof startProxy>[0], run: (proxy: Awaited<ReturnType<typeof startProxy>>) => Promise<void>) {
  const proxy = await startProxy(options);
  try {
    await run(proxy);
  } finally {
    await proxy.close();
  }
}

/** A port nothing listens on: the upstream refuses the connection. */
async function closedPort(): Promise<number> {
  const server = await listen(() => undefined);
  await server.close();
  return server.port;
}

describe('on.proxyReq', () => {
  it('adds a request id header that reaches the upstream, beside the token', async () => {
    nock(API).get('/v1/items?x=1').matchHeader('x-request-id', 'req-42').matchHeader('auth-token', TOKEN).reply(200, { ok: true });
    const on = {
      proxyReq: (ctx: ProxyReqContext) => {
        ctx.headers['x-request-id'] = 'req-42';
      },
    };
    await withProxy({ apiUrl: `${API}/v1`, on }, async (proxy) => {
      const res = await request(proxy.url).get('/api/items?x=1').set('cookie', `auth-token=${TOKEN}`);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ ok: true });
    });
  });

  it('is given method, path, route and headers without Cookie, Authorization or auth-token', async () => {
    const seen: Array<Omit<ProxyReqContext, 'headers'> & { names: string[] }> = [];
    const on = {
      proxyReq: ({ method, path, route, headers }: ProxyReqContext) => void seen.push({ method, path, route, names: Object.keys(headers) }),
    };
    await withProxy({ apiUrl: echo.url, on }, async (proxy) => {
      const res = await request(proxy.url)
        .delete('/api/items/7?force=1')
        .set('sec-fetch-site', 'same-origin')
        .set('cookie', `auth-token=${TOKEN}; theme=dark`)
        .set('authorization', 'Bearer client-sent')
        .set('auth-token', 'client-sent')
        .set('x-trace', 't');
      expect(res.status).toBe(200);
    });
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ method: 'DELETE', path: '/items/7?force=1', route: undefined });
    expect(seen[0]?.names).toContain('x-trace');
    for (const name of ['cookie', 'authorization', 'auth-token']) expect(seen[0]?.names).not.toContain(name);
  });

  const forging = {
    proxyReq: (ctx: ProxyReqContext) => {
      ctx.headers.authorization = 'Bearer forged';
      ctx.headers['Auth-Token'] = 'forged';
      ctx.headers.cookie = 'auth-token=forged';
      ctx.headers.host = 'evil.example';
      ctx.headers['content-length'] = '1';
      ctx.headers['transfer-encoding'] = 'chunked';
      ctx.headers.connection = 'close, x-keep';
      ctx.headers.expect = '100-continue';
      ctx.headers['x-keep'] = 'kept';
    },
  };

  it('cannot forge the session: the real token (and Host, framing) replace what it set', async () => {
    await withProxy({ apiUrl: echo.url, on: forging }, async (proxy) => {
      const res = await request(proxy.url)
        .post('/api/items')
        .set('sec-fetch-site', 'same-origin')
        .set('cookie', `auth-token=${TOKEN}`)
        .send({ title: 'a' });
      expect(res.status).toBe(200);
      const { headers, body } = res.body as { headers: Record<string, string>; body: string };
      expect(headers['auth-token']).toBe(TOKEN);
      expect(headers.authorization).toBeUndefined();
      expect(headers.cookie).toBeUndefined();
      expect(headers.host).toBe(`127.0.0.1:${echo.port}`);
      expect(headers['x-keep']).toBe('kept');
      expect(headers.expect).toBeUndefined();
      expect(body).toBe('{"title":"a"}');
      expect(headers['content-length']).toBe('13');
    });
  });

  it('cannot give a request without a session one', async () => {
    await withProxy({ apiUrl: echo.url, on: forging, authHeader: 'bearer' }, async (proxy) => {
      const res = await request(proxy.url).get('/api/me');
      const { headers } = res.body as { headers: Record<string, string> };
      expect(headers.authorization).toBeUndefined();
      expect(headers['auth-token']).toBeUndefined();
      expect(headers.cookie).toBeUndefined();
    });
  });

  it('drops a header it set with CR/LF, NUL or a name that is not a token, with a warning, and goes on', async () => {
    const on = {
      proxyReq: (ctx: ProxyReqContext) => {
        ctx.headers['x-split'] = 'a\r\nx-injected: 1';
        ctx.headers['x-nul'] = 'a\0b';
        ctx.headers['bad name'] = 'v';
        ctx.headers['x-list'] = ['1', '2'];
        ctx.headers['x-number'] = 7;
      },
    };
    await withProxy({ apiUrl: echo.url, on }, async (proxy) => {
      const res = await request(proxy.url).get('/api/me');
      expect(res.status).toBe(200);
      const { headers } = res.body as { headers: Record<string, string> };
      expect(headers['x-split']).toBeUndefined();
      expect(headers['x-injected']).toBeUndefined();
      expect(headers['x-nul']).toBeUndefined();
      expect(headers['bad name']).toBeUndefined();
      expect(headers['x-list']).toBe('1, 2');
      expect(headers['x-number']).toBe('7');
      expect(proxy.logger.lines.join('\n')).toMatch(/on\.proxyReq: dropped the header "x-split": its value cannot be sent/);
    });
  });

  it.each([
    [
      'throws',
      () => {
        throw new TypeError(`secret ${TOKEN} at 10.0.0.5`);
      },
    ],
    ['rejects', () => Promise.reject(new RangeError(`secret ${TOKEN} at 10.0.0.5`))],
  ])('answers 500 internal_error when it %s, logs only the error name and never calls the upstream', async (_, hook) => {
    await withProxy({ apiUrl: `${API}/v1`, on: { proxyReq: hook } }, async (proxy) => {
      const res = await request(proxy.url).get('/api/items').set('cookie', `auth-token=${TOKEN}`);
      expect(res.status).toBe(500);
      expect(res.text).toBe(INTERNAL_ERROR);
      const log = proxy.logger.lines.join('\n');
      expect(log).toMatch(/\[next-bff-proxy\] on\.proxyReq hook failed: (TypeError|RangeError)/);
      expect(log).not.toContain(TOKEN);
      expect(log).not.toContain('10.0.0.5');
      // Still serving: the next request gets the same answer.
      expect((await request(proxy.url).get('/api/ok')).text).toBe(INTERNAL_ERROR);
    });
  });
});

describe('on.proxyRes', () => {
  it('may change a header and the status before anything is written', async () => {
    nock(API).get('/items').reply(200, 'body bytes', { 'x-upstream': 'a', 'content-type': 'text/plain' });
    const seen: Array<Omit<ProxyResContext, 'headers'>> = [];
    const on = {
      proxyRes: async (ctx: ProxyResContext) => {
        seen.push({ method: ctx.method, path: ctx.path, route: ctx.route, status: ctx.status });
        await new Promise((resolve) => setTimeout(resolve, 5));
        ctx.status = 203;
        delete ctx.headers['x-upstream'];
        ctx.headers['x-added'] = '1';
      },
    };
    await withProxy({ apiUrl: API, on }, async (proxy) => {
      const res = await request(proxy.url).get('/api/items');
      expect(res.status).toBe(203);
      expect(res.headers['x-added']).toBe('1');
      expect(res.headers['x-upstream']).toBeUndefined();
      expect(res.headers['x-content-type-options']).toBe('nosniff');
      expect(res.text).toBe('body bytes');
    });
    expect(seen).toEqual([{ method: 'GET', path: '/items', route: undefined, status: 200 }]);
  });

  it("drops a Set-Cookie naming the proxy's session or refresh cookie, and keeps the proxy's framing", async () => {
    nock(API).get('/items').reply(200, 'twelve bytes', { 'content-type': 'text/plain' });
    const on = {
      proxyRes: (ctx: ProxyResContext) => {
        ctx.headers['set-cookie'] = [
          'auth-token=forged; Path=/',
          '__Host-auth-token=forged; Path=/; Secure',
          'refresh-token=forged; Path=/',
          '=auth-token=forged',
          'theme=dark; Path=/',
        ];
        ctx.headers['content-length'] = '3';
        ctx.status = 99;
      },
    };
    await withProxy({ apiUrl: API, on }, async (proxy) => {
      const res = await request(proxy.url).get('/api/items');
      expect(res.status).toBe(200);
      expect(res.headers['set-cookie']).toEqual(['theme=dark; Path=/']);
      expect(res.text).toBe('twelve bytes');
      const log = proxy.logger.lines.join('\n');
      expect(log).toMatch(/on\.proxyRes: dropped a Set-Cookie naming the proxy's session/);
      expect(log).toMatch(/on\.proxyRes: a status outside 200\.\.599 was ignored/);
    });
  });

  it.each([
    [
      'throws',
      () => {
        throw new Error(`secret ${TOKEN}`);
      },
    ],
    ['rejects', () => Promise.reject(new Error(`secret ${TOKEN}`))],
  ])('answers 500 internal_error when it %s, and the process goes on', async (_, hook) => {
    nock(API).get('/items').reply(200, { ok: true });
    await withProxy({ apiUrl: API, on: { proxyRes: hook } }, async (proxy) => {
      const res = await request(proxy.url).get('/api/items').set('cookie', `auth-token=${TOKEN}`);
      expect(res.status).toBe(500);
      expect(res.text).toBe(INTERNAL_ERROR);
      expect(proxy.logger.lines).toContain('[next-bff-proxy] on.proxyRes hook failed: Error');
      expect(proxy.logger.lines.join('\n')).not.toContain(TOKEN);
    });
  });

  it("sees a login's headers but never its body, and the session cookie is still set", async () => {
    nock(API).post('/login').reply(200, { authToken: TOKEN, user: 'ada' }, { 'x-login': 'yes' });
    const seen: string[][] = [];
    const on = {
      proxyRes: (ctx: ProxyResContext) => {
        seen.push(Object.keys(ctx).sort());
        ctx.headers['x-seen'] = String(ctx.headers['x-login']);
      },
    };
    await withProxy({ apiUrl: API, on }, async (proxy) => {
      const res = await request(proxy.url).post('/api/login').set('sec-fetch-site', 'same-origin').send({ user: 'ada' });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ user: 'ada' });
      expect(res.headers['x-seen']).toBe('yes');
      expect(res.headers['set-cookie']).toEqual([expect.stringMatching(/^auth-token=hook-session-token-5150; /), expect.any(String)]);
    });
    expect(seen).toEqual([['headers', 'method', 'path', 'route', 'status']]);
  });
});

describe('on.error', () => {
  it('is told once of a CSRF refusal, with code, status, method and path only', async () => {
    const calls: ProxyErrorContext[] = [];
    await withProxy({ apiUrl: API, on: { error: (ctx) => void calls.push(ctx) } }, async (proxy) => {
      const res = await request(proxy.url).post('/api/items?x=1').set('cookie', `auth-token=${TOKEN}`).set('sec-fetch-site', 'cross-site');
      expect(res.status).toBe(403);
    });
    expect(calls).toEqual([{ code: 'csrf', status: 403, method: 'POST', path: '/items?x=1' }]);
  });

  it('is told once of an upstream that refuses the connection', async () => {
    const calls: ProxyErrorContext[] = [];
    const port = await closedPort();
    await withProxy({ apiUrl: `http://127.0.0.1:${port}/v1`, on: { error: (ctx) => void calls.push(ctx) } }, async (proxy) => {
      const res = await request(proxy.url).get('/api/items/3').set('cookie', `auth-token=${TOKEN}`);
      expect(res.status).toBe(502);
      expect(res.body.error.code).toBe('upstream_unavailable');
    });
    expect(calls).toEqual([{ code: 'upstream_unavailable', status: 502, method: 'GET', path: '/items/3' }]);
  });

  it('is told of a path refused before it could be read, as received', async () => {
    const calls: ProxyErrorContext[] = [];
    await withProxy({ apiUrl: API, on: { error: (ctx) => void calls.push(ctx) } }, async (proxy) => {
      expect((await request(proxy.url).get('/api/a%2Fb/c')).status).toBe(400);
    });
    expect(calls).toEqual([{ code: 'bad_path', status: 400, method: 'GET', path: '/api/a%2Fb/c' }]);
  });

  it('is ignored when it throws or rejects: the client still gets its answer, and the failure is logged once (throttled)', async () => {
    const hooks = [
      () => {
        throw new Error(`boom ${TOKEN}`);
      },
      () => Promise.reject(new Error(`boom ${TOKEN}`)),
    ];
    const logger = recordingLogger();
    for (const hook of hooks) {
      await withProxy({ apiUrl: API, logger, on: { error: hook } }, async (proxy) => {
        const res = await request(proxy.url).post('/api/items').set('cookie', `auth-token=${TOKEN}`).set('sec-fetch-site', 'cross-site');
        expect(res.status).toBe(403);
        expect(res.body.error.code).toBe('csrf');
        await new Promise((resolve) => setImmediate(resolve));
      });
    }
    expect(logger.lines.filter((line) => line.startsWith('[next-bff-proxy] on.error hook failed: Error'))).toHaveLength(1);
    expect(logger.lines.join('\n')).not.toContain(TOKEN);
  });
});

describe('hooks in server-lib', () => {
  function fakeContext(cookie?: string) {
    const req = new http.IncomingMessage(new net.Socket());
    req.headers = cookie ? { cookie, host: 'app.test' } : { host: 'app.test' };
    return { req, res: new http.ServerResponse(req) };
  }

  it("sends the hook's header from server rendering too, and never lets it set the token", async () => {
    nock(API).get('/v1/me?x=1').matchHeader('x-request-id', 'ssr-1').matchHeader('auth-token', TOKEN).reply(200, { name: 'Ada' });
    const seen: ProxyReqContext[] = [];
    const options = {
      apiUrl: `${API}/v1`,
      logger: recordingLogger(),
      on: {
        proxyReq: (ctx: ProxyReqContext) => {
          seen.push({ ...ctx, headers: { ...ctx.headers } });
          ctx.headers['x-request-id'] = 'ssr-1';
          ctx.headers['auth-token'] = 'forged';
        },
      },
    };
    const api = createServerApi(fakeContext(`auth-token=${TOKEN}`), options);
    await expect(api.get('/me?x=1')).resolves.toEqual({ status: 200, data: { name: 'Ada' } });
    expect(seen).toEqual([{ method: 'GET', path: '/me?x=1', route: undefined, headers: { accept: 'application/json' } }]);
  });

  it('throws internal_error when the hook throws, without calling the API', async () => {
    const options = { apiUrl: `${API}/v1`, logger: recordingLogger(), on: { proxyReq: () => Promise.reject(new SyntaxError('x')) } };
    await expect(createServerApi(fakeContext(), options).get('/me')).rejects.toMatchObject({ code: 'internal_error', status: 500 });
    expect(options.logger.lines).toContain('[next-bff-proxy] on.proxyReq hook failed: SyntaxError');
  });
});

describe('configuration', () => {
  it.each([
    [5, /^on must be an object/],
    [{ proxyReq: 'add a header' }, /^on\.proxyReq must be a function/],
    [{ proxyRes: {} }, /^on\.proxyRes must be a function/],
    [{ error: null }, /^on\.error must be a function/],
    [{ start: () => undefined }, /^on\.start is not a hook/],
  ])('refuses on = %p with a ProxyConfigError naming it', (on, message) => {
    const resolve = () => resolveOptions({ apiUrl: API, on: on as never });
    expect(resolve).toThrow(ProxyConfigError);
    expect(resolve).toThrow(message);
  });
});
