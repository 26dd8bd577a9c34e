import http from 'node:http';
import request from 'supertest';
import { listen, startProxy, type RunningServer } from '../helpers/servers';
import { expectNoTokenLeak } from './leaks';

const TOKEN = 'limits-token-0042';
const sameOrigin = { 'sec-fetch-site': 'same-origin', cookie: `auth-token=${TOKEN}` };

describe('request body limit (maxRequestBodyBytes)', () => {
  let upstream: RunningServer;
  let received: number[];
  let proxy: Awaited<ReturnType<typeof startProxy>>;
  beforeAll(async () => {
    upstream = await listen((req, res) => {
      let bytes = 0;
      req.on('data', (chunk: Buffer) => (bytes += chunk.length));
      req.on('end', () => {
        received.push(bytes);
        res.end(String(bytes));
      });
      req.on('error', () => {});
    });
    proxy = await startProxy({ apiUrl: upstream.url, maxRequestBodyBytes: 1024 });
  });
  beforeEach(() => {
    received = [];
  });
  afterAll(async () => {
    await proxy.close();
    await upstream.close();
  });

  it('forwards a body at the limit', async () => {
    const res = await request(proxy.url).post('/api/upload').set(sameOrigin).send(Buffer.alloc(1024));
    expect(res.status).toBe(200);
    expect(res.text).toBe('1024');
  });

  it('answers 413 to a declared Content-Length over the limit without calling the upstream', async () => {
    const res = await request(proxy.url).post('/api/upload').set(sameOrigin).send(Buffer.alloc(1025));
    expect(res.status).toBe(413);
    expect(res.body).toEqual({ error: { code: 'payload_too_large', message: expect.any(String) } });
    expect(received).toEqual([]);
    expectNoTokenLeak(TOKEN, proxy.logger, res);
  });

  it('answers 413 to a chunked body once it crosses the limit, and cuts the upstream request off', async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const req = http.request(
        `${proxy.url}/api/upload`,
        { method: 'POST', headers: { ...sameOrigin, 'transfer-encoding': 'chunked' } },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on('error', reject);
      req.write(Buffer.alloc(800));
      setTimeout(() => req.write(Buffer.alloc(800)), 50);
    });
    expect(status).toBe(413);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(received.every((bytes) => bytes <= 1024)).toBe(true);
  });
});

describe('login answer cap under a flood', () => {
  it('answers a 50 MB login response with a fast 502 and flat memory', async () => {
    const chunk = Buffer.alloc(1024 * 1024, 0x61);
    const upstream = await listen((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write(`{"authToken":"${TOKEN}","padding":"`);
      let sent = 0;
      const pump = () => {
        while (sent < 50 && res.write(chunk)) sent += 1;
        if (sent < 50) res.once('drain', pump);
        else res.end('"}');
      };
      pump();
      res.on('error', () => {});
    });
    const proxy = await startProxy({ apiUrl: upstream.url });
    try {
      global.gc?.();
      const before = process.memoryUsage().heapUsed;
      const started = Date.now();
      const res = await request(proxy.url).post('/api/login').set('sec-fetch-site', 'same-origin').send({});
      const elapsed = Date.now() - started;
      const grown = process.memoryUsage().heapUsed - before;
      expect(res.status).toBe(502);
      expect(res.body.error.code).toBe('bad_login_response');
      expect(res.headers['set-cookie']).toBeUndefined();
      expect(elapsed).toBeLessThan(5_000);
      // Only the 64 KiB cap is ever held, never the 50 MB.
      expect(grown).toBeLessThan(20 * 1024 * 1024);
      expectNoTokenLeak(TOKEN, proxy.logger, res);
    } finally {
      await proxy.close();
      await upstream.close();
    }
  });
});

describe('faults leak nothing', () => {
  it('upstream down: 502, no token, no address', async () => {
    const down = await listen(() => {});
    await down.close();
    const proxy = await startProxy({ apiUrl: down.url });
    try {
      const res = await request(proxy.url).post('/api/items').set(sameOrigin).send({ a: 1 });
      expect(res.status).toBe(502);
      expect(res.text).not.toContain(String(down.port));
      expectNoTokenLeak(TOKEN, proxy.logger, res);
    } finally {
      await proxy.close();
    }
  });

  it('upstream hanging: 504 within the timeout, no token', async () => {
    const hanging = await listen(() => {});
    const proxy = await startProxy({ apiUrl: hanging.url, timeoutMs: 200 });
    try {
      const res = await request(proxy.url).get('/api/slow').set(sameOrigin);
      expect(res.status).toBe(504);
      expectNoTokenLeak(TOKEN, proxy.logger, res);
    } finally {
      await proxy.close();
      await hanging.close();
    }
  });

  it('upstream resetting mid-body: the client sees a cut, the process lives on', async () => {
    const resetting = await listen((req, res) => {
      if (req.url !== '/file') return void res.end('fine');
      res.writeHead(200, { 'content-length': '100000' });
      res.write('partial');
      setTimeout(() => res.socket?.destroy(), 20);
    });
    const proxy = await startProxy({ apiUrl: resetting.url });
    try {
      const outcome = await new Promise<string>((resolve) => {
        http.get(`${proxy.url}/api/file`, { headers: sameOrigin }, (res) => {
          res.on('data', () => {});
          res.on('end', () => resolve('complete'));
          res.on('error', () => resolve('cut'));
          res.on('aborted', () => resolve('cut'));
        });
      });
      expect(outcome).toBe('cut');
      expect((await request(proxy.url).get('/api/again').set(sameOrigin)).status).toBe(200);
      expect(proxy.logger.lines.join('\n')).not.toContain(TOKEN);
    } finally {
      await proxy.close();
      await resetting.close();
    }
  });

  it('client aborting mid-upload: the upstream request is abandoned, the process lives on', async () => {
    let upstreamSaw!: (state: string) => void;
    const saw = new Promise<string>((resolve) => (upstreamSaw = resolve));
    const upstream = await listen((req, res) => {
      req.on('data', () => {});
      req.on('close', () => upstreamSaw(req.complete ? 'complete' : 'aborted'));
      req.on('end', () => res.end('done'));
    });
    const proxy = await startProxy({ apiUrl: upstream.url });
    try {
      const client = http.request(`${proxy.url}/api/upload`, {
        method: 'POST',
        headers: { ...sameOrigin, 'transfer-encoding': 'chunked' },
      });
      client.on('error', () => {});
      client.write(Buffer.alloc(32 * 1024));
      setTimeout(() => client.destroy(), 50);
      expect(await saw).toBe('aborted');
      expect(proxy.logger.lines.join('\n')).not.toContain(TOKEN);
    } finally {
      await proxy.close();
      await upstream.close();
    }
  });
});
