import http, { type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http';
import nock from 'nock';
import request from 'supertest';
import type { ApiProxyOptions } from '../../proxy/index';
import { setupNock } from '../helpers/nock';
import { listen, readBody, startProxy, TRANSPORT, type RunningServer } from '../helpers/servers';
import { expectNoTokenLeak } from './leaks';

// What the proxy does to the upstream's answers: caching when cookies are set, upstream URLs, active content.

const same = { 'sec-fetch-site': 'same-origin' };
let serial = 0;
/** A token no other test uses: single flight and the reuse window are per process, keyed by token. */
const unique = (label: string) => `${label}-${++serial}-${process.pid}`;

setupNock();

interface RawAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  /** Every header line as sent, so two lines of one name can be told from one. */
  rawHeaders: string[];
  body: string;
}

/** A GET whose answer keeps its raw header lines; fails instead of hanging after 5 s. */
function get(baseUrl: string, path: string, headers: OutgoingHttpHeaders = {}): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const req = http.get(`${baseUrl}${path}`, { headers, agent: false, timeout: 5_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, rawHeaders: res.rawHeaders, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('no answer within 5 s')));
    req.on('error', reject);
  });
}

/** The values of every header line named `name` (case-insensitive), in order. */
function lines(answer: RawAnswer, name: string): string[] {
  const values: string[] = [];
  for (let i = 0; i < answer.rawHeaders.length; i += 2) {
    if (answer.rawHeaders[i]?.toLowerCase() === name) values.push(answer.rawHeaders[i + 1] ?? '');
  }
  return values;
}

// What an upstream says when it would like a response cached by everyone, CDNs included.
const CACHEABLE = {
  'cache-control': 'public, max-age=600',
  'surrogate-control': 'max-age=600',
  'cdn-cache-control': 'max-age=600',
  'cloudflare-cdn-cache-control': 'max-age=600',
  expires: 'Thu, 01 Jan 2037 00:00:00 GMT',
  'x-request-id': 'r-42',
};

describe('answers that set cookies are kept out of shared caches', () => {
  let upstream: RunningServer;
  beforeAll(async () => {
    upstream = await listen(async (req, res) => {
      const body = (await readBody(req)).toString();
      if (req.url === '/refresh') {
        const presented = (JSON.parse(body) as { refreshToken: string }).refreshToken;
        res.writeHead(200, { 'content-type': 'application/json' });
        return void res.end(JSON.stringify({ authToken: `${presented}-access`, refreshToken: `${presented}-next` }));
      }
      if (req.url === '/login') {
        res.writeHead(200, { 'content-type': 'application/json', ...CACHEABLE });
        return void res.end(JSON.stringify({ authToken: 'login-access-token-77', user: 'ada' }));
      }
      if (String(req.headers['auth-token']).startsWith('revoked')) return void res.writeHead(401).end();
      res.writeHead(200, { 'content-type': 'application/json', ...CACHEABLE });
      res.end('{"items":[]}');
    });
  });
  afterAll(() => upstream.close());

  it.each([
    ['a refresh before forwarding', (refresh: string) => `refresh-token=${refresh}`],
    ['a refresh after an upstream 401', (refresh: string) => `auth-token=revoked-${refresh}; refresh-token=${refresh}`],
    ['duplicate session cookies being cleared', () => 'auth-token=tossed-token-a; auth-token=tossed-token-b'],
  ])('a proxied answer that sets cookies after %s is private, no-store, without Expires or CDN caching headers', async (_name, cookie) => {
    const proxy = await startProxy({ apiUrl: upstream.url });
    try {
      const refresh = unique('cache-refresh');
      const res = await get(proxy.url, '/api/items', { cookie: cookie(refresh) });
      expect(res.status).toBe(200);
      expect(res.body).toBe('{"items":[]}');
      expect(lines(res, 'set-cookie')).toHaveLength(2);
      expect(lines(res, 'cache-control')).toEqual(['private, no-store']);
      for (const name of ['surrogate-control', 'cdn-cache-control', 'cloudflare-cdn-cache-control', 'expires'])
        expect(lines(res, name)).toEqual([]);
      expect(res.headers['x-request-id']).toBe('r-42');
      expectNoTokenLeak(refresh, proxy.logger, { text: res.body, headers: res.headers });
    } finally {
      await proxy.close();
    }
  });

  it("a proxied answer without cookies keeps the upstream's caching headers unchanged", async () => {
    const proxy = await startProxy({ apiUrl: upstream.url });
    try {
      const res = await get(proxy.url, '/api/items', { cookie: 'auth-token=valid-access-token-1' });
      expect(res.status).toBe(200);
      expect(lines(res, 'set-cookie')).toEqual([]);
      expect(lines(res, 'cache-control')).toEqual(['public, max-age=600']);
      expect(lines(res, 'surrogate-control')).toEqual(['max-age=600']);
      expect(lines(res, 'cdn-cache-control')).toEqual(['max-age=600']);
      expect(lines(res, 'cloudflare-cdn-cache-control')).toEqual(['max-age=600']);
      expect(lines(res, 'expires')).toEqual(['Thu, 01 Jan 2037 00:00:00 GMT']);
    } finally {
      await proxy.close();
    }
  });

  it('a login answer is private, no-store, without Expires or CDN caching headers, whatever the upstream said', async () => {
    const proxy = await startProxy({ apiUrl: upstream.url });
    try {
      const res = await request(proxy.url).post('/api/login').set(same).send({});
      expect(res.status).toBe(200);
      expect(res.text).toBe('{"user":"ada"}');
      expect(res.headers['cache-control']).toBe('private, no-store');
      for (const name of ['surrogate-control', 'cdn-cache-control', 'cloudflare-cdn-cache-control', 'expires'])
        expect(res.headers[name]).toBeUndefined();
      expect(res.headers['x-request-id']).toBe('r-42');
      expectNoTokenLeak('login-access-token-77', proxy.logger, res);
    } finally {
      await proxy.close();
    }
  });
});

describe('upstream URLs in Location, Content-Location, Link and Refresh', () => {
  const API = 'http://api.test';
  let proxy: Awaited<ReturnType<typeof startProxy>>;
  beforeAll(async () => {
    proxy = await startProxy({ apiUrl: `${API}/v1` });
  });
  afterAll(() => proxy.close());

  it.each([
    ['http://api.test/v1/items/5?x=1', 'mapped to /api/items/5?x=1', '/api/items/5?x=1'],
    ['/v1/items/5', 'mapped to /api/items/5', '/api/items/5'],
    ['//api.test/v1/items/5', 'mapped to /api/items/5', '/api/items/5'],
    ['http://api.test:80/v1/items/5#top', 'mapped to /api/items/5#top', '/api/items/5#top'],
    ['http://api.test/admin', "dropped (the upstream's host, outside API_URL's path)", undefined],
    ['http://api.test/v10/items', "dropped (the upstream's host, outside API_URL's path)", undefined],
    ['https://idp.example.com/login', 'unchanged (another host)', 'https://idp.example.com/login'],
    ['items/5', 'unchanged (a relative reference)', 'items/5'],
  ])('Location and Content-Location %s: %s', async (upstreamUrl, _what, clientUrl) => {
    nock(API).get('/v1/old').reply(302, '', { location: upstreamUrl, 'content-location': upstreamUrl });
    const res = await get(proxy.url, '/api/old');
    expect(res.status).toBe(302);
    expect(lines(res, 'location')).toEqual(clientUrl === undefined ? [] : [clientUrl]);
    expect(lines(res, 'content-location')).toEqual(clientUrl === undefined ? [] : [clientUrl]);
  });

  it.each([
    ['<http://api.test/v1/items?page=2>; rel="next"', 'mapped to </api/items?page=2>; rel="next"', '</api/items?page=2>; rel="next"'],
    [
      '<http://api.test/v1/items?page=1>; rel="prev", <http://api.test/v1/items?page=3>; rel="next"',
      'mapped to </api/items?page=1>; rel="prev", </api/items?page=3>; rel="next"',
      '</api/items?page=1>; rel="prev", </api/items?page=3>; rel="next"',
    ],
    ['</v1/items?page=2>; rel="next"', 'mapped to </api/items?page=2>; rel="next"', '</api/items?page=2>; rel="next"'],
    ['<https://docs.example.com/api>; rel="help"', 'unchanged (another host)', '<https://docs.example.com/api>; rel="help"'],
    ['<http://api.test/admin/users>; rel="related"', "dropped (the upstream's host, outside API_URL's path)", undefined],
  ])('Link %s: %s', async (upstreamLink, _what, clientLink) => {
    nock(API).get('/v1/items').reply(200, '[]', { 'content-type': 'application/json', link: upstreamLink });
    const res = await get(proxy.url, '/api/items');
    expect(res.status).toBe(200);
    expect(lines(res, 'link')).toEqual(clientLink === undefined ? [] : [clientLink]);
  });

  it.each([
    ['0; url=http://api.test/v1/next?a=1', 'mapped to 0; url=/api/next?a=1', '0; url=/api/next?a=1'],
    ["5;URL='http://api.test/v1/next'", 'mapped to 5; url=/api/next', '5; url=/api/next'],
    ['3; url=http://api.test/admin', "dropped (the upstream's host, outside API_URL's path)", undefined],
    ['1; url=https://idp.example.com/x', 'unchanged (another host)', '1; url=https://idp.example.com/x'],
    ['10', 'unchanged (no URL)', '10'],
  ])('Refresh %s: %s', async (upstreamRefresh, _what, clientRefresh) => {
    nock(API).get('/v1/page').reply(200, 'ok', { 'content-type': 'text/plain', refresh: upstreamRefresh });
    const res = await get(proxy.url, '/api/page');
    expect(res.status).toBe(200);
    expect(lines(res, 'refresh')).toEqual(clientRefresh === undefined ? [] : [clientRefresh]);
  });
});

describe('active content from the upstream', () => {
  const CSP = "default-src 'none'; sandbox";
  let upstream: RunningServer;
  beforeAll(async () => {
    // The content type (or 'none') and an optional policy of the upstream's own come in request headers.
    upstream = await listen((req, res) => {
      const type = String(req.headers['x-test-type']);
      if (type !== 'none') res.setHeader('content-type', type);
      if (req.headers['x-test-csp'] !== undefined) res.setHeader('content-security-policy', String(req.headers['x-test-csp']));
      res.end('<svg xmlns="http://www.w3.org/2000/svg"><script>alert(document.domain)</script></svg>');
    });
  });
  afterAll(() => upstream.close());

  async function fetchTyped(options: ApiProxyOptions, type: string, headers: OutgoingHttpHeaders = {}): Promise<RawAnswer> {
    const proxy = await startProxy({ apiUrl: upstream.url, ...options });
    try {
      return await get(proxy.url, '/api/file', { 'x-test-type': type, ...headers });
    } finally {
      await proxy.close();
    }
  }

  it.each([
    ['Content-Type: text/html', 'text/html'],
    ['Content-Type: text/html; charset=utf-8', 'text/html; charset=utf-8'],
    ['Content-Type: TEXT/HTML', 'TEXT/HTML'],
    ['Content-Type: application/xhtml+xml', 'application/xhtml+xml'],
    ['Content-Type: image/svg+xml', 'image/svg+xml'],
    ['Content-Type: text/xml', 'text/xml'],
    ['Content-Type: application/xml', 'application/xml'],
    ['Content-Type: application/atom+xml', 'application/atom+xml'],
    ['no Content-Type at all', 'none'],
  ])("an answer with %s gets nosniff and Content-Security-Policy: default-src 'none'; sandbox", async (_name, type) => {
    const res = await fetchTyped({}, type);
    expect(res.status).toBe(200);
    expect(lines(res, 'x-content-type-options')).toEqual(['nosniff']);
    expect(lines(res, 'content-security-policy')).toEqual([CSP]);
  });

  it.each(['application/json', 'application/json; charset=utf-8', 'text/plain', 'image/png'])(
    'an answer with Content-Type: %s gets nosniff and no Content-Security-Policy',
    async (type) => {
      const res = await fetchTyped({}, type);
      expect(lines(res, 'x-content-type-options')).toEqual(['nosniff']);
      expect(lines(res, 'content-security-policy')).toEqual([]);
    },
  );

  // Two policies are both enforced (CSP 3 §3.1), as two header lines or as one comma-joined line: a Web
  // Response joins a repeated header into one.
  it("keeps the upstream's own policy and adds the sandbox beside it: two policies", async () => {
    const res = await fetchTyped({}, 'text/html', { 'x-test-csp': "script-src 'self'" });
    expect(lines(res, 'content-security-policy')).toEqual(
      TRANSPORT === 'pages' ? ["script-src 'self'", CSP] : [`script-src 'self', ${CSP}`],
    );
  });

  it("passes the upstream's own policy alone on an answer that is not active content", async () => {
    const res = await fetchTyped({}, 'application/json', { 'x-test-csp': "script-src 'self'" });
    expect(lines(res, 'content-security-policy')).toEqual(["script-src 'self'"]);
  });

  it('activeContentPolicy: false adds no policy, and nosniff stays', async () => {
    const res = await fetchTyped({ activeContentPolicy: false }, 'text/html');
    expect(lines(res, 'content-security-policy')).toEqual([]);
    expect(lines(res, 'x-content-type-options')).toEqual(['nosniff']);
  });

  it('a custom activeContentPolicy is used as given', async () => {
    const res = await fetchTyped({ activeContentPolicy: "sandbox; default-src 'self'" }, 'image/svg+xml');
    expect(lines(res, 'content-security-policy')).toEqual(["sandbox; default-src 'self'"]);
    expect(lines(res, 'x-content-type-options')).toEqual(['nosniff']);
  });
});
