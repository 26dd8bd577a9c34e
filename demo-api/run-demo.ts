import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { DEMO_USERS } from './store';

// `npm run demo`: the demo API and the Next app (production build) together, no configuration needed.
const ROOT = path.resolve(__dirname, '..');
const NEXT_BIN = path.join(ROOT, 'node_modules/next/dist/bin/next');
const TSX_BIN = path.join(ROOT, 'node_modules/tsx/dist/cli.mjs');
const appPort = process.env.PORT ?? '3000';
const apiPort = process.env.DEMO_API_PORT ?? '4000';
const host = '127.0.0.1';
const apiUrl = `http://${host}:${apiPort}`;

const children: ChildProcess[] = [];
let stopping = false;

function stopAll(code: number): void {
  if (stopping) return;
  stopping = true;
  for (const child of children) if (child.exitCode === null) child.kill('SIGTERM');
  setTimeout(() => process.exit(code), 1500).unref();
  Promise.all(children.map((child) => (child.exitCode === null ? new Promise((resolve) => child.once('exit', resolve)) : null))).then(() =>
    process.exit(code),
  );
}

function start(name: string, args: string[], env: Record<string, string>): ChildProcess {
  const child = spawn(process.execPath, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: 'inherit' });
  child.on('exit', (code) => {
    if (!stopping) {
      console.error(`[demo] ${name} stopped (exit ${code ?? 'signal'}); stopping the demo.`);
      stopAll(code || 1);
    }
  });
  children.push(child);
  return child;
}

process.on('SIGINT', () => stopAll(0));
process.on('SIGTERM', () => stopAll(0));

console.log('[demo] building the Next app (next build)…');
const build = spawnSync(process.execPath, [NEXT_BIN, 'build'], {
  cwd: ROOT,
  stdio: 'inherit',
  env: { ...process.env, NEXT_TELEMETRY_DISABLED: '1' },
});
if (build.status !== 0) {
  console.error('[demo] next build failed.');
  process.exit(build.status ?? 1);
}

// Short-lived access tokens, so the demo shows refresh at work within a minute.
start('demo-api', [TSX_BIN, 'demo-api/main.ts'], {
  DEMO_API_PORT: apiPort,
  DEMO_API_HOST: host,
  DEMO_ACCESS_TOKEN_TTL_SECONDS: process.env.DEMO_ACCESS_TOKEN_TTL_SECONDS ?? '60',
});
start('next', [NEXT_BIN, 'start', '-H', host, '-p', appPort], { API_URL: apiUrl, NEXT_TELEMETRY_DISABLED: '1' });

const user = DEMO_USERS[0];
setTimeout(() => {
  if (stopping) return;
  console.log(`
  next-bff-proxy demo
    app:        http://${host}:${appPort}
    demo API:   ${apiUrl}
    sign in as: ${user?.email} / ${user?.password}
    Ctrl-C stops both.
`);
}, 1500);
