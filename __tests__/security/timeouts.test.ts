import http, { type OutgoingHttpHeaders } from 'node:http';
import net from 'node:net';
import type { ApiProxyOptions } from '../../proxy/index';
import { listen, startProxy, type RunningServer } from '../helpers/servers';

// Idle timeouts: a stalled upstream answer, or a stalled request body, must not hold sockets forever.

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

interface Watched {
  status: number;
  body: string;
  /** 'complete': the answer ended; 'cut': the connection closed under it; 'open': still going when we stopped watching. */
  outcome: 'complete' | 'cut' | 'open';
  elapsedMs: number;
}

/** A GET watched for at most `windowMs`: then it is abandoned and reported 'open'. Never hangs. */
function watch(url: string, headers: OutgoingHttpHeaders, windowMs: number): Promise<Watched> {
  return new Promise((resolve) => {
    const started = Date.now();
    let status = 0;
    let body = '';
    let done = false;
    const finish = (outcome: Watched['outcome']) => {
      if (done) return;
      done = true;
      clearTimeout(guard);
      resolve({ status, body, outcome, elapsedMs: Date.now() - started });
    };
    const req = http.get(url, { headers, agent: false }, (res) => {
      status = res.statusCode ?? 0;
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('error', () => finish('cut'));
      res.on('close', () => finish(res.complete ? 'complete' : 'cut'));
    });
    req.on('error', () => finish('cut'));
    const guard = setTimeout(() => {
      finish('open');
      req.destroy();
    }, windowMs);
  });
}

/** Resolves 'closed' when `settled` does, or 'open' after `ms`. */
function closedWithin(settled: Promise<void>, ms: number): Promise<'closed' | 'open'> {
  return Promise.race([settled.then(() => 'closed' as const), delay(ms).then(() => 'open' as const)]);
}

describe('an upstream answer that stalls mid-body', () => {
  let upstream: RunningServer;
  /** Resolves when the upstream's side of the latest stalled answer is closed. */
  let upstreamClosed: Promise<void>;
  beforeAll(async () => {
    upstream = await listen((req, res) => {
      upstreamClosed = new Promise((resolve) => res.on('close', () => resolve()));
      if (req.url === '/trickle') {
        // A byte every 100 ms for 0.8 s: slow, never silent for long.
        res.writeHead(200, { 'content-type': 'text/plain' });
        let sent = 0;
        const timer = setInterval(() => {
          sent += 1;
          if (sent < 8) res.write(String(sent));
          else {
            clearInterval(timer);
            res.end('8');
          }
        }, 100);
        res.on('close', () => clearInterval(timer));
        return;
      }
      const type = req.url === '/events' ? 'text/event-stream' : 'application/octet-stream';
      res.writeHead(200, { 'content-type': type, ...(req.url === '/sized' ? { 'content-length': '1000' } : {}) });
      res.write(type === 'text/event-stream' ? 'data: first\n\n' : 'partial');
      // ...and nothing more.
    });
  });
  afterAll(() => upstream.close());

  async function withProxy<T>(options: ApiProxyOptions, run: (proxy: Awaited<ReturnType<typeof startProxy>>) => Promise<T>): Promise<T> {
    const proxy = await startProxy({ apiUrl: upstream.url, ...options });
    try {
      return await run(proxy);
    } finally {
      await proxy.close();
    }
  }

  it.each([
    ['with Content-Length', '/sized'],
    ['chunked', '/chunked'],
  ])(
    '%s, with idleTimeoutMs: 300: the client gets a truncated answer within 2 s, and the upstream socket is closed too',
    async (_name, path) => {
      await withProxy({ idleTimeoutMs: 300 }, async (proxy) => {
        const seen = await watch(`${proxy.url}/api${path}`, {}, 3_000);
        expect(seen.status).toBe(200);
        expect(seen.body).toBe('partial');
        expect(seen.outcome).toBe('cut');
        expect(seen.elapsedMs).toBeGreaterThanOrEqual(250);
        expect(seen.elapsedMs).toBeLessThan(2_000);
        expect(await closedWithin(upstreamClosed, 1_000)).toBe('closed');
      });
    },
  );

  it('an event stream is cut after eventStreamIdleTimeoutMs (300), not idleTimeoutMs', async () => {
    await withProxy({ idleTimeoutMs: 30_000, eventStreamIdleTimeoutMs: 300 }, async (proxy) => {
      const seen = await watch(`${proxy.url}/api/events`, { accept: 'text/event-stream' }, 3_000);
      expect(seen.body).toBe('data: first\n\n');
      expect(seen.outcome).toBe('cut');
      expect(seen.elapsedMs).toBeLessThan(2_000);
      expect(await closedWithin(upstreamClosed, 1_000)).toBe('closed');
    });
  });

  it.each([
    ['eventStreamIdleTimeoutMs: false', { idleTimeoutMs: 300, eventStreamIdleTimeoutMs: false }],
    ['the default eventStreamIdleTimeoutMs (5 min)', { idleTimeoutMs: 300 }],
  ] as Array<[string, ApiProxyOptions]>)(
    'with idleTimeoutMs: 300 and %s, a silent event stream is still open after 1 s',
    async (_name, options) => {
      await withProxy(options, async (proxy) => {
        const seen = await watch(`${proxy.url}/api/events`, { accept: 'text/event-stream' }, 1_000);
        expect(seen.status).toBe(200);
        expect(seen.body).toBe('data: first\n\n');
        expect(seen.outcome).toBe('open');
      });
    },
  );

  it('an answer that keeps trickling (a byte every 100 ms) is not cut by idleTimeoutMs: 300', async () => {
    await withProxy({ idleTimeoutMs: 300 }, async (proxy) => {
      const seen = await watch(`${proxy.url}/api/trickle`, {}, 3_000);
      expect(seen.outcome).toBe('complete');
      expect(seen.body).toBe('12345678');
    });
  });
});

describe('a request body that stops arriving', () => {
  let upstream: RunningServer;
  let upstreamGot: Promise<{ bytes: number; complete: boolean }>;
  beforeAll(async () => {
    upstream = await listen((req, res) => {
      upstreamGot = new Promise((resolve) => {
        let bytes = 0;
        req.on('data', (chunk: Buffer) => (bytes += chunk.length));
        req.on('error', () => {});
        req.on('close', () => resolve({ bytes, complete: req.complete }));
        req.on('end', () => res.end(JSON.stringify({ bytes })));
      });
    });
  });
  afterAll(() => upstream.close());

  /** Sends the head and `first` body bytes on a raw socket, then (optionally) more; reads until the proxy closes (at most 3 s). */
  function send(
    url: string,
    head: string,
    chunks: Array<{ afterMs: number; bytes: string }>,
  ): Promise<{ text: string; closedByProxy: boolean; elapsedMs: number }> {
    const { hostname, port } = new URL(url);
    return new Promise((resolve) => {
      const started = Date.now();
      const socket = net.connect(Number(port), hostname);
      let text = '';
      let done = false;
      const finish = (closedByProxy: boolean) => {
        if (done) return;
        done = true;
        clearTimeout(guard);
        socket.destroy();
        resolve({ text, closedByProxy, elapsedMs: Date.now() - started });
      };
      const guard = setTimeout(() => finish(false), 3_000);
      socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
      socket.on('end', () => finish(true));
      socket.on('close', () => finish(true));
      socket.on('error', () => finish(true));
      socket.on('connect', () => {
        socket.write(head);
        let at = 0;
        for (const chunk of chunks) {
          at += chunk.afterMs;
          setTimeout(() => !done && socket.write(chunk.bytes), at);
        }
      });
    });
  }

  it('Content-Length: 100 with 10 bytes sent, then nothing: 408 request_timeout within 2 s, the connection closed, the upstream request abandoned', async () => {
    const proxy = await startProxy({ apiUrl: upstream.url, timeoutMs: 300 });
    try {
      const head = `POST /api/upload HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/octet-stream\r\nContent-Length: 100\r\n\r\n`;
      const answer = await send(proxy.url, head, [{ afterMs: 0, bytes: 'x'.repeat(10) }]);
      const [headText = '', body = ''] = answer.text.split('\r\n\r\n');
      expect(headText.split('\r\n')[0]).toBe('HTTP/1.1 408 Request Timeout');
      expect(headText.toLowerCase().split('\r\n')).toContain('connection: close');
      expect(JSON.parse(body)).toEqual({ error: { code: 'request_timeout', message: expect.any(String) } });
      expect(answer.closedByProxy).toBe(true);
      expect(answer.elapsedMs).toBeLessThan(2_000);
      await expect(Promise.race([upstreamGot, delay(1_000).then(() => 'still open')])).resolves.toEqual({ bytes: 10, complete: false });
    } finally {
      await proxy.close();
    }
  });

  it('a body that keeps trickling (10 bytes every 100 ms) is forwarded whole with timeoutMs: 300', async () => {
    const proxy = await startProxy({ apiUrl: upstream.url, timeoutMs: 300 });
    try {
      const head = `POST /api/upload HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/octet-stream\r\nContent-Length: 100\r\nConnection: close\r\n\r\n`;
      const chunks = Array.from({ length: 10 }, (_, i) => ({ afterMs: i === 0 ? 0 : 100, bytes: 'y'.repeat(10) }));
      const answer = await send(proxy.url, head, chunks);
      expect(answer.text.split('\r\n')[0]).toBe('HTTP/1.1 200 OK');
      expect(answer.text.endsWith('\r\n\r\n{"bytes":100}')).toBe(true);
      await expect(upstreamGot).resolves.toEqual({ bytes: 100, complete: true });
    } finally {
      await proxy.close();
    }
  });
});
