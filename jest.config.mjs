// @ts-check
import nextJest from 'next/jest.js';

const createJestConfig = nextJest({ dir: './' });

/** @type {import('jest').Config} */
const config = {
  testEnvironment: 'node',
  roots: ['<rootDir>/__tests__'],
  testMatch: ['**/*.test.ts', '**/*.test.tsx'],
  // End-to-end suites need a built app and a browser, or a packed package: `npm run test:e2e`, `npm run test:dropin`;
  // the scale-out suites need redis-server and nginx: `npm run test:scale`. `npm test` needs nothing but Node.
  testPathIgnorePatterns: ['/node_modules/', '/__tests__/e2e/', '/__tests__/dropin/', '/__tests__/scale/'],
  testTimeout: 30_000,
};

export default createJestConfig(config);
