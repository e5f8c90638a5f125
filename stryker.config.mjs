// Mutation testing (StrykerJS) over the pure modules and the stream processor: `npm run test:mutation`
// (scripts/mutation.mjs), not part of `npm test` or CI. Reports go to reports/mutation/ (gitignored), the sandbox
// to .stryker-tmp/ (gitignored, removed after the run).
// Stryker copies the whole project into its sandbox, .gitignored files included, so src/generated/prisma
// (from `npm run prisma:generate`, which the npm script runs first) is there; node_modules is symlinked.
/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  packageManager: 'npm',
  plugins: ['@stryker-mutator/vitest-runner'],
  testRunner: 'vitest',
  // The project's vitest config narrowed to the tests of these modules (unit tests and the processor's two
  // integration tests, never the e2e suites), so its globalSetup (the migrated template database) applies.
  vitest: { configFile: 'vitest.mutation.config.ts' },
  mutate: [
    'src/aggregation/windows.ts',
    'src/aggregation/stats.ts',
    'src/aggregation/samples.ts',
    'src/alerts/evaluate.ts',
    'src/alerts/rules.ts',
    'src/events/model.ts',
    'src/events/processor.ts',
  ],
  coverageAnalysis: 'perTest',
  // Stryker rewrites the tsconfig's out-of-sandbox paths with the TypeScript compiler API, which TypeScript 7
  // (the native compiler this project uses) no longer has. Our tsconfig.json has no `extends`, `references` or
  // paths outside the project, so there is nothing to rewrite: naming a file that does not exist skips that step.
  tsconfigFile: 'tsconfig.stryker-none.json',
  // Two cores, shared: at most two test runners at once.
  concurrency: 2,
  // A mutant's run may take the dry run's time x timeoutFactor + timeoutMS before it counts as a timeout.
  timeoutMS: 10_000,
  timeoutFactor: 1.5,
  ignorePatterns: ['/reports', '/coverage', '/.data', '/bench', '/deploy', '*.log'],
  reporters: ['clear-text', 'progress', 'html', 'json'],
  htmlReporter: { fileName: 'reports/mutation/index.html' },
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  clearTextReporter: { allowColor: false, logTests: false, reportTests: false },
  // `npm run test:mutation -- --incremental` reuses the last run's results for unchanged code and tests.
  incremental: false,
  incrementalFile: 'reports/mutation/stryker-incremental.json',
  tempDirName: '.stryker-tmp',
  cleanTempDir: true,
};
