import http from 'node:http';
import net from 'node:net';
import fc from 'fast-check';
import request from 'supertest';
import { resolveOptions } from '../../proxy/resolve-options';
import { getClientResponseHeaders, setUpstreamRequestHeaders } from '../../proxy/headers';
import { listen, startProxy, type RunningServer } from '../helpers/servers';

const HOP_BY_HOP = ['connection', 'keep-alive', 'te', 'trailer', 'upgrade', 'proxy-authorization', 'proxy-connection'];
const headerName = fc.constantFrom(
  ...HOP_BY_HOP,
  'auth-token',
  'authorization',
  'cookie',
  'x-custom',
  'x-middleware-subrequest',
  'x-nextjs-data',
  'x-forwarded-for',
  'content-type',
  'accept',
  'x-api-key',
  'expect',
);
const headerValue = fc.constantFrom(
  '1',
  'close',
  'auth-token',
  'x-custom, auth-token',
  'cookie, keep-alive',
  'Bearer evil',
  'a=b',
  '100-continue',
);

function fakeRequest(headers: Record<string, string>): http.IncomingMessage {
  const req = new http.IncomingMessage(new net.Socket());
  req.headers = { ...headers };
  req.method = 'POST';
  return req;
}

describe('request header hygiene (property-based)', () => {
  const options = resolveOptions({ apiUrl: 'http://api.test' });

  it('whatever the client sends: no hop-by-hop, no cookie, no Next-internal header, and the auth header is only the proxy’s', () => {
    fc.assert(
      fc.property(
        fc.dictionary(headerName, headerValue),
        fc.option(fc.constantFrom('tok-1', 'tok-2'), { nil: undefined }),
        (headers, token) => {
          const req = fakeRequest(headers);
          setUpstreamRequestHeaders(req, options, token, { identity: false });
          const sent = req.headers;
          for (const name of HOP_BY_HOP) expect(sent[name]).toBeUndefined();
          expect(sent.cookie).toBeUndefined();
          expect(sent.authorization).toBeUndefined();
          expect(sent.expect).toBeUndefined();
          expect(Object.keys(sent).filter((name) => /^x-(middleware|nextjs|invoke|next)-/.test(name))).toEqual([]);
          expect(sent['auth-token']).toBe(token);
          // A header the client's Connection named is gone, unless the proxy set it itself.
          const listed = String(headers.connection ?? '')
            .split(',')
            .map((name) => name.trim())
            .filter((name) => name && name !== 'auth-token');
          for (const name of listed) expect(sent[name]).toBeUndefined();
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('never strips the body framing, whatever Connection lists', () => {
    const req = fakeRequest({ connection: 'content-length, transfer-encoding', 'content-length': '5', 'transfer-encoding': 'chunked' });
    setUpstreamRequestHeaders(req, options, undefined, { identity: false });
    expect(req.headers['content-length']).toBe('5');
    expect(req.headers['transfer-encoding']).toBe('chunked');
  });
});

describe('response header hygiene (property-based)', () => {
  const options = resolveOptions({ apiUrl: 'http://api.test', passUpstreamCookies: ['locale'] });
  const responseName = fc.constantFrom(
    ...HOP_BY_HOP,
    'transfer-encoding',
    'set-cookie',
    'access-control-allow-origin',
    'access-control-allow-credentials',
    'x-middleware-rewrite',
    'x-nextjs-cache',
    'content-type',
    'x-request-id',
    'cache-control',
  );

  it('passes end-to-end headers only: no hop-by-hop, CORS, Next-internal or unlisted cookies', () => {
    fc.assert(
      fc.property(fc.dictionary(responseName, headerValue), (headers) => {
        const out = getClientResponseHeaders(headers, options, { keepLength: true });
        for (const name of [...HOP_BY_HOP, 'transfer-encoding']) expect(out[name]).toBeUndefined();
        expect(Object.keys(out).filter((name) => /^(access-control-|x-middleware-|x-nextjs-)/.test(name))).toEqual([]);
        const listed = String(headers.connection ?? '')
          .split(',')
          .map((name) => name.trim().toLowerCase())
          .filter((name) => name && name !== 'content-length' && name !== 'transfer-encoding');
        for (const name of listed) expect(out[name]).toBeUndefined();
        expect(out['set-cookie']).toBeUndefined();
        for (const name of ['content-type', 'x-request-id', 'cache-control']) {
          if (headers[name] !== undefined && !listed.includes(name)) expect(out[name]).toBe(headers[name]);
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe('upstream cookies', () => {
  let upstream: RunningServer;
  beforeAll(async () => {
    upstream = await listen((_req, res) => {
      res.setHeader('set-cookie', ['locale=fr; Path=/', 'tracking=1; Path=/', 'auth-token=upstream-forged; Path=/']);
      res.end('ok');
    });
  });
  afterAll(() => upstream.close());

  it('drops every upstream Set-Cookie by default', async () => {
    const proxy = await startProxy({ apiUrl: upstream.url });
    try {
      expect((await request(proxy.url).get('/api/x')).headers['set-cookie']).toBeUndefined();
    } finally {
      await proxy.close();
    }
  });

  it('passes the named ones with passUpstreamCookies, and never one named like the session cookie', async () => {
    const proxy = await startProxy({ apiUrl: upstream.url, passUpstreamCookies: ['locale'] });
    try {
      expect((await request(proxy.url).get('/api/x')).headers['set-cookie']).toEqual(['locale=fr; Path=/']);
    } finally {
      await proxy.close();
    }
    expect(() => resolveOptions({ apiUrl: upstream.url, passUpstreamCookies: ['auth-token'] })).toThrow(/session or refresh cookie/);
    expect(() => resolveOptions({ apiUrl: upstream.url, passUpstreamCookies: ['refreshToken'] })).toThrow(/session or refresh cookie/);
  });
});

describe('tokens echoed in upstream response headers', () => {
  const TOKEN = 'echoed-session-token-123';
  let upstream: RunningServer;
  beforeAll(async () => {
    upstream = await listen((req, res) => {
      if (req.url === '/login') {
        res.setHeader('x-auth-token', `${TOKEN}`);
        res.setHeader('x-refresh', 'refresh-token-value-456');
        res.setHeader('content-type', 'application/json');
        return void res.end(JSON.stringify({ authToken: TOKEN, refreshToken: 'refresh-token-value-456' }));
      }
      res.setHeader('x-debug-auth', `seen ${String(req.headers['auth-token'])}`);
      res.setHeader('x-request-id', 'r-1');
      res.end('ok');
    });
  });
  afterAll(() => upstream.close());

  it('drops a proxied response header that carries the session token, and keeps the others', async () => {
    const proxy = await startProxy({ apiUrl: upstream.url });
    try {
      const res = await request(proxy.url).get('/api/x').set('cookie', `auth-token=${TOKEN}`);
      expect(res.status).toBe(200);
      expect(res.headers['x-debug-auth']).toBeUndefined();
      expect(res.headers['x-request-id']).toBe('r-1');
      expect(JSON.stringify(res.headers)).not.toContain(TOKEN);
      expect(proxy.logger.lines).toEqual([expect.stringContaining('x-debug-auth')]);
      expect(proxy.logger.lines.join('\n')).not.toContain(TOKEN);
    } finally {
      await proxy.close();
    }
  });

  it('drops login response headers that carry the access or refresh token', async () => {
    const proxy = await startProxy({ apiUrl: upstream.url });
    try {
      const res = await request(proxy.url).post('/api/login').set('sec-fetch-site', 'same-origin').send({});
      expect(res.status).toBe(200);
      expect(res.headers['x-auth-token']).toBeUndefined();
      expect(res.headers['x-refresh']).toBeUndefined();
      const others = Object.entries(res.headers).filter(([name]) => name !== 'set-cookie');
      expect(JSON.stringify(others)).not.toMatch(/echoed-session-token-123|refresh-token-value-456/);
    } finally {
      await proxy.close();
    }
  });
});
