import http from 'node:http';
import nock from 'nock';
import request from 'supertest';
import { setupNock } from '../helpers/nock';
import { listen, rawRequest, readBody, startProxy, TRANSPORT, type RunningServer } from '../helpers/servers';

const API = 'http://api.test';
let proxy: RunningServer;
// A real upstream that answers with what it received: the exact request target and headers.
let echo: RunningServer;
let echoed: number;

/** Expects `times` requests at the echo upstream (checked after each test). */
function echoUpstream(times = 1) {
  echoed -= times;
}

setupNock();
beforeAll(async () => {
  echo = await listen((req, res) => {
    echoed += 1;
    const body = JSON.stringify({ path: req.url, method: req.method, headers: req.headers });
    res.setHeader('content-type', 'application/json');
    res.setHeader('content-length', Buffer.byteLength(body));
    res.end(body);
  });
  proxy = await startProxy({ apiUrl: `${echo.url}/v1` });
});
beforeEach(() => {
  echoed = 0;
});
afterEach(() => {
  expect(echoed).toBe(0);
});
afterAll(async () => {
  await proxy.close();
  await echo.close();
});

describe('method, path and query', () => {
  it.each(['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'])('forwards %s with its method, under the base path', async (method) => {
    echoUpstream();
    const res = await request(proxy.url)[method.toLowerCase() as 'get']('/api/items/7');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ method, path: '/v1/items/7' });
  });

  it('forwards HEAD with the upstream status and headers and no body (Content-Length too, except where Next drops it: route handlers)', async () => {
    echoUpstream();
    const res = await request(proxy.url).head('/api/items');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/json');
    if (TRANSPORT === 'pages') expect(Number(res.headers['content-length'])).toBeGreaterThan(0);
    else expect(res.headers['content-length']).toBeUndefined();
    expect(res.text).toBeUndefined();
  });

  // Byte for byte on the Pages route. A route handler gets the URL as Next parsed it (a `'` in the query
  // percent-encoded, the query re-serialised by Next itself: __tests__/next/app-router.test.ts), so the
  // rows that hold for it are the ones a URL parser leaves alone.
  const targets: Array<[string, string]> = [
    ['/api/sign?b=%20x&a&c=%2B&d=1+2&e=%7e', '/v1/sign?b=%20x&a&c=%2B&d=1+2&e=%7e'],
    ['/api/a?x=1&x=2&empty=&=v', '/v1/a?x=1&x=2&empty=&=v'],
    ['/api/users:batchGet?ids=1,2', '/v1/users:batchGet?ids=1,2'],
    ['/api/caf%C3%A9/%20x', '/v1/caf%C3%A9/%20x'],
    ['/api', '/v1'],
    ['/api/', '/v1/'],
    ['/api?x=1', '/v1?x=1'],
  ];
  if (TRANSPORT === 'pages')
    targets.push(["/api/q?json=%7B%22a%22%3A1%7D&sig=AbC%2F%3D%3D&t='", "/v1/q?json=%7B%22a%22%3A1%7D&sig=AbC%2F%3D%3D&t='"]);
  it.each(targets)('sends %s upstream as %s, byte for byte', async (sent, expected) => {
    echoUpstream();
    // A raw client: URL classes in HTTP clients re-encode some characters before sending.
    const res = await rawRequest(proxy.url, 'GET', sent);
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body.toString()).path).toBe(expected);
  });

  it('goes to the upstream root when API_URL has no base path', async () => {
    const bare = await startProxy({ apiUrl: `${echo.url}/` });
    try {
      echoUpstream();
      const res = await request(bare.url).get('/api/me?x');
      expect(res.body.path).toBe('/me?x');
    } finally {
      await bare.close();
    }
  });

  it("sends the upstream's own Host", async () => {
    echoUpstream();
    const res = await request(proxy.url).get('/api/me').set('host', 'app.example.com');
    expect(res.body.headers.host).toBe(`127.0.0.1:${echo.port}`);
  });
});

describe('request headers', () => {
  it("sends the cookie's token as auth-token and leaves the browser's cookies behind", async () => {
    echoUpstream();
    const res = await request(proxy.url).get('/api/me').set('cookie', 'theme=dark; auth-token=tok-abc.123; other=1');
    expect(res.body.headers['auth-token']).toBe('tok-abc.123');
    expect(res.body.headers.cookie).toBeUndefined();
    expect(res.body.headers.authorization).toBeUndefined();
  });

  it('removes auth-token and Authorization headers sent by the client', async () => {
    echoUpstream(2);
    const without = await request(proxy.url).get('/api/me').set('auth-token', 'forged').set('authorization', 'Bearer forged');
    expect(without.body.headers['auth-token']).toBeUndefined();
    expect(without.body.headers.authorization).toBeUndefined();
    const withCookie = await request(proxy.url).get('/api/me').set('auth-token', 'forged').set('cookie', 'auth-token=real');
    expect(withCookie.body.headers['auth-token']).toBe('real');
  });

  it('sends Authorization: Bearer with the bearer option', async () => {
    const bearer = await startProxy({ apiUrl: echo.url, authHeader: 'bearer' });
    try {
      echoUpstream();
      const res = await request(bearer.url).get('/api/me').set('cookie', 'auth-token=t1').set('authorization', 'Bearer forged');
      expect(res.body.headers.authorization).toBe('Bearer t1');
      expect(res.body.headers['auth-token']).toBeUndefined();
    } finally {
      await bearer.close();
    }
  });

  it.each([
    ['an empty cookie', 'auth-token='],
    ['a cookie with a space', 'auth-token=a b'],
    ['a cookie with a backslash', 'auth-token=a\\b'],
    ['another cookie only', 'session=1'],
  ])('forwards without auth for %s', async (_name, cookie) => {
    echoUpstream();
    const res = await request(proxy.url).get('/api/me').set('cookie', cookie);
    expect(res.status).toBe(200);
    expect(res.body.headers['auth-token']).toBeUndefined();
  });

  it('drops hop-by-hop headers and the ones Connection names, but not the injected token', async () => {
    echoUpstream();
    const res = await request(proxy.url)
      .get('/api/me')
      .set('cookie', 'auth-token=t1')
      .set('connection', 'x-private, auth-token, keep-alive')
      .set('x-private', 'secret')
      .set('keep-alive', 'timeout=5')
      .set('te', 'trailers')
      .set('upgrade', 'h2c')
      .set('proxy-authorization', 'Basic eA==')
      .set('x-kept', 'yes');
    const headers = res.body.headers as Record<string, string>;
    for (const name of ['x-private', 'keep-alive', 'te', 'upgrade', 'proxy-authorization']) {
      expect(headers[name]).toBeUndefined();
    }
    expect(headers['auth-token']).toBe('t1');
    expect(headers['x-kept']).toBe('yes');
  });

  it("drops Next's internal headers", async () => {
    echoUpstream();
    const res = await request(proxy.url)
      .get('/api/me')
      .set('x-middleware-subrequest', 'pages/_middleware')
      .set('x-nextjs-data', '1')
      .set('x-invoke-path', '/x')
      .set('x-next-foo', '1');
    const names = Object.keys(res.body.headers as object);
    expect(names.filter((name) => /^x-(middleware|nextjs|invoke|next)-/.test(name))).toEqual([]);
  });

  it('sets X-Forwarded-For/Proto/Host itself instead of copying the client', async () => {
    echoUpstream();
    const res = await request(proxy.url)
      .get('/api/me')
      .set('host', 'app.example.com')
      .set('x-forwarded-for', '6.6.6.6')
      .set('x-forwarded-proto', 'https')
      .set('x-forwarded-host', 'evil.example')
      .set('forwarded', 'for=6.6.6.6');
    // A route handler has no socket: without trustProxy, no address is passed on rather than the client's claim.
    expect(res.body.headers['x-forwarded-for']).toBe(TRANSPORT === 'pages' ? '127.0.0.1' : undefined);
    expect(res.body.headers['x-forwarded-proto']).toBe('http');
    expect(res.body.headers['x-forwarded-host']).toBe('app.example.com');
    expect(res.body.headers.forwarded).toBeUndefined();
  });

  it('appends to a trusted X-Forwarded-For chain and believes its proto and host with trustProxy', async () => {
    const trusting = await startProxy({ apiUrl: echo.url, trustProxy: true });
    try {
      echoUpstream();
      const res = await request(trusting.url)
        .get('/api/me')
        .set('x-forwarded-for', '203.0.113.9')
        .set('x-forwarded-proto', 'https')
        .set('x-forwarded-host', 'app.example.com');
      // A route handler passes the trusted chain as received (it has no socket address to append).
      expect(res.body.headers['x-forwarded-for']).toBe(TRANSPORT === 'pages' ? '203.0.113.9, 127.0.0.1' : '203.0.113.9');
      expect(res.body.headers['x-forwarded-proto']).toBe('https');
      expect(res.body.headers['x-forwarded-host']).toBe('app.example.com');
    } finally {
      await trusting.close();
    }
  });
});

describe('response headers and bodies', () => {
  let viaNock: RunningServer;
  beforeAll(async () => {
    viaNock = await startProxy({ apiUrl: `${API}/v1` });
  });
  afterAll(() => viaNock.close());

  it('passes status, body and end-to-end headers through; drops hop-by-hop, Connection-named and Set-Cookie', async () => {
    nock(API).get('/v1/items').reply(418, 'short and stout', {
      'content-type': 'text/plain',
      connection: 'x-internal',
      'x-internal': 'secret',
      'keep-alive': 'timeout=99',
      'proxy-authenticate': 'Basic',
      'set-cookie': 'upstream-session=1; Path=/',
      'x-request-id': 'r-1',
    });
    const res = await request(viaNock.url).get('/api/items');
    expect(res.status).toBe(418);
    expect(res.text).toBe('short and stout');
    expect(res.headers['x-request-id']).toBe('r-1');
    expect(res.headers['x-internal']).toBeUndefined();
    expect(res.headers['keep-alive']).not.toBe('timeout=99');
    expect(res.headers['proxy-authenticate']).toBeUndefined();
    expect(res.headers['set-cookie']).toBeUndefined();
  });

  it('streams a binary request body to the upstream and its answer back, byte for byte', async () => {
    const payload = Buffer.from(Array.from({ length: 70_000 }, (_, i) => (i * 7) % 256));
    nock(API)
      .post('/v1/upload', (body: string) => Buffer.from(body, 'hex').equals(payload))
      .reply(200, (_uri, body) => Buffer.from(body as string, 'hex'), { 'content-type': 'application/octet-stream' });
    const res = await request(viaNock.url)
      .post('/api/upload')
      .set('content-type', 'application/octet-stream')
      .send(payload)
      .buffer(true)
      .parse((response, done) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => done(null, Buffer.concat(chunks)));
      });
    expect(res.status).toBe(200);
    expect(Buffer.compare(res.body as Buffer, payload)).toBe(0);
  });
});

describe('Expect: 100-continue', () => {
  it('forwards the body and the auth header of a request that waits for 100 Continue', async () => {
    const upstream = await listen(async (req, res) => {
      const body = await readBody(req);
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ token: req.headers['auth-token'] ?? null, cookie: req.headers.cookie ?? null, body: body.toString() }));
    });
    const viaProxy = await startProxy({ apiUrl: upstream.url });
    try {
      const answer = await new Promise<{ status: number; body: string; gotContinue: boolean }>((resolve, reject) => {
        let gotContinue = false;
        const req = http.request(`${viaProxy.url}/api/things`, {
          method: 'POST',
          headers: {
            expect: '100-continue',
            cookie: 'auth-token=t-expect',
            'sec-fetch-site': 'same-origin',
            'content-type': 'text/plain',
            'content-length': '5',
          },
        });
        req.on('continue', () => {
          gotContinue = true;
          req.end('hello');
        });
        req.on('response', (res) => {
          let body = '';
          res.on('data', (chunk: Buffer) => (body += chunk.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body, gotContinue }));
        });
        req.on('error', reject);
      });
      expect(answer.gotContinue).toBe(true);
      expect(answer.status).toBe(200);
      expect(JSON.parse(answer.body)).toEqual({ token: 't-expect', cookie: null, body: 'hello' });
    } finally {
      await viaProxy.close();
      await upstream.close();
    }
  });
});
