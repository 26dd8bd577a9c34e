// @ts-check
import nextJest from 'next/jest.js';

const createJestConfig = nextJest({ dir: './' });

/** The package installed into fresh Pages Router, App Router and hybrid apps (npm pack, npm install, next build, next start). */
/** @type {import('jest').Config} */
const config = {
  testEnvironment: 'node',
  roots: ['<rootDir>/__tests__/dropin'],
  testMatch: ['**/*.test.ts'],
  testTimeout: 120_000,
  maxWorkers: 1,
};

export default createJestConfig(config);
