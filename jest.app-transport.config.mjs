// @ts-check
import nextJest from 'next/jest.js';

const createJestConfig = nextJest({ dir: './' });

// The in-process suites whose every assertion holds for both routes, run once more through the App
// Router's route handlers (BFF_TEST_TRANSPORT=app: __tests__/helpers/route-handler-host.ts serves them as
// Next does). The other suites assert what only the Pages route can promise (exact framing and
// Content-Length, the raw path and query, GET bodies, the socket's address); the App Router's side of
// those is tried under a real `next start` in __tests__/next/app-router.test.ts.
const SUITES = [
  'proxy/concurrency',
  'proxy/login',
  'proxy/logout',
  'proxy/refresh',
  'proxy/sse',
  'proxy/streaming',
  'security/cookies',
  'security/csrf',
  'security/limits-and-faults',
  'security/paths',
  'security/request-headers',
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
