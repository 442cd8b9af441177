import { defineConfig } from 'vitest/config';

/** On Node 20 (still working, 22 is the supported line) the AWS SDK's notice about its future Node 22 requirement is noise in test output. */
const env = { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' };

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['src/**/*.test.ts', 'test/unit/**/*.test.ts', 'bench/**/*.test.ts'],
          testTimeout: 20_000,
          env,
          // Unit tests first; then the e2e project, which needs its own worker limit.
          sequence: { groupOrder: 0 },
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          globalSetup: ['test/e2e/globalSetup.ts'],
          testTimeout: 180_000,
          hookTimeout: 240_000,
          maxWorkers: 2,
          env,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
