// @ts-check
import nextJest from 'next/jest.js';

const createJestConfig = nextJest({ dir: './' });

// The in-process suites run once more through the App Router's route handlers (BFF_TEST_TRANSPORT=app:
// __tests__/helpers/route-handler-host.ts serves them as Next does); where the two routes differ by
// design (Content-Length, the socket's address), a test asserts each route's own answer. The suites left
// out assert what only the Pages route can promise (exact framing, the raw path and query, GET bodies)
// with raw clients that read Content-Length framing; the App Router's side of those is tried under a real
// `next start` in __tests__/next/app-router.test.ts.
const SUITES = [
  'dialects/oauth2',
  'dialects/recipes',
  'dialects/escape-hatches',
  'dialects/opaque-tokens',
  'dialects/hostile-upstreams',
  'proxy/concurrency',
  'proxy/forwarding',
  'proxy/hooks',
  'proxy/login',
  'proxy/logout',
  'proxy/refresh',
  'proxy/session-store',
  'proxy/routes',
  'proxy/sse',
  'proxy/streaming',
  'security/cookies',
  'security/csrf',
  'security/limits-and-faults',
  'security/paths',
  'security/request-headers',
  'security/responses',
  'security/headers',
  'security/hooks-and-routes',
  'security/server-lib-sessions',
];

/** @type {import('jest').Config} */
const config = {
  displayName: 'route handlers',
  testEnvironment: 'node',
  roots: ['<rootDir>/__tests__'],
  testMatch: SUITES.map((suite) => `<rootDir>/__tests__/${suite}.test.ts`),
  setupFiles: ['<rootDir>/__tests__/helpers/app-transport-setup.ts'],
  testTimeout: 30_000,
};

export default createJestConfig(config);
