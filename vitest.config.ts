import { defineConfig } from 'vitest/config'

// Two tiers, named in the file: *.unit.test.ts need nothing; *.int.test.ts talk to real components (Kafka,
// MediaWiki), which the int project's global setup starts (and fails, never skips, when it cannot).
export default defineConfig({
  test: {
    // Also a JSON report, which .ci/run reads for its closing line.
    reporters: ['default', ['json', { outputFile: 'test-results/vitest.json' }]],
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/**/*.unit.test.ts'],
          testTimeout: 20_000,
        },
      },
      {
        test: {
          name: 'int',
          include: ['test/**/*.int.test.ts'],
          globalSetup: ['test/setup/components.global.ts'],
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
