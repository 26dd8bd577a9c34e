import path from 'node:path';
import { buildNextApp, startNextApp, type NextApp } from '../helpers/next-app';
import { listen, rawRequest, type RunningServer } from '../helpers/servers';

// The proxy forwards the path Next routed to it, not the one the client sent: a fixture app
// (__tests__/fixtures/rewrites-app) with rewrites into, inside and around `/api`, and a proxy.ts rewrite.
const APP = path.resolve(__dirname, '../fixtures/rewrites-app');
const DIST = '.next-jest';
let upstream: RunningServer;
let app: NextApp;
const seen: string[] = [];

beforeAll(async () => {
  upstream = await listen((req, res) => {
    seen.push(req.url ?? '');
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ url: req.url }));
  });
  buildNextApp(DIST, {}, APP);
  app = await startNextApp(DIST, { API_URL: upstream.url }, APP);
}, 300_000);

afterAll(async () => {
  await app?.stop();
  await upstream?.close();
});

beforeEach(() => {
  seen.length = 0;
});

async function upstreamUrlFor(target: string): Promise<string> {
  const res = await rawRequest(app.url, 'GET', target, { 'sec-fetch-site': 'same-origin' });
  expect(res.status).toBe(200);
  return (JSON.parse(res.body.toString()) as { url: string }).url;
}

describe('rewrites around the proxy under next start', () => {
  it('forwards an unrewritten path and its raw query unchanged', async () => {
    expect(await upstreamUrlFor('/api/items?b=%20x&a')).toBe('/items?b=%20x&a');
  });

  it('honours a beforeFiles rewrite that fences /api/internal/* onto another path', async () => {
    expect(await upstreamUrlFor('/api/internal/secrets?q=1')).toBe('/public/fenced?q=1');
    expect(seen).toEqual(['/public/fenced?q=1']);
  });

  it('honours the fence through the other source into the prefix too (/backend/internal/*)', async () => {
    expect(await upstreamUrlFor('/backend/internal/secrets')).toBe('/public/fenced');
  });

  it('follows a rewrite into the prefix (/backend/* → /api/*), keeping the raw query', async () => {
    expect(await upstreamUrlFor('/backend/items?x=%2B&y')).toBe('/items?x=%2B&y');
  });

  it('keeps percent-encoding of a rewritten path as the client sent it', async () => {
    expect(await upstreamUrlFor('/backend/a%20b/%C3%A9')).toBe('/a%20b/%C3%A9');
  });

  it('follows an afterFiles rewrite inside the prefix (/api/v2/* → /api/v1/*)', async () => {
    expect(await upstreamUrlFor('/api/v2/things?z')).toBe('/v1/things?z');
  });

  it('follows a proxy.ts (middleware) rewrite', async () => {
    expect(await upstreamUrlFor('/api/legacy/old')).toBe('/moved/target');
  });

  it.each(['/api/%69nternal/secrets', '/api/internal;x/secrets'])(
    'refuses %s, which the fence does not match, with 400 bad_path',
    async (target) => {
      const res = await rawRequest(app.url, 'GET', target, { 'sec-fetch-site': 'same-origin' });
      expect(res.status).toBe(400);
      expect(JSON.parse(res.body.toString())).toEqual({ error: { code: 'bad_path', message: expect.any(String) } });
      expect(seen).toEqual([]);
    },
  );

  it('still refuses an encoded separator that a rewrite carries into the prefix', async () => {
    const res = await rawRequest(app.url, 'GET', '/backend/a%2Fb', { 'sec-fetch-site': 'same-origin' });
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body.toString())).toEqual({ error: { code: 'bad_path', message: expect.any(String) } });
    expect(seen).toEqual([]);
  });
});
