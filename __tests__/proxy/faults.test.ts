import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import { createApiProxy } from '../../proxy/index';
import { listen, rawRequest, recordingLogger, startProxy, type RunningServer } from '../helpers/servers';

const TOKEN = 'tok_secret_4242';

/** A port with nothing listening on it. */
async function closedPortUrl(): Promise<string> {
  const server = await listen(() => {});
  await server.close();
  return server.url;
}

/** Asserts the client-facing error body has only the stable code and a generic message. */
function expectCleanError(body: string, code: string, upstream?: string) {
  expect(JSON.parse(body)).toEqual({ error: { code, message: expect.any(String) } });
  expect(body).not.toMatch(/127\.0\.0\.1|localhost|ECONN|at .*\.(js|ts):\d+/);
  if (upstream) expect(body).not.toContain(new URL(upstream).port);
  expect(body).not.toContain(TOKEN);
}

describe('upstream faults', () => {
  let proxy: Awaited<ReturnType<typeof startProxy>> | undefined;
  let upstream: RunningServer | undefined;
  afterEach(async () => {
    await proxy?.close();
    await upstream?.close();
    proxy = undefined;
    upstream = undefined;
  });

  it('answers 502 upstream_unavailable when the upstream refuses the connection', async () => {
    const url = await closedPortUrl();
    proxy = await startProxy({ apiUrl: url });
    const res = await request(proxy.url).get('/api/me').set('cookie', `auth-token=${TOKEN}`);
    expect(res.status).toBe(502);
    expectCleanError(res.text, 'upstream_unavailable', url);
    expect(proxy.logger.lines.join('\n')).not.toContain(TOKEN);
  });

  it('answers 502 when the upstream host cannot be resolved', async () => {
    proxy = await startProxy({ apiUrl: 'http://no-such-host.invalid' });
    const res = await request(proxy.url).get('/api/me');
    expect(res.status).toBe(502);
    expectCleanError(res.text, 'upstream_unavailable');
    expect(res.text).not.toContain('no-such-host');
  });

  it('answers 504 upstream_timeout after timeoutMs, and abandons the upstream request', async () => {
    let upstreamClosed!: () => void;
    const closed = new Promise<void>((resolve) => (upstreamClosed = resolve));
    upstream = await listen((req) => req.on('close', upstreamClosed));
    proxy = await startProxy({ apiUrl: upstream.url, timeoutMs: 300 });
    const started = Date.now();
    const res = await request(proxy.url).get('/api/slow');
    expect(res.status).toBe(504);
    expectCleanError(res.text, 'upstream_timeout', upstream.url);
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    await closed;
  });

  it('answers 504 when a login answer starts but never finishes', async () => {
    upstream = await listen((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"authToken":');
    });
    proxy = await startProxy({ apiUrl: upstream.url, timeoutMs: 300 });
    const res = await request(proxy.url).post('/api/login').set('sec-fetch-site', 'same-origin').send({});
    expect(res.status).toBe(504);
    expect(res.headers['set-cookie']).toBeUndefined();
  });

  it('answers 502 when the upstream closes the connection without answering', async () => {
    upstream = await listen((req) => req.socket.destroy());
    proxy = await startProxy({ apiUrl: upstream.url });
    const res = await request(proxy.url).get('/api/me');
    expect(res.status).toBe(502);
    expectCleanError(res.text, 'upstream_unavailable', upstream.url);
  });

  it('answers 502 when the upstream sends something that is not HTTP', async () => {
    const garbage = net.createServer((socket) => socket.end('hello, this is not http\r\n\r\n'));
    await new Promise<void>((resolve) => garbage.listen(0, '127.0.0.1', resolve));
    try {
      proxy = await startProxy({ apiUrl: `http://127.0.0.1:${(garbage.address() as AddressInfo).port}` });
      const res = await request(proxy.url).get('/api/me');
      expect(res.status).toBe(502);
      expectCleanError(res.text, 'upstream_unavailable');
    } finally {
      garbage.close();
    }
  });

  it('aborts the client connection promptly when the upstream dies mid-body', async () => {
    upstream = await listen((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': '1000000' });
      res.write(Buffer.alloc(1000));
      setTimeout(() => res.socket?.destroy(), 50);
    });
    proxy = await startProxy({ apiUrl: upstream.url });
    const outcome = await new Promise<{ status: number; received: number; ended: string }>((resolve) => {
      http.get(`${proxy!.url}/api/file`, (res) => {
        let received = 0;
        res.on('data', (chunk: Buffer) => (received += chunk.length));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, received, ended: 'end' }));
        res.on('error', () => resolve({ status: res.statusCode ?? 0, received, ended: 'error' }));
        res.on('aborted', () => resolve({ status: res.statusCode ?? 0, received, ended: 'aborted' }));
      });
    });
    expect(outcome.status).toBe(200);
    expect(outcome.received).toBe(1000);
    expect(outcome.ended).not.toBe('end');
  });

  it('aborts the upstream request when the client goes away mid-upload', async () => {
    let upstreamSaw!: (event: string) => void;
    const seen = new Promise<string>((resolve) => (upstreamSaw = resolve));
    upstream = await listen((req) => {
      req.on('data', () => {});
      req.on('end', () => upstreamSaw('end'));
      req.on('close', () => upstreamSaw(req.complete ? 'complete' : 'aborted'));
    });
    proxy = await startProxy({ apiUrl: upstream.url });
    const client = http.request(`${proxy.url}/api/upload`, { method: 'POST', headers: { 'transfer-encoding': 'chunked' } });
    client.on('error', () => {});
    client.write(Buffer.alloc(64 * 1024));
    setTimeout(() => client.destroy(), 100);
    expect(await seen).toBe('aborted');
  });

  it('aborts the upstream request when the client goes away while waiting for the answer', async () => {
    let upstreamClosed!: () => void;
    const closed = new Promise<void>((resolve) => (upstreamClosed = resolve));
    upstream = await listen((req) => req.on('close', upstreamClosed));
    proxy = await startProxy({ apiUrl: upstream.url, timeoutMs: 20_000 });
    const client = http.get(`${proxy.url}/api/slow`);
    client.on('error', () => {});
    setTimeout(() => client.destroy(), 100);
    await closed;
  });

  it('keeps serving the next request after an upstream reset (no crash)', async () => {
    let calls = 0;
    upstream = await listen((req, res) => {
      calls += 1;
      if (calls === 1) return void req.socket.destroy();
      res.end('fine');
    });
    proxy = await startProxy({ apiUrl: upstream.url, timeoutMs: 2_000 });
    expect((await request(proxy.url).get('/api/a')).status).toBe(502);
    const res = await request(proxy.url).get('/api/b');
    expect(res.status).toBe(200);
    expect(res.text).toBe('fine');
  });
});

describe('paths that cannot be forwarded', () => {
  let proxy: Awaited<ReturnType<typeof startProxy>>;
  let upstreamCalls = 0;
  let upstream: RunningServer;
  beforeAll(async () => {
    upstream = await listen((_req, res) => {
      upstreamCalls += 1;
      res.end('reached');
    });
    proxy = await startProxy({ apiUrl: `${upstream.url}/v1` });
  });
  afterAll(async () => {
    await proxy.close();
    await upstream.close();
  });

  it.each([
    '/api/a/../../admin',
    '/api/..',
    '/api/./me',
    '/api/%2e%2e/admin',
    '/api/.%2E/admin',
    '/api/a%2fb',
    '/api/a%2F..%2Fadmin',
    '/api/a%5cb',
    '/api/a\\b',
    '/api//evil.example/x',
    '/api/x//y',
    '/api/http://evil.example/',
    '/api/a%00b',
    '/api/a%0d%0aX-Injected:1',
    '/api/%zz',
    '/api/%2e.#',
    '/api/..;x/admin',
    '/api/a/.%3bx',
    'http://evil.example/api/me',
  ])('answers 400 bad_path to %s without calling the upstream', async (path) => {
    const before = upstreamCalls;
    const res = await rawRequest(proxy.url, 'GET', path);
    expect(res.status).toBe(400);
    expectCleanError(res.body.toString(), 'bad_path');
    expect(upstreamCalls).toBe(before);
  });

  it.each(['/other', '/apix', '/', '/API/me'])('answers 404 to %s, outside the prefix', async (path) => {
    const res = await rawRequest(proxy.url, 'GET', path);
    expect(res.status).toBe(404);
    expectCleanError(res.body.toString(), 'not_found');
  });
});

describe('configuration errors', () => {
  const saved = process.env.API_URL;
  afterEach(() => {
    if (saved === undefined) delete process.env.API_URL;
    else process.env.API_URL = saved;
  });

  it.each([
    ['missing', undefined, /API_URL is not set/],
    ['empty', '', /API_URL is not set/],
    ['not a URL', 'api.example.com', /API_URL is not a valid URL/],
    ['another scheme', 'ftp://api.example.com', /API_URL must start with http/],
  ])('API_URL %s: logged once naming API_URL, and 500 config_error on requests', async (_name, value, message) => {
    if (value === undefined) delete process.env.API_URL;
    else process.env.API_URL = value;
    const logger = recordingLogger();
    const handler = createApiProxy({ logger });
    expect(logger.lines).toEqual([expect.stringMatching(message)]);
    const server = await listen((req, res) => void handler(req, res));
    try {
      const first = await request(server.url).get('/api/me');
      const second = await request(server.url).post('/api/login').send({ a: 1 });
      for (const res of [first, second]) {
        expect(res.status).toBe(500);
        expectCleanError(res.text, 'config_error');
      }
      expect(logger.lines).toHaveLength(1);
    } finally {
      await server.close();
    }
  });

  it('reads API_URL from the environment', async () => {
    const upstream = await listen((req, res) => res.end(`at ${req.url}`));
    process.env.API_URL = `${upstream.url}/base`;
    const handler = createApiProxy({ logger: recordingLogger() });
    const server = await listen((req, res) => void handler(req, res));
    try {
      const res = await request(server.url).get('/api/x');
      expect(res.text).toBe('at /base/x');
    } finally {
      await server.close();
      await upstream.close();
    }
  });
});

describe('a kept-alive upstream socket that the upstream closed as it was reused', () => {
  // A raw upstream: the first request on each connection is answered (keep-alive); a second request on
  // the same connection makes it drop the connection unanswered, as a server whose idle timeout fired.
  let upstream: net.Server;
  let url: string;
  let connections = 0;
  beforeAll(async () => {
    upstream = net.createServer((socket) => {
      connections += 1;
      let requests = 0;
      socket.on('data', (data: Buffer) => {
        if (!data.includes('\r\n\r\n')) return;
        requests += 1;
        if (requests === 1) socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok');
        else socket.destroy();
      });
      socket.on('error', () => {});
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => upstream.close(() => resolve())));

  it('retries an idempotent request without a body once, on a fresh connection', async () => {
    const proxy = await startProxy({ apiUrl: url });
    try {
      connections = 0;
      expect((await request(proxy.url).get('/api/a')).text).toBe('ok');
      const second = await request(proxy.url).get('/api/b');
      expect(second.status).toBe(200);
      expect(second.text).toBe('ok');
      expect(connections).toBe(2);
    } finally {
      await proxy.close();
    }
  });

  it('does not replay a POST: it answers 502', async () => {
    const proxy = await startProxy({ apiUrl: url });
    try {
      expect((await request(proxy.url).get('/api/a')).status).toBe(200);
      const post = await request(proxy.url).post('/api/items').send({ a: 1 });
      expect(post.status).toBe(502);
      expect(post.body.error.code).toBe('upstream_unavailable');
    } finally {
      await proxy.close();
    }
  });
});
