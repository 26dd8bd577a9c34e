import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createClient } from 'redis';
import { BrowserSession } from '../helpers/browser-session';
import { startDemoApi, type DemoApiProcess } from '../helpers/demo-api-process';
import { buildNextApp, startNextApp, type NextApp } from '../helpers/next-app';
import { makeCertificate, requireProgram, startNginx, type NginxProcess } from '../helpers/nginx';
import { startRedis, type RedisProcess } from '../helpers/redis-server';

// The operator's setup: three `next start` of the demo app behind nginx (TLS, round-robin), sessions in
// one redis-server, and the demo API rotating refresh tokens strictly (a reused one revokes the family)
// with access tokens of 5 KB and 6 s (refreshed within 1 s of expiry).
const DIST = '.next-scale';
const credentials = { json: { email: 'ada@example.com', password: 'lovelace' } };

let dir: string;
let redis: RedisProcess;
let raw: ReturnType<typeof createClient>;
let api: DemoApiProcess;
let apps: NextApp[] = [];
let nginx: NginxProcess;
let pem: string;

beforeAll(async () => {
  requireProgram('nginx', ['-v'], 'nginx');
  dir = mkdtempSync(path.join(os.tmpdir(), 'bff-scale-'));
  buildNextApp(DIST);
  redis = await startRedis();
  raw = createClient({ url: redis.url });
  raw.on('error', () => undefined);
  await raw.connect();
  api = await startDemoApi({ DEMO_ACCESS_TOKEN_TTL_SECONDS: '6', DEMO_TOKEN_PADDING_BYTES: '5000', DEMO_REFRESH_GRACE_SECONDS: '0' });
  const env = { API_URL: api.url, SESSION_STORE_URL: redis.url, TRUST_PROXY: 'true', DEMO_REFRESH_SKEW_SECONDS: '1' };
  apps = await Promise.all([startNextApp(DIST, env), startNextApp(DIST, env), startNextApp(DIST, env)]);
  const certificate = makeCertificate(dir);
  pem = certificate.pem;
  nginx = await startNginx(
    dir,
    apps.map((app) => new URL(app.url).host),
    certificate,
  );
}, 400_000);

afterAll(async () => {
  await nginx?.stop();
  await Promise.all(apps.map((app) => app.stop()));
  await api?.stop();
  await raw?.close().catch(() => undefined);
  await redis?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const browser = () => new BrowserSession(nginx.url, { ca: pem });
/** The same browser's cookies, sent straight to one instance as nginx would forward them. */
function straightTo(app: NextApp, from: BrowserSession): BrowserSession {
  const direct = new BrowserSession(app.url, { headers: { 'x-forwarded-proto': 'https', 'x-forwarded-host': new URL(nginx.url).host } });
  for (const [name, value] of from.cookies) direct.cookies.set(name, value);
  return direct;
}
const refreshes = () => (api.output().match(/POST \/refresh 200/g) ?? []).length;
const alive = (app: NextApp) => {
  try {
    process.kill(app.pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('three instances behind nginx with TLS, sessions in Redis', () => {
  let user: BrowserSession;
  beforeAll(() => {
    user = browser();
  });

  it('signs in through nginx: the browser holds only a random id, in a __Host- Secure cookie; the 5 KB token is in Redis', async () => {
    const login = await user.request('POST', '/api/login', credentials);
    expect(login.status).toBe(200);
    expect(login.setCookies).toHaveLength(1);
    expect(login.setCookies[0]).toMatch(/^__Host-auth-token=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Lax; Secure; Max-Age=\d+$/);
    const keys = await raw.keys('bff:s:*');
    expect(keys).toHaveLength(1);
    const stored = JSON.parse((await raw.get(keys[0] ?? '')) ?? '{}') as { accessToken: string };
    expect(stored.accessToken.length).toBeGreaterThan(5_000);
    expect((await user.request('GET', '/api/me')).status).toBe(200);
  });

  it('answers 30 concurrent requests at access-token expiry with exactly one upstream refresh and 30 × 200; then every instance forwards the new token', async () => {
    const before = refreshes();
    // Within the 1 s refresh skew of the 6 s token.
    await new Promise((resolve) => setTimeout(resolve, 5_200));
    const answers = await Promise.all(Array.from({ length: 30 }, () => user.request('GET', '/api/me')));
    expect(answers.map((answer) => answer.status)).toEqual(Array(30).fill(200));
    expect(refreshes() - before).toBe(1);
    expect(api.output()).not.toContain('reused');
    // Past the old token's expiry: only the new one can be accepted, on whichever instance.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    const logged = nginx.accessLog().length;
    for (let i = 0; i < 6; i++) expect((await user.request('GET', '/api/me')).status).toBe(200);
    const servedBy = new Set(
      nginx
        .accessLog()
        .slice(logged)
        .map((line) => line.split(' ').pop()),
    );
    expect(servedBy.size).toBe(3);
    for (const app of apps) expect((await straightTo(app, user).request('GET', '/api/me')).status).toBe(200);
    expect(refreshes() - before).toBe(1);
  });

  it('ends the session on every instance at a logout on one: a copy of the cookie taken before it no longer works', async () => {
    const copy = new Map(user.cookies);
    expect((await user.request('POST', '/api/logout')).status).toBe(200);
    for (const app of apps) {
      const replay = straightTo(app, user);
      for (const [name, value] of copy) replay.cookies.set(name, value);
      expect((await replay.request('GET', '/api/me')).status).toBe(401);
    }
  });

  it('answers 503 session_store_unavailable on every instance while Redis is down, and recovers when it is back (its sessions lost: persistence off)', async () => {
    const other = browser();
    expect((await other.request('POST', '/api/login', credentials)).status).toBe(200);
    await redis.stop();
    for (let i = 0; i < 3; i++) {
      const down = await other.request('GET', '/api/me');
      expect(down.status).toBe(503);
      expect(JSON.parse(down.body).error.code).toBe('session_store_unavailable');
    }
    // Pages that need no session still render.
    expect((await other.request('GET', '/login')).status).toBe(200);
    expect(apps.every(alive)).toBe(true);
    await redis.start();
    let status = 503;
    for (let i = 0; i < 100 && status === 503; i++) {
      status = (await other.request('GET', '/api/me')).status;
      if (status === 503) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(status).toBe(401);
    expect((await other.request('POST', '/api/login', credentials)).status).toBe(200);
    for (const app of apps) expect((await straightTo(app, other).request('GET', '/api/me')).status).toBe(200);
    expect(apps.every(alive)).toBe(true);
  });
});
