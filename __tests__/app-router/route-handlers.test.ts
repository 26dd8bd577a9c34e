import type http from 'node:http';
import zlib from 'node:zlib';
import { createRouteHandlers } from '../../app-router';
import { fakeJwt, listen, readBody, recordingLogger, type RunningServer } from '../helpers/servers';

// The route handlers' own transport (app-router/web-response.ts), called as Next calls them: a Web
// Request in, a Web Response out. What every route shares is tried in the other suites, on both routes.
const now = () => Math.floor(Date.now() / 1000);
let upstream: RunningServer;
let route: (req: http.IncomingMessage, res: http.ServerResponse) => void;

beforeAll(async () => {
  upstream = await listen((req, res) => route(req, res));
});
afterAll(() => upstream.close());

function handlers() {
  const logger = recordingLogger();
  return { ...createRouteHandlers({ apiUrl: upstream.url, logger }), logger };
}

const get = (path: string, headers: Record<string, string> = {}) => new Request(`http://app.test/api${path}`, { headers });

describe('an upstream answer compressed although the route asked for identity', () => {
  const text = 'the same words, however they were packed';
  it.each([
    ['gzip', 'gzip', zlib.gzipSync(text)],
    ['x-gzip', 'x-gzip', zlib.gzipSync(text)],
    ['deflate (zlib format)', 'deflate', zlib.deflateSync(text)],
    ['deflate (raw, as some servers send it)', 'deflate', zlib.deflateRawSync(text)],
    ['br', 'br', zlib.brotliCompressSync(text)],
  ])(
    'Content-Encoding: %s is decoded: 200 with the plain bytes and no Content-Encoding (Next compresses on its own)',
    async (_label, coding, body) => {
      route = (req, res) => {
        expect(req.headers['accept-encoding']).toBe('identity');
        res.writeHead(200, { 'content-type': 'text/plain', 'content-encoding': coding });
        res.end(body);
      };
      const res = await handlers().GET(get('/packed'));
      expect(res.status).toBe(200);
      expect(res.headers.get('content-encoding')).toBeNull();
      await expect(res.text()).resolves.toBe(text);
    },
  );

  it.each([
    ['zstd', Buffer.from('whatever')],
    ['gzip', Buffer.from('not gzip at all')],
  ])('Content-Encoding: %s that cannot be decoded is 502 bad_upstream_response, not a cut 200', async (coding, body) => {
    route = (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-encoding': coding });
      res.end(body);
    };
    const res = await handlers().GET(get('/packed'));
    expect(res.status).toBe(502);
    await expect(res.json()).resolves.toEqual({ error: { code: 'bad_upstream_response', message: expect.any(String) } });
  });
});

describe('answers a Web Response cannot carry', () => {
  it('a status over 599 is 502, and the cookies of the refresh made before forwarding still go out with it', async () => {
    const fresh = fakeJwt({ sub: 'ada', exp: now() + 600 });
    route = (req, res) => {
      if (req.url === '/refresh') {
        void readBody(req).then(() => res.end(JSON.stringify({ authToken: fresh, refreshToken: 'refresh-rotated-1' })));
        return;
      }
      res.writeHead(600);
      res.end('x');
    };
    const res = await handlers().GET(get('/odd', { cookie: 'refresh-token=refresh-before-1' }));
    expect(res.status).toBe(502);
    expect(res.headers.getSetCookie()).toEqual([
      expect.stringMatching(new RegExp(`^auth-token=${fresh}; Path=/; HttpOnly; SameSite=Lax; Max-Age=(599|600)$`)),
      'refresh-token=refresh-rotated-1; Path=/; HttpOnly; SameSite=Lax',
    ]);
    expect(res.headers.get('cache-control')).toBe('private, no-store');
  });

  it.each([204, 205, 304])('%i has no body and keeps the upstream headers', async (status) => {
    route = (_req, res) => {
      res.writeHead(status, { 'x-kept': 'yes' });
      res.end();
    };
    const res = await handlers().GET(get('/nothing'));
    expect(res.status).toBe(status);
    expect(res.body).toBeNull();
    expect(res.headers.get('x-kept')).toBe('yes');
  });

  it('HEAD has no body and keeps the upstream status and headers (but not Content-Length: Next drops it)', async () => {
    route = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '12', etag: '"v1"' });
      res.end();
    };
    const res = await handlers().HEAD(new Request('http://app.test/api/thing', { method: 'HEAD' }));
    expect(res.status).toBe(200);
    expect(res.body).toBeNull();
    expect(res.headers.get('etag')).toBe('"v1"');
    expect(res.headers.get('content-length')).toBeNull();
  });
});

describe('backpressure across the Web stream', () => {
  it('a reader that pauses 1.5 s is not cut by idleTimeoutMs 500, and receives 8 MiB whole', async () => {
    const size = 8 * 1024 * 1024;
    route = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.end(Buffer.alloc(size, 7));
    };
    const { GET } = createRouteHandlers({ apiUrl: upstream.url, idleTimeoutMs: 500, logger: recordingLogger() });
    const res = await GET(get('/big'));
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    let received = 0;
    let paused = false;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      received += value.length;
      if (!paused && received > 1024 * 1024) {
        paused = true;
        await new Promise((resolve) => setTimeout(resolve, 1_500));
      }
    }
    expect(received).toBe(size);
  }, 10_000);

  it('a client that goes away (request.signal) abandons the upstream request', async () => {
    let upstreamClosed!: () => void;
    const closed = new Promise<void>((resolve) => (upstreamClosed = resolve));
    route = (_req, res) => {
      res.on('close', () => upstreamClosed());
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: first\n\n');
    };
    const controller = new AbortController();
    const res = await handlers().GET(new Request('http://app.test/api/events', { signal: controller.signal }));
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    expect(Buffer.from((await reader.read()).value ?? []).toString()).toBe('data: first\n\n');
    controller.abort();
    await expect(closed).resolves.toBeUndefined();
  });
});

describe('what the client or the upstream does before the answer has begun', () => {
  it('an upstream that dies after the head of a compressed answer, before its first byte: 502 JSON that still carries the refresh made before forwarding', async () => {
    const fresh = fakeJwt({ sub: 'ada', exp: now() + 600 });
    route = (req, res) => {
      if (req.url === '/refresh') {
        void readBody(req).then(() => res.end(JSON.stringify({ authToken: fresh, refreshToken: 'refresh-rotated-2' })));
        return;
      }
      res.writeHead(200, { 'content-type': 'text/plain', 'content-encoding': 'gzip' });
      res.flushHeaders();
      setTimeout(() => res.socket?.destroy(), 50);
    };
    const res = await handlers().GET(get('/packed', { cookie: 'refresh-token=refresh-before-2' }));
    expect(res.status).toBe(502);
    await expect(res.json()).resolves.toEqual({ error: { code: 'bad_upstream_response', message: expect.any(String) } });
    expect(res.headers.getSetCookie()).toEqual([
      expect.stringMatching(/^auth-token=/),
      'refresh-token=refresh-rotated-2; Path=/; HttpOnly; SameSite=Lax',
    ]);
  });

  it('a client that leaves while the refresh before forwarding is under way: no upstream request, nothing logged as an internal error', async () => {
    let forwarded = 0;
    route = (req, res) => {
      if (req.url === '/refresh') {
        void readBody(req).then(() =>
          setTimeout(() => res.end(JSON.stringify({ authToken: fakeJwt({ exp: now() + 600 }), refreshToken: 'refresh-rotated-3' })), 200),
        );
        return;
      }
      forwarded++;
      res.end('{}');
    };
    const { GET, logger } = handlers();
    const controller = new AbortController();
    const answer = GET(
      new Request('http://app.test/api/items', { headers: { cookie: 'refresh-token=refresh-before-3' }, signal: controller.signal }),
    );
    setTimeout(() => controller.abort(), 50);
    expect((await answer).status).toBe(502);
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(forwarded).toBe(0);
    expect(logger.lines.filter((line) => line.includes('internal_error'))).toEqual([]);
  });

  it('a body that ends before its Content-Length (Next cuts one read through proxy.ts): 400 bad_request at once, the upstream request abandoned', async () => {
    let upstreamClosed!: () => void;
    const closed = new Promise<void>((resolve) => (upstreamClosed = resolve));
    route = (req, res) => {
      req.on('error', () => {});
      res.on('close', () => upstreamClosed());
    };
    const started = Date.now();
    const res = await handlers().POST(
      new Request('http://app.test/api/upload', {
        method: 'POST',
        headers: { 'content-length': '100', 'sec-fetch-site': 'same-origin' },
        body: new Blob(['only ten b']).stream(),
        duplex: 'half',
      } as RequestInit),
    );
    expect(res.status).toBe(400);
    await expect(res.json()).resolves.toEqual({ error: { code: 'bad_request', message: expect.any(String) } });
    expect(Date.now() - started).toBeLessThan(5_000);
    await expect(closed).resolves.toBeUndefined();
  });
});
