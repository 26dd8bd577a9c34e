import { randomBytes } from 'node:crypto';
import { createDemoApi } from './server';

// The demo API as its own process: `tsx demo-api/main.ts`. Every setting has a default.
const port = Number(process.env.DEMO_API_PORT ?? 4000);
const host = process.env.DEMO_API_HOST ?? '127.0.0.1';
// A fresh secret per start unless one is given: tokens from an earlier run stop working, as they should.
const secret = process.env.DEMO_API_SECRET || randomBytes(32).toString('hex');
const accessTokenTtlSeconds = Number(process.env.DEMO_ACCESS_TOKEN_TTL_SECONDS ?? 900);
const refreshTokenTtlSeconds = Number(process.env.DEMO_REFRESH_TOKEN_TTL_SECONDS ?? 86_400);
const refreshGraceSeconds = Number(process.env.DEMO_REFRESH_GRACE_SECONDS ?? 0);
const tokenPaddingBytes = Number(process.env.DEMO_TOKEN_PADDING_BYTES ?? 0);

if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`[demo-api] DEMO_API_PORT must be a port number, got "${process.env.DEMO_API_PORT}"`);
  process.exit(1);
}
for (const [name, value, min] of [
  ['DEMO_ACCESS_TOKEN_TTL_SECONDS', accessTokenTtlSeconds, 1],
  ['DEMO_REFRESH_TOKEN_TTL_SECONDS', refreshTokenTtlSeconds, 1],
  ['DEMO_REFRESH_GRACE_SECONDS', refreshGraceSeconds, 0],
  ['DEMO_TOKEN_PADDING_BYTES', tokenPaddingBytes, 0],
] as const) {
  if (!Number.isFinite(value) || value < min) {
    console.error(`[demo-api] ${name} must be a number of seconds (at least ${min})`);
    process.exit(1);
  }
}

const server = createDemoApi({ secret, accessTokenTtlSeconds, refreshTokenTtlSeconds, refreshGraceSeconds, tokenPaddingBytes });
server.on('error', (err: NodeJS.ErrnoException) => {
  console.error(`[demo-api] cannot listen on ${host}:${port}: ${err.code ?? err.message}`);
  process.exit(1);
});
server.listen(port, host, () => {
  const address = server.address();
  const actualPort = typeof address === 'object' && address ? address.port : port;
  console.log(`[demo-api] listening on http://${host}:${actualPort}`);
});

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    server.closeAllConnections();
    server.close(() => process.exit(0));
  });
}
