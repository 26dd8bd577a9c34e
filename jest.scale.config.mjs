// @ts-check
import nextJest from 'next/jest.js';

const createJestConfig = nextJest({ dir: './' });

/**
 * Several instances on real parts: redis-server (server-side sessions, the refresh lock) and, for the
 * scale-out suite, nginx terminating TLS in front of three `next start`. `npm run test:scale`; the Debian
 * packages redis-server, nginx and openssl are needed (a missing one is named in the failure).
 */
/** @type {import('jest').Config} */
const config = {
  testEnvironment: 'node',
  roots: ['<rootDir>/__tests__/scale'],
  testMatch: ['**/*.test.ts'],
  testTimeout: 60_000,
  maxWorkers: 1,
};

export default createJestConfig(config);
