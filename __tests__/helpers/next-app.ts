import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { listen } from './servers';

const ROOT = path.resolve(__dirname, '../..');
const NEXT_BIN = path.join(ROOT, 'node_modules/next/dist/bin/next');

export interface NextApp {
  url: string;
  /** The `next start` process (Next 16 serves in this one process). */
  pid: number;
  output: () => string;
  stop(): Promise<void>;
}

/** SIGTERM, then SIGKILL after 5 s; resolves when the process has exited. */
export function stopChild(child: ChildProcess): Promise<void> {
  return new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), 5_000).unref();
  });
}

/** A free port on 127.0.0.1 (taken and released; the window for a race is tiny). */
export async function freePort(): Promise<number> {
  const probe = await listen(() => {});
  await probe.close();
  return probe.port;
}

/** `next build` into `distDir` (relative to the app), failing loudly with the build output. `appDir`: a fixture app using this project's next. */
export function buildNextApp(distDir: string, env: Record<string, string> = {}, appDir = ROOT): void {
  const result = spawnSync(process.execPath, [NEXT_BIN, 'build'], {
    cwd: appDir,
    env: { ...process.env, ...env, NEXT_DIST_DIR: distDir, NEXT_TELEMETRY_DISABLED: '1', NODE_ENV: 'production' },
    encoding: 'utf8',
    timeout: 240_000,
  });
  if (result.status !== 0) throw new Error(`next build failed:\n${result.stdout}\n${result.stderr}`);
}

/** `next start` on 127.0.0.1 and a free port; resolves once it answers. `appDir`: another app (its own next). */
export async function startNextApp(distDir: string, env: Record<string, string>, appDir = ROOT): Promise<NextApp> {
  const port = await freePort();
  let output = '';
  const ownNext = path.join(appDir, 'node_modules/next/dist/bin/next');
  const nextBin = appDir === ROOT || !existsSync(ownNext) ? NEXT_BIN : ownNext;
  const child: ChildProcess = spawn(process.execPath, [nextBin, 'start', '-H', '127.0.0.1', '-p', String(port)], {
    cwd: appDir,
    env: { ...process.env, ...env, NEXT_DIST_DIR: distDir, NEXT_TELEMETRY_DISABLED: '1', NODE_ENV: 'production' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`next start exited:\n${output}`);
    try {
      await fetch(`${url}/404`);
      break;
    } catch {
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`next start did not answer within 60 s:\n${output}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
  return {
    url,
    pid: child.pid ?? 0,
    output: () => output,
    stop: () => stopChild(child),
  };
}
