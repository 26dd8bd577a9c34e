// @ts-check
import nextJest from 'next/jest.js';

const createJestConfig = nextJest({ dir: './' });

/** @type {import('jest').Config} */
const config = {
  testEnvironment: 'node',
  roots: ['<rootDir>/__tests__'],
  testMatch: ['**/*.test.ts', '**/*.test.tsx'],
  // End-to-end suites need a built app and a browser: they run through `npm run test:e2e`.
  testPathIgnorePatterns: ['/node_modules/', '/__tests__/e2e/'],
  testTimeout: 30_000,
};

export default createJestConfig(config);
