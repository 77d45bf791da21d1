import { defineConfig } from 'vitest/config'

// Two tiers, named in the file: *.unit.test.ts need nothing and start no process; *.int.test.ts talk to real
// components (Kafka, MediaWiki, mbwa itself as a child process), which the int project's global setup starts (and
// fails, never skips, when it cannot). Tests wait for conditions with deadlines far above need, never for the
// clock; every child process a test file started is ended after it (test/setup/children.ts).
export default defineConfig({
  test: {
    // Also a JSON report, which .ci/run reads for its closing line.
    reporters: ['default', ['json', { outputFile: 'test-results/vitest.json' }]],
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/**/*.unit.test.ts'],
          setupFiles: ['test/setup/children.ts'],
          testTimeout: 20_000,
        },
      },
      {
        test: {
          name: 'int',
          include: ['test/**/*.int.test.ts'],
          globalSetup: ['test/setup/components.global.ts'],
          setupFiles: ['test/setup/children.ts'],
          testTimeout: 120_000,
          hookTimeout: 180_000,
          // The integration files share one broker; running them one at a time keeps group rebalances and
          // timings predictable on a 2-core machine.
          fileParallelism: false,
        },
      },
    ],
  },
})
