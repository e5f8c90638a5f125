// The vitest config of `npm run test:mutation` (stryker.config.mjs): the project's config, run over only the
// tests written for the mutated modules, plus one reporter that Stryker's vitest runner needs to score right.

import { defineConfig } from 'vitest/config';
import type { Reporter, RunnerTestCase, Vitest } from 'vitest/node';
import base from './vitest.config.js';

/**
 * Stryker's vitest runner (9.6 and 10.x) scores a mutant by the tests it collects. A static mutant (one that
 * runs at import) can stop a module from loading; its test file then fails with no test collected, and the
 * runner would call the mutant "survived" (stryker-js issue #6150). This gives each test file that failed
 * without a test one failed test carrying its load error, so such a mutant counts as killed. A file that
 * loaded is left alone; in an ordinary run, nothing fails to load and this does nothing.
 */
function loadFailuresAsFailedTests(): Reporter {
  let vitest: Vitest | undefined;
  return {
    onInit(ctx) {
      vitest = ctx;
    },
    onTestRunEnd() {
      for (const file of vitest?.state.getFiles() ?? []) {
        if (file.result?.state !== 'fail' || file.tasks.length > 0) continue;
        // Only the fields the runner reads: a real test case carries a context only vitest can build.
        const loadFailure = {
          type: 'test',
          id: `${file.id}_load`,
          name: 'test file loads',
          fullName: `${file.name} > test file loads`,
          mode: 'run',
          file,
          suite: file,
          meta: {},
          result: { state: 'fail', errors: file.result.errors ?? [], duration: 0 },
        } as unknown as RunnerTestCase;
        file.tasks.push(loadFailure);
      }
    },
  };
}

export default defineConfig({
  ...base,
  test: {
    ...base.test,
    // Not Stryker's own `testFiles` option: with it, Stryker 9.6 activates static mutants only after the import,
    // so every one of them "survives" (stryker-js issue #6144).
    include: [
      'test/unit/**/*.test.ts',
      'test/integration/processor.test.ts',
      'test/integration/processor-step-failures.test.ts',
    ],
    reporters: ['default', loadFailuresAsFailedTests()],
  },
});
