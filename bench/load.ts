import http from 'node:http';
import autocannon from 'autocannon';

export interface LoadResult {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  non2xx: number;
}

export interface LoadOptions {
  url: string;
  method?: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: string;
  connections: number;
  durationSeconds?: number;
  amount?: number;
}

/** autocannon with keep-alive connections (it reconnects only if the server closes them). */
export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const result = await autocannon({
    url: options.url,
    method: options.method ?? 'GET',
    headers: options.headers,
    body: options.body,
    connections: options.connections,
    pipelining: 1,
    ...(options.amount ? { amount: options.amount } : { duration: options.durationSeconds }),
  });
  return {
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
  };
}

/**
 * A second client, to check autocannon's latencies: `connections` keep-alive loops of sequential
 * requests for `durationSeconds`, timing each with hrtime. It also counts the sockets it had to open,
 * which must equal `connections` if the server kept them all open.
 */
export async function sampleLatency(url: string, connections: number, durationSeconds: number, headers: Record<string, string> = {}): Promise<{ p50: number; p99: number; socketsOpened: number; requests: number }> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
  let socketsOpened = 0;
  const originalCreate = agent.createConnection.bind(agent);
  agent.createConnection = ((...args: Parameters<typeof originalCreate>) => {
    socketsOpened += 1;
    return originalCreate(...args);
  }) as typeof agent.createConnection;
  const samples: number[] = [];
  const deadline = Date.now() + durationSeconds * 1000;
  const once = () =>
    new Promise<void>((resolve, reject) => {
      const started = process.hrtime.bigint();
      http
        .get(url, { agent, headers }, (res) => {
          res.resume();
          res.on('end', () => {
            samples.push(Number(process.hrtime.bigint() - started) / 1e6);
            resolve();
          });
        })
        .on('error', reject);
    });
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (Date.now() < deadline) await once();
    }),
  );
  agent.destroy();
  samples.sort((a, b) => a - b);
  const at = (q: number) => samples[Math.min(samples.length - 1, Math.floor(q * samples.length))] ?? NaN;
  return { p50: at(0.5), p99: at(0.99), socketsOpened, requests: samples.length };
}
