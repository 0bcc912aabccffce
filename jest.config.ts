import type { Config } from 'jest';

type ProjectConfig = NonNullable<Config['projects']>[number] & object;

/**
 * Type checking is done once by `tsc --noEmit` in `npm test`; jest only transpiles, which keeps the suite fast.
 * ts-jest compiles to CommonJS, so ESM-only packages (@middy/*: its exports carry only an `import` condition)
 * are mapped to their entry file and transpiled with the same transformer (allowJs) instead of being skipped.
 */
const base = {
  testEnvironment: 'node',
  testMatch: ['**/*.test.ts'],
  transform: {
    '^.+\\.ts$|/node_modules/@middy/.+\\.js$': [
      'ts-jest',
      {
        diagnostics: false,
        tsconfig: { module: 'commonjs', moduleResolution: 'node10', isolatedModules: true, allowJs: true },
      },
    ],
  },
  transformIgnorePatterns: ['/node_modules/(?!@middy/)'],
  moduleNameMapper: {
    // package.json `imports` (#core/…): mapped here because ts-jest compiles to CommonJS, which jest resolves itself.
    '^#(composition|config|connector|core|data-analysis|handlers|knowledge|local-model|model|platforms|shared|skills|stores|voice)/(.*)$':
      '<rootDir>/functions/$1/$2',
    // Jest's CommonJS resolver rejects import-only `exports`; point it at the packages' entry files.
    '^@middy/(core|util)$': '<rootDir>/node_modules/@middy/$1/index.js',
  },
  testTimeout: 30_000,
} satisfies ProjectConfig;

/** One project per test folder, so a fast loop can run one kind: `npm run test:unit` (= --selectProjects unit). */
const project = (name: string): ProjectConfig => ({ ...base, displayName: name, roots: [`<rootDir>/test/${name}`] });

const config: Config = {
  projects: ['unit', 'integration', 'cdk', 'e2e', 'reliability'].map(project),
  maxWorkers: 2,
};

export default config;
