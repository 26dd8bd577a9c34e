import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';

// `npm run bench:cpu`: the proxy's own cost, without Next. Each variant runs on a plain node:http
// server pinned to CPU 0 (taskset), the upstream and autocannon on CPU 1; the server's CPU time
// (utime + stime from /proc) over N requests gives microseconds per request, the median of 3 runs.
const ROOT = path.resolve(__dirname, '..');
const TSX = path.join(ROOT, 'node_modules/tsx/dist/cli.mjs');
const AUTOCANNON = path.join(ROOT, 'node_modules/autocannon/autocannon.js');
const REQUESTS = Number(process.env.BENCH_CPU_REQUESTS ?? 30_000);
const TICK_US = 1e6 / Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim() || 100);
const hasTaskset = spawnSync('taskset', ['-c', '0', 'true']).status === 0;
const children: ChildProcess[] = [];
// Each child leads its own process group (taskset and tsx add processes of their own): kill the group.
const stop = (child: ChildProcess) => {
  try {
    process.kill(-(child.pid ?? 0), 'SIGKILL');
  } catch {
    // already gone
  }
};
process.on('exit', () => children.forEach(stop));

const pinned = (cpu: number, args: string[]) =>
  (hasTaskset ? ['taskset', ['-c', String(cpu), process.execPath, ...args]] : [process.execPath, args]) as [string, string[]];

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

async function start(cpu: number, args: string[], env: Record<string, string>, ready: string): Promise<ChildProcess> {
  const [command, commandArgs] = pinned(cpu, args);
  const child = spawn(command, commandArgs, {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
    detached: true,
  });
  children.push(child);
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const deadline = Date.now() + 30_000;
  while (!output.includes(ready)) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`${args.join(' ')} did not start`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return child;
}

/** The pid of the process that runs the server script itself (tsx starts it as a child of its own). */
function serverPid(): number {
  const found = spawnSync('pgrep', ['-f', 'preflight.cjs.*bench/cpu-server.ts'], { encoding: 'utf8' })
    .stdout.trim()
    .split('\n')
    .filter(Boolean);
  if (found.length !== 1) throw new Error(`expected one server process, found ${found.length}`);
  return Number(found[0]);
}

function cpuTicks(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return Number(fields[11]) + Number(fields[12]);
}

function load(url: string, amount: number): void {
  const [command, args] = pinned(1, [AUTOCANNON, '-c', '50', '-a', String(amount), url]);
  spawnSync(command, args, { stdio: 'ignore' });
}

async function main() {
  const upstreamPort = await freePort();
  await start(1, [TSX, 'bench/upstream-server.ts'], { BENCH_UPSTREAM_PORT: String(upstreamPort) }, 'listening');
  console.log(
    `CPU µs per request, ${REQUESTS} requests of a small JSON GET, server on one core${hasTaskset ? '' : ' (taskset missing: not pinned)'}`,
  );
  for (const mode of ['minimal', 'proxy']) {
    const port = await freePort();
    const server = await start(
      0,
      [TSX, 'bench/cpu-server.ts'],
      { BENCH_MODE: mode, BENCH_PORT: String(port), BENCH_UPSTREAM_URL: `http://127.0.0.1:${upstreamPort}` },
      'ready',
    );
    const pid = serverPid();
    const url = `http://127.0.0.1:${port}/api/item`;
    load(url, 5_000);
    const runs: number[] = [];
    for (let i = 0; i < 3; i++) {
      const before = cpuTicks(pid);
      load(url, REQUESTS);
      runs.push(((cpuTicks(pid) - before) * TICK_US) / REQUESTS);
    }
    runs.sort((a, b) => a - b);
    console.log(`  ${mode.padEnd(8)} ${runs[1]?.toFixed(0)} µs (runs: ${runs.map((run) => run.toFixed(0)).join(', ')})`);
    stop(server);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
