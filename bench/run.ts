import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { runLoad, type LoadResult } from './load';

// `npm run bench`: a local upstream, the reference app under `next start`, and each route to the same
// upstream measured in one run, alternating order over several rounds. Results print as a table with
// ratios to Next's rewrites, and are written to bench/results/latest.json.
const ROOT = path.resolve(__dirname, '..');
const NEXT_BIN = path.join(ROOT, 'node_modules/next/dist/bin/next');
const TSX_BIN = path.join(ROOT, 'node_modules/tsx/dist/cli.mjs');
const APP_DIR = path.join(__dirname, 'reference-app');
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const DURATION = Number(process.env.BENCH_DURATION ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
const STREAM_BYTES = Number(process.env.BENCH_STREAM_BYTES ?? 1024 ** 3);
const SOAK_REQUESTS = Number(process.env.BENCH_SOAK_REQUESTS ?? 100_000);
const SAME_ORIGIN = { 'sec-fetch-site': 'same-origin' };

const children: ChildProcess[] = [];
// Each child leads its own process group (tsx runs the script in a grandchild): the group is killed.
function stopGroup(child: ChildProcess, signal: NodeJS.Signals = 'SIGKILL'): void {
  try {
    process.kill(-(child.pid ?? 0), signal);
  } catch {
    // already gone
  }
}
process.on('exit', () => children.forEach((child) => stopGroup(child)));
process.on('SIGINT', () => process.exit(130));

function log(line: string) {
  console.log(`[bench] ${line}`);
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

async function startProcess(
  name: string,
  args: string[],
  env: Record<string, string>,
  ready: (output: string) => boolean,
): Promise<ChildProcess> {
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env: { ...process.env, ...env, NEXT_TELEMETRY_DISABLED: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  children.push(child);
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const deadline = Date.now() + 60_000;
  while (!ready(output)) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`${name} did not start:\n${output}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return child;
}

async function waitForHttp(url: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      await fetch(url);
      return;
    } catch {
      if (Date.now() > deadline) throw new Error(`${url} did not answer`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}

/** Resident memory of a process now, and its peak since the last reset (Linux /proc). */
function memoryOf(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? NaN) * 1024;
  return { rss: kb('VmRSS'), peak: kb('VmHWM') };
}

function resetPeak(pid: number): void {
  // Writing 5 to clear_refs resets VmHWM to the current RSS (Linux ≥ 4.0).
  writeFileSync(`/proc/${pid}/clear_refs`, '5');
}

interface LoopResult {
  rps: number;
  p50: number;
  p99: number;
  requests: number;
  errors: number;
  socketsOpened: number;
}

/** bench/loop-client.ts in a process of its own, for `seconds`. */
function loopClient(url: string, connections: number, seconds: number): LoopResult {
  const run = spawnSync(process.execPath, [TSX_BIN, path.join(__dirname, 'loop-client.ts'), url, String(connections), String(seconds)], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  if (run.status !== 0) throw new Error(`loop client failed:\n${run.stderr}`);
  return JSON.parse(run.stdout.trim().split('\n').pop() ?? '{}') as LoopResult;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? NaN;
const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;

/** Streams `bytes` up (POST) or down (GET), returning seconds taken. */
function stream(url: string, direction: 'upload' | 'download', bytes: number): Promise<number> {
  const chunk = Buffer.alloc(256 * 1024, 0x75);
  const started = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    if (direction === 'download') {
      http
        .get(`${url}?bytes=${bytes}`, { headers: SAME_ORIGIN }, (res) => {
          let received = 0;
          res.on('data', (data: Buffer) => (received += data.length));
          res.on('end', () =>
            received === bytes
              ? resolve(Number(process.hrtime.bigint() - started) / 1e9)
              : reject(new Error(`download got ${received} of ${bytes}`)),
          );
        })
        .on('error', reject);
      return;
    }
    const req = http.request(
      url,
      { method: 'POST', headers: { ...SAME_ORIGIN, 'content-type': 'application/octet-stream', 'transfer-encoding': 'chunked' } },
      (res) => {
        let body = '';
        res.on('data', (data: Buffer) => (body += data.toString()));
        res.on('end', () => {
          const got = (JSON.parse(body) as { bytes: number }).bytes;
          if (got === bytes) resolve(Number(process.hrtime.bigint() - started) / 1e9);
          else reject(new Error(`upload delivered ${got} of ${bytes}`));
        });
      },
    );
    req.on('error', reject);
    let sent = 0;
    const pump = () => {
      while (sent < bytes) {
        const piece = bytes - sent >= chunk.length ? chunk : chunk.subarray(0, bytes - sent);
        sent += piece.length;
        if (!req.write(piece)) return void req.once('drain', pump);
      }
      req.end();
    };
    pump();
  });
}

async function main() {
  const upstreamPort = await freePort();
  const appPort = await freePort();
  const upstreamUrl = `http://127.0.0.1:${upstreamPort}`;
  const appUrl = `http://127.0.0.1:${appPort}`;

  log(`machine: ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, ${mb(os.totalmem())}, node ${process.version}`);
  await startProcess('upstream', [TSX_BIN, 'bench/upstream-server.ts'], { BENCH_UPSTREAM_PORT: String(upstreamPort) }, (out) =>
    out.includes('listening'),
  );

  log('building the reference app (next build)…');
  const build = spawnSync(process.execPath, [NEXT_BIN, 'build', APP_DIR], {
    cwd: ROOT,
    env: { ...process.env, BENCH_UPSTREAM_URL: upstreamUrl, NEXT_TELEMETRY_DISABLED: '1' },
    encoding: 'utf8',
  });
  if (build.status !== 0) throw new Error(`reference app build failed:\n${build.stdout}\n${build.stderr}`);

  const startApp = async () => {
    const child = await startProcess(
      'next start',
      [NEXT_BIN, 'start', APP_DIR, '-H', '127.0.0.1', '-p', String(appPort)],
      { API_URL: upstreamUrl, NODE_OPTIONS: '--expose-gc', BENCH_UPSTREAM_URL: upstreamUrl },
      (out) => out.includes('Ready'),
    );
    await waitForHttp(`${appUrl}/`);
    return child;
  };
  let app = await startApp();
  const nextVersion = (JSON.parse(readFileSync(path.join(ROOT, 'node_modules/next/package.json'), 'utf8')) as { version: string }).version;

  const targets: Record<string, string> = {
    direct: `${upstreamUrl}/item`,
    rewrites: `${appUrl}/rw/item`,
    proxy: `${appUrl}/api/proxy/item`,
    original: `${appUrl}/api/original/item`,
    // Not a route to the upstream: an API route answering by itself, the ceiling for any API-route proxy.
    'bare API route': `${appUrl}/api/bare`,
    // The App Router's side: this library's route handlers, and a route handler answering by itself.
    'route handler': `${appUrl}/api/app-proxy/item`,
    'bare route handler': `${appUrl}/api/bare-app`,
  };
  // The original pattern leaks a listener and its request on every call: measured in the same process as
  // the others, it slowed every route measured after it (rewrites fell from ~3500 to ~2350 req/s here, and
  // the bench reported rewrites ≈ the bare route). It gets a `next start` of its own, after the others.
  const shared = Object.keys(targets).filter((name) => name !== 'original');
  const smallGet: Record<string, LoadResult[]> = {};
  const measureRounds = async (names: string[]) => {
    log(`warming up ${names.join(', ')}`);
    for (const name of names) await runLoad({ url: targets[name] as string, connections: 10, durationSeconds: 2 });
    // Small JSON GET, alternating the order every round so no route always runs first (or warmest).
    for (let round = 0; round < ROUNDS; round++) {
      const order = names.map((_, i) => names[(i + round) % names.length] as string);
      for (const name of order) {
        const result = await runLoad({ url: targets[name] as string, connections: CONNECTIONS, durationSeconds: DURATION });
        (smallGet[name] ??= []).push(result);
        log(
          `round ${round + 1} ${name.padEnd(14)} ${result.rps.toFixed(0).padStart(6)} req/s  p50 ${result.p50} ms  p99 ${result.p99} ms  errors ${result.errors} non2xx ${result.non2xx}`,
        );
      }
    }
  };
  await measureRounds(shared);

  // A second load generator in its own process (keep-alive loops, hrtime per request): autocannon's
  // figures checked, and the latencies that autocannon misreports when a server closes connections.
  log('checking with a second load generator in its own process…');
  const crossCheck: Record<string, LoopResult> = {};
  for (const name of ['rewrites', 'proxy', 'bare API route', 'route handler', 'bare route handler'])
    crossCheck[name] = loopClient(targets[name] as string, CONNECTIONS, Math.min(DURATION, 5));

  const restart = async () => {
    const exited = new Promise((resolve) => app.once('exit', resolve));
    stopGroup(app, 'SIGTERM');
    await exited;
    app = await startApp();
  };
  await restart();
  await measureRounds(['original']);
  crossCheck.original = loopClient(targets.original as string, CONNECTIONS, Math.min(DURATION, 5));
  const names = Object.keys(targets);
  const summary = Object.fromEntries(
    names.map((name) => {
      const runs = smallGet[name] ?? [];
      return [
        name,
        {
          rps: median(runs.map((r) => r.rps)),
          p50: median(runs.map((r) => r.p50)),
          p99: median(runs.map((r) => r.p99)),
          errors: runs.reduce((n, r) => n + r.errors + r.non2xx, 0),
        },
      ];
    }),
  );
  const reference = summary.rewrites;
  const ceiling = summary['bare API route'];
  const routeHandlerCeiling = summary['bare route handler'];

  // A fresh server for the rest: the original pattern's leak would otherwise sit in the memory figures.
  await restart();
  const pid = app.pid ?? 0;

  log('logins per second…');
  const loginBody = JSON.stringify({ email: 'ada@example.com', password: 'lovelace' });
  const loginHeaders = { ...SAME_ORIGIN, 'content-type': 'application/json' };
  const logins = {
    direct: await runLoad({
      url: `${upstreamUrl}/login`,
      method: 'POST',
      headers: loginHeaders,
      body: loginBody,
      connections: CONNECTIONS,
      durationSeconds: DURATION,
    }),
    proxy: await runLoad({
      url: `${appUrl}/api/proxy/login`,
      method: 'POST',
      headers: loginHeaders,
      body: loginBody,
      connections: CONNECTIONS,
      durationSeconds: DURATION,
    }),
  };

  log(`streaming ${mb(STREAM_BYTES)} each way…`);
  const idle = memoryOf(pid).rss;
  const streaming: Record<string, number> = {};
  const peaks: Record<string, number> = {};
  for (const direction of ['upload', 'download'] as const) {
    streaming[`direct ${direction}`] = await stream(`${upstreamUrl}/${direction}`, direction, STREAM_BYTES);
    for (const [route, prefix] of [
      ['proxy', '/api/proxy'],
      ['route handler', '/api/app-proxy'],
    ] as const) {
      resetPeak(pid);
      const before = memoryOf(pid).rss;
      streaming[`${route} ${direction}`] = await stream(`${appUrl}${prefix}/${direction}`, direction, STREAM_BYTES);
      peaks[`${route} ${direction}`] = memoryOf(pid).peak - before;
    }
  }

  log(`memory soak: ${SOAK_REQUESTS} requests through the proxy…`);
  const heapAt = async () => (await (await fetch(`${appUrl}/api/bench-heap`)).json()) as { heapUsed: number; gc: boolean };
  const heapBefore = await heapAt();
  const soak = await runLoad({ url: targets.proxy as string, connections: CONNECTIONS, amount: SOAK_REQUESTS });
  const heapAfter = await heapAt();

  const results = {
    date: new Date().toISOString(),
    machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, memory: os.totalmem(), node: process.version, next: nextVersion },
    settings: {
      rounds: ROUNDS,
      durationSeconds: DURATION,
      connections: CONNECTIONS,
      streamBytes: STREAM_BYTES,
      soakRequests: SOAK_REQUESTS,
    },
    smallGet: Object.fromEntries(
      names.map((name) => [
        name,
        {
          ...summary[name],
          vsRewrites: (summary[name]?.rps ?? NaN) / (reference?.rps ?? NaN),
          // The route handler is held to the bare route handler, the API routes to the bare API route.
          vsBare: (summary[name]?.rps ?? NaN) / ((name === 'route handler' ? routeHandlerCeiling : ceiling)?.rps ?? NaN),
          p99VsBare: (summary[name]?.p99 ?? NaN) / ((name === 'route handler' ? routeHandlerCeiling : ceiling)?.p99 ?? NaN),
          runs: smallGet[name],
        },
      ]),
    ),
    latencyCrossCheck: crossCheck,
    logins: { direct: logins.direct, proxy: logins.proxy, ratio: logins.proxy.rps / logins.direct.rps },
    streaming: {
      seconds: streaming,
      uploadVsDirect: (streaming['proxy upload'] ?? NaN) / (streaming['direct upload'] ?? NaN),
      downloadVsDirect: (streaming['proxy download'] ?? NaN) / (streaming['direct download'] ?? NaN),
      idleRss: idle,
      peakRssAboveIdle: peaks,
    },
    soak: {
      requests: SOAK_REQUESTS,
      errors: soak.errors + soak.non2xx,
      heapBefore: heapBefore.heapUsed,
      heapAfter: heapAfter.heapUsed,
      growth: heapAfter.heapUsed - heapBefore.heapUsed,
      gcExposed: heapAfter.gc,
    },
  };

  console.log('\nSmall JSON GET, %d connections, median of %d rounds × %d s', CONNECTIONS, ROUNDS, DURATION);
  console.log(
    '| route | req/s | vs rewrites | vs bare (API route; route handler: bare route handler) | p50 ms | p99 ms | p99 vs bare | errors |',
  );
  console.log('|---|---|---|---|---|---|---|---|');
  for (const name of names) {
    const row = results.smallGet[name as keyof typeof results.smallGet];
    if (row)
      console.log(
        `| ${name} | ${(row.rps ?? NaN).toFixed(0)} | ${row.vsRewrites.toFixed(2)} | ${row.vsBare.toFixed(2)} | ${row.p50} | ${row.p99} | ${row.p99VsBare.toFixed(2)} | ${row.errors} |`,
      );
  }
  console.log('\nSecond load generator, own process (req/s, p50 / p99 ms, sockets opened for %d connections):', CONNECTIONS);
  for (const [name, check] of Object.entries(crossCheck))
    console.log(
      `  ${name}: ${check.rps.toFixed(0)} req/s, ${check.p50.toFixed(1)} / ${check.p99.toFixed(1)}, ${check.socketsOpened} sockets, ${check.requests} requests`,
    );
  console.log(
    `\nLogins/s: direct ${logins.direct.rps.toFixed(0)}, proxy ${logins.proxy.rps.toFixed(0)} (${results.logins.ratio.toFixed(2)}x)`,
  );
  console.log(
    `Streaming ${mb(STREAM_BYTES)}: upload ${streaming['proxy upload']?.toFixed(2)} s vs direct ${streaming['direct upload']?.toFixed(2)} s (${results.streaming.uploadVsDirect.toFixed(2)}x), download ${streaming['proxy download']?.toFixed(2)} s vs direct ${streaming['direct download']?.toFixed(2)} s (${results.streaming.downloadVsDirect.toFixed(2)}x)`,
  );
  console.log(
    `Route handler streaming: upload ${streaming['route handler upload']?.toFixed(2)} s, download ${streaming['route handler download']?.toFixed(2)} s`,
  );
  console.log(`Next process peak RSS above idle (idle ${mb(idle)}):`);
  for (const [name, peak] of Object.entries(peaks)) console.log(`  ${name}: ${mb(peak)}`);
  console.log(
    `Soak: ${SOAK_REQUESTS} requests, ${results.soak.errors} errors, heap after GC ${mb(heapBefore.heapUsed)} → ${mb(heapAfter.heapUsed)} (${mb(results.soak.growth)})${heapAfter.gc ? '' : ' — GC not exposed!'}`,
  );

  const dir = path.join(__dirname, 'results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'latest.json'), JSON.stringify(results, null, 2) + '\n');
  log(`results written to bench/results/latest.json`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
