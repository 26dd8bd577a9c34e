import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { BrowserSession } from '../helpers/browser-session';
import { listen, readBody, type RunningServer } from '../helpers/servers';
import { stopChild } from '../helpers/next-app';
import { startRedis, type RedisProcess } from '../helpers/redis-server';

// The refresh lock between processes that share nothing but Redis (in one process, the instances would
// also share the in-process single flight): an upstream that rotates strictly, and answers a refresh
// after `refreshDelayMs`, must never be shown a refresh token twice.
const ROOT = path.resolve(__dirname, '../..');
let redis: RedisProcess;
let upstream: RunningServer;
let children: ChildProcess[] = [];
/** Every refresh token presented to the upstream, in order. */
let presented: string[];
let refreshDelayMs = 0;

beforeAll(async () => {
  redis = await startRedis();
  let current = { access: 'opaque-access-0', refresh: 'opaque-refresh-0' };
  let serial = 0;
  const issue = () => {
    serial += 1;
    current = { access: `opaque-access-${serial}`, refresh: `opaque-refresh-${serial}` };
    return { authToken: current.access, refreshToken: current.refresh, expires_in: 2 };
  };
  upstream = await listen((req, res) => {
    void readBody(req).then(async (body) => {
      const json = (status: number, value: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(value));
      };
      if (req.url === '/login') return json(200, issue());
      if (req.url === '/refresh') {
        const token = (JSON.parse(body.toString()) as { refreshToken: string }).refreshToken;
        presented.push(token);
        if (token !== current.refresh) return json(401, { error: 'refresh token reused' });
        const answer = issue();
        await new Promise((resolve) => setTimeout(resolve, refreshDelayMs));
        return json(200, answer);
      }
      json(req.headers['auth-token'] === current.access ? 200 : 401, {});
    });
  });
});
afterAll(async () => {
  await upstream.close();
  await redis.stop();
});
afterEach(async () => {
  await Promise.all(children.map(stopChild));
  children = [];
});

async function instance(timeoutMs: number): Promise<string> {
  const child = spawn(process.execPath, [path.join(ROOT, 'node_modules/tsx/dist/cli.mjs'), '__tests__/scale/proxy-instance.ts'], {
    cwd: ROOT,
    env: { ...process.env, API_URL: upstream.url, SESSION_STORE_URL: redis.url, API_TIMEOUT_MS: String(timeoutMs) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  const port = await new Promise<string>((resolve, reject) => {
    let output = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const match = /listening (\d+)/.exec(output);
      if (match?.[1]) resolve(match[1]);
    });
    child.once('exit', () => reject(new Error(`instance exited:\n${output}`)));
  });
  return `http://127.0.0.1:${port}`;
}

async function burst(urls: string[]): Promise<number[]> {
  const browser = new BrowserSession(urls[0] ?? '');
  await browser.request('POST', '/api/login', { json: {} });
  presented = [];
  // Within the 1 s skew of the 2 s token.
  await new Promise((resolve) => setTimeout(resolve, 1_200));
  const answers = await Promise.all(
    Array.from({ length: 30 }, (_, i) => {
      const other = new BrowserSession(urls[i % urls.length] ?? '');
      for (const [name, value] of browser.cookies) other.cookies.set(name, value);
      return other.request('GET', '/api/me');
    }),
  );
  return answers.map((answer) => answer.status);
}

describe('three proxy processes on one Redis', () => {
  it('refresh once for 30 requests at expiry, all answered 200', async () => {
    refreshDelayMs = 200;
    const urls = await Promise.all([instance(5_000), instance(5_000), instance(5_000)]);
    const statuses = await burst(urls);
    expect(statuses).toEqual(Array(30).fill(200));
    expect(presented).toEqual(['opaque-refresh-1']);
  });

  it('never show a refresh token twice when the upstream answers the refresh after timeoutMs: the others wait, then 503', async () => {
    refreshDelayMs = 1_500;
    const urls = await Promise.all([instance(1_000), instance(1_000), instance(1_000)]);
    const started = Date.now();
    const statuses = await burst(urls);
    expect(presented).toHaveLength(1);
    expect(new Set(statuses)).toEqual(new Set(statuses.filter((status) => status === 503 || status === 504)));
    expect(Date.now() - started).toBeLessThan(1_200 + 3 * 1_000 + 1_000);
  });
});
