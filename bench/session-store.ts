import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { runLoad, type LoadResult } from './load';

// `npm run bench:store`: what a session store costs on the small GET. Two servers of the same proxy on
// plain node:http, one with cookie sessions, one with sessions in a real redis-server (its own process,
// persistence off), each signed in once; autocannon on each in turn, rounds alternating, median of the
// rounds. The difference is one Redis GET per request (a digest of the id, a JSON parse) on loopback.
const ROOT = path.resolve(__dirname, '..');
const TSX = path.join(ROOT, 'node_modules/tsx/dist/cli.mjs');
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const DURATION = Number(process.env.BENCH_DURATION ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
const children: ChildProcess[] = [];
process.on('exit', () =>
  children.forEach((child) => {
    try {
      process.kill(-(child.pid ?? 0), 'SIGKILL');
    } catch {
      // already gone
    }
  }),
);

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

async function start(command: string, args: string[], env: Record<string, string>, ready: string): Promise<void> {
  // Each child leads its own process group (tsx starts the script as a child of its own): the group is killed at exit.
  const child = spawn(command, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'], detached: true });
  children.push(child);
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const deadline = Date.now() + 30_000;
  while (!output.includes(ready)) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`${command} ${args.join(' ')} did not start:\n${output}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Signs in through the proxy at `port`; the session cookie it set. */
function signIn(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: '/api/login',
        headers: { 'content-type': 'application/json', 'sec-fetch-site': 'same-origin' },
      },
      (res) => {
        res.resume();
        const cookie = res.headers['set-cookie']?.[0]?.split(';')[0];
        if (res.statusCode === 200 && cookie) resolve(cookie);
        else reject(new Error(`login answered ${res.statusCode}`));
      },
    );
    req.on('error', reject);
    req.end('{}');
  });
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;

async function main() {
  const upstreamPort = await freePort();
  await start(process.execPath, [TSX, 'bench/upstream-server.ts'], { BENCH_UPSTREAM_PORT: String(upstreamPort) }, 'listening');
  const redisPort = await freePort();
  await start(
    'redis-server',
    ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    {},
    'Ready to accept',
  );
  const upstream = `http://127.0.0.1:${upstreamPort}`;
  const variants = {
    cookie: { port: await freePort(), env: {} },
    redis: { port: await freePort(), env: { SESSION_STORE_URL: `redis://127.0.0.1:${redisPort}` } },
  };
  for (const variant of Object.values(variants)) {
    await start(
      process.execPath,
      [TSX, 'bench/cpu-server.ts'],
      { BENCH_MODE: 'proxy', BENCH_UPSTREAM_URL: upstream, BENCH_PORT: String(variant.port), ...variant.env },
      'ready',
    );
  }
  const cookies = { cookie: await signIn(variants.cookie.port), redis: await signIn(variants.redis.port) };
  console.log(`Small GET with a session, ${ROUNDS} rounds × ${DURATION} s, ${CONNECTIONS} connections, Node ${process.version}`);
  const results: Record<'cookie' | 'redis', LoadResult[]> = { cookie: [], redis: [] };
  for (const name of ['cookie', 'redis'] as const) {
    // Warm-up: connections, the JIT, Redis's connection.
    await runLoad({
      url: `http://127.0.0.1:${variants[name].port}/api/item`,
      headers: { cookie: cookies[name] },
      connections: CONNECTIONS,
      durationSeconds: 3,
    });
  }
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? (['cookie', 'redis'] as const) : (['redis', 'cookie'] as const);
    for (const name of order) {
      const result = await runLoad({
        url: `http://127.0.0.1:${variants[name].port}/api/item`,
        headers: { cookie: cookies[name] },
        connections: CONNECTIONS,
        durationSeconds: DURATION,
      });
      if (result.errors > 0 || result.non2xx > 0) throw new Error(`${name}: ${result.errors} errors, ${result.non2xx} non-2xx`);
      results[name].push(result);
    }
  }
  const row = (name: 'cookie' | 'redis') => {
    const rps = median(results[name].map((r) => r.rps));
    return { rps, p50: median(results[name].map((r) => r.p50)), p99: median(results[name].map((r) => r.p99)) };
  };
  const cookie = row('cookie');
  const redis = row('redis');
  console.log('| sessions | req/s | vs cookie | p50 ms | p99 ms |');
  console.log('|---|---|---|---|---|');
  console.log(`| cookies (default) | ${cookie.rps.toFixed(0)} | 1.00 | ${cookie.p50} | ${cookie.p99} |`);
  console.log(
    `| Redis (SESSION_STORE_URL) | ${redis.rps.toFixed(0)} | ${(redis.rps / cookie.rps).toFixed(2)} | ${redis.p50} | ${redis.p99} |`,
  );
  // One connection, one request at a time: the added latency of a request, the Redis round trip included.
  const serial: Record<'cookie' | 'redis', number[]> = { cookie: [], redis: [] };
  for (let round = 0; round < ROUNDS; round++) {
    for (const name of ['cookie', 'redis'] as const) {
      const result = await runLoad({
        url: `http://127.0.0.1:${variants[name].port}/api/item`,
        headers: { cookie: cookies[name] },
        connections: 1,
        durationSeconds: 3,
      });
      serial[name].push(1000 / result.rps);
    }
  }
  const [cookieMs, redisMs] = [median(serial.cookie), median(serial.redis)];
  console.log(
    `One connection: ${cookieMs.toFixed(3)} ms a request with cookies, ${redisMs.toFixed(3)} ms with Redis (+${(redisMs - cookieMs).toFixed(3)} ms).`,
  );
  process.exit(0);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
