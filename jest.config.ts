import type { Config } from 'jest';

// Type checking is done once by `tsc --noEmit` in `npm test`; jest only transpiles, which keeps the suite fast.
const config: Config = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: {
    '^.+\\.ts$': [
      'ts-jest',
      {
        isolatedModules: true,
        diagnostics: false,
        tsconfig: { module: 'commonjs', moduleResolution: 'node10', isolatedModules: true },
      },
    ],
  },
  // package.json `imports` (#core/…): mapped here because ts-jest compiles to CommonJS, which jest resolves itself.
  moduleNameMapper: {
    '^#(composition|config|core|handlers|model|platforms|shared|stores)/(.*)$': '<rootDir>/functions/$1/$2',
  },
  testTimeout: 30_000,
  maxWorkers: 2,
};

export default config;
