import { spawn } from 'node:child_process';
import path from 'node:path';
import { freePort, stopChild } from './next-app';

const ROOT = path.resolve(__dirname, '../..');

export interface DemoApiProcess {
  url: string;
  /** Everything the process printed: one line per request. */
  output: () => string;
  stop(): Promise<void>;
}

/** The demo API as a real process (as `npm run demo` runs it), on 127.0.0.1 and a free port. */
export async function startDemoApi(env: Record<string, string> = {}): Promise<DemoApiProcess> {
  const port = await freePort();
  let output = '';
  const child = spawn(process.execPath, [path.join(ROOT, 'node_modules/tsx/dist/cli.mjs'), 'demo-api/main.ts'], {
    cwd: ROOT,
    env: { ...process.env, ...env, DEMO_API_PORT: String(port), DEMO_API_HOST: '127.0.0.1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const deadline = Date.now() + 30_000;
  while (!output.includes('listening on')) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`demo API did not start:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    url: `http://127.0.0.1:${port}`,
    output: () => output,
    stop: () => stopChild(child),
  };
}
