import { defineConfig } from 'vitest/config';

// Three projects: unit (no I/O), integration (*.int.test.ts, real Kafka, registry and ClickHouse),
// e2e (test/, the services as real processes). The global setup starts local infra when needed.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['{packages,services,schemas}/**/src/**/*.test.ts', 'schemas/**/*.test.ts'],
          exclude: ['**/*.int.test.ts', '**/node_modules/**'],
        },
      },
      {
        test: {
          name: 'integration',
          include: ['{packages,services,schemas}/**/*.int.test.ts'],
          exclude: ['**/node_modules/**'],
          globalSetup: ['./test/setup/global-setup.ts'],
          testTimeout: 120_000,
          hookTimeout: 180_000,
          fileParallelism: false,
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['test/**/*.test.ts'],
          exclude: ['**/node_modules/**'],
          globalSetup: ['./test/setup/global-setup.ts'],
          testTimeout: 180_000,
          hookTimeout: 180_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
