import fc from 'fast-check';
import request from 'supertest';
import { parseProxiedTarget } from '../../proxy/upstream-path';
import { buildUpstreamPath } from '../../proxy/upstream-path';
import { listen, rawRequest, startProxy, type RunningServer } from '../helpers/servers';
import { expectNoTokenLeak } from './leaks';

const BASE = '/v1/base';
// Pieces attackers combine: separators, dots, their encodings, controls, scheme-ish text.
const pieces = fc.constantFrom(
  '/',
  '.',
  '..',
  '%2e',
  '%2E',
  '%2f',
  '%2F',
  '%5c',
  '\\',
  '%00',
  '%0a',
  '%0d',
  '\r',
  '\n',
  ' ',
  ';',
  '%3b',
  '?',
  '#',
  '%23',
  '@',
  ':',
  'http:',
  '//',
  'a',
  'b',
  '%',
  '%25',
  'login',
  'LOGIN',
  '~',
  '%7e',
);
const attackerPath = fc.array(pieces, { maxLength: 10 }).map((parts) => `/api/${parts.join('')}`);

/** Segments after decoding, as an upstream that decodes before routing would see them. */
function decodedSegments(path: string): string[] {
  return path.split('/').map((segment) => {
    try {
      return decodeURIComponent(segment);
    } catch {
      return segment;
    }
  });
}

describe('path validation (property-based)', () => {
  it('never lets an accepted path leave the base path, change the host or carry a control character', () => {
    fc.assert(
      fc.property(attackerPath, (raw) => {
        const target = parseProxiedTarget(raw, '/api');
        if (typeof target === 'string') return;
        const upstreamPath = buildUpstreamPath(BASE, target);
        const url = new URL(upstreamPath, 'http://upstream.test');
        expect(url.host).toBe('upstream.test');
        expect(url.pathname.startsWith(`${BASE}`)).toBe(true);
        const pathOnly = upstreamPath.split('?')[0] ?? '';
        expect(pathOnly).not.toMatch(/[\x00-\x20\x7f\\#]/);
        expect(pathOnly).not.toContain('//');
        for (const segment of decodedSegments(pathOnly)) {
          // As a servlet container reads it too: matrix parameters cut before dot segments resolve.
          const dots = segment.split(';')[0];
          expect(dots === '.' || dots === '..' || /[\x00-\x1f/\\]/.test(segment)).toBe(false);
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('forwards the query string untouched whenever the path is accepted', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom('a', '=', '&', '%20', '+', '%2B', '~', "'", '*') }), (query) => {
        const target = parseProxiedTarget(`/api/x?${query}`, '/api');
        expect(typeof target).toBe('object');
        if (typeof target === 'object') expect(buildUpstreamPath('', target)).toBe(`/x?${query}`);
      }),
    );
  });
});

describe('login detection cannot be sidestepped', () => {
  // An upstream that treats every path as its login and echoes the token back.
  const TOKEN = 'sidestep-token-5';
  let upstream: RunningServer;
  beforeAll(async () => {
    upstream = await listen((_req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ authToken: TOKEN, echo: TOKEN }));
    });
  });
  afterAll(() => upstream.close());

  it.each([
    '/api/LOGIN',
    '/api/login/',
    '/api/login;x',
    '/api/%6cogin',
    '/api/%4C%4f%47%49%4E',
    '/api/login?x=1',
    '/api/login.json',
    '/api/login%20',
    '/api/login//',
    '/api/./login',
  ])('POST %s is captured as the login or refused: the token never reaches the body', async (path) => {
    const proxy = await startProxy({ apiUrl: upstream.url });
    try {
      const res = await rawRequest(proxy.url, 'POST', path, { 'sec-fetch-site': 'same-origin', 'content-type': 'application/json' }, '{}');
      expect([200, 400]).toContain(res.status);
      if (res.status === 200) expect(res.headers['set-cookie']?.[0]).toMatch(/^auth-token=sidestep-token-5; Path=\/; HttpOnly/);
      expectNoTokenLeak(TOKEN, proxy.logger, { text: res.body.toString(), headers: res.headers as Record<string, unknown> });
    } finally {
      await proxy.close();
    }
  });
});

describe('allowlist of upstream paths and methods', () => {
  let upstream: RunningServer;
  let proxy: Awaited<ReturnType<typeof startProxy>>;
  beforeAll(async () => {
    upstream = await listen((req, res) => res.end(`${req.method} ${req.url}`));
    proxy = await startProxy({ apiUrl: upstream.url, allow: [{ pathPrefix: '/items', methods: ['GET', 'POST'] }, { pathPrefix: '/me' }] });
  });
  afterAll(async () => {
    await proxy.close();
    await upstream.close();
  });

  it.each([
    ['GET', '/api/items', 200],
    ['GET', '/api/items/7?x=1', 200],
    ['POST', '/api/items', 200],
    ['DELETE', '/api/items/7', 403],
    ['GET', '/api/itemsX', 403],
    ['GET', '/api/admin', 403],
    ['PUT', '/api/me', 200],
    ['GET', '/api', 403],
  ])('%s %s → %i', async (method, path, status) => {
    const res = await rawRequest(proxy.url, method, path, { 'sec-fetch-site': 'same-origin' });
    expect(res.status).toBe(status);
    if (status === 403)
      expect(JSON.parse(res.body.toString())).toEqual({ error: { code: 'path_not_allowed', message: expect.any(String) } });
    else expect(res.body.toString()).toBe(`${method} ${path.slice(4)}`);
  });

  it('always lets the login and logout routes through', async () => {
    const res = await request(proxy.url).post('/api/logout').set('sec-fetch-site', 'same-origin');
    expect(res.status).toBe(200);
  });
});
