import http from 'node:http';

// A second load generator, in its own process: CONNECTIONS keep-alive loops of sequential GETs for
// DURATION seconds, each timed with hrtime. Prints one JSON line: { rps, p50, p99, requests, errors,
// socketsOpened }. Used by bench/run.ts to check autocannon's figures, and alone as
// `tsx bench/loop-client.ts <url> [connections] [seconds]`.
const [url = '', connections = '50', seconds = '10'] = process.argv.slice(2);
const CONNECTIONS = Number(connections);
const DURATION_MS = Number(seconds) * 1000;
const headers = { 'sec-fetch-site': 'same-origin' };

async function main() {
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONNECTIONS });
  let socketsOpened = 0;
  const create = agent.createConnection.bind(agent);
  agent.createConnection = ((...args: Parameters<typeof create>) => {
    socketsOpened += 1;
    return create(...args);
  }) as typeof agent.createConnection;
  const samples: number[] = [];
  let errors = 0;
  const once = () =>
    new Promise<void>((resolve) => {
      const started = process.hrtime.bigint();
      http
        .get(url, { agent, headers }, (res) => {
          res.resume();
          res.on('end', () => {
            if (res.statusCode === 200) samples.push(Number(process.hrtime.bigint() - started) / 1e6);
            else errors += 1;
            resolve();
          });
        })
        .on('error', () => {
          errors += 1;
          resolve();
        });
    });
  const startedAt = Date.now();
  const deadline = startedAt + DURATION_MS;
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async () => {
      while (Date.now() < deadline) await once();
    }),
  );
  const elapsed = (Date.now() - startedAt) / 1000;
  agent.destroy();
  samples.sort((a, b) => a - b);
  const at = (q: number) => samples[Math.min(samples.length - 1, Math.floor(q * samples.length))] ?? NaN;
  console.log(
    JSON.stringify({ rps: samples.length / elapsed, p50: at(0.5), p99: at(0.99), requests: samples.length, errors, socketsOpened }),
  );
}

void main();
