import { defineConfig } from 'vitest/config';

// Tests run the TypeScript sources: workspace packages resolve through their custos-source export
// condition. Vite needs it in its own resolver; NODE_OPTIONS carries it to everything Node resolves
// itself: the test processes, the services and children the tests spawn (tsx), and worker threads,
// which the SDK and the enforcer start with execArgv: [] (they inherit NODE_OPTIONS, not flags).
const SOURCE = '--conditions=custos-source';
if (!process.env.NODE_OPTIONS?.includes(SOURCE)) process.env.NODE_OPTIONS = `${process.env.NODE_OPTIONS ?? ''} ${SOURCE}`.trim();
// Vite's default server conditions, after ours (vitest also hands these to its test processes).
const conditions = ['custos-source', 'module', 'node', 'development|production'];

// Three projects: unit (no I/O), integration (*.int.test.ts, real Kafka, registry and ClickHouse),
// e2e (test/, the services as real processes). The global setup starts local infra when needed.
export default defineConfig({
  ssr: { resolve: { conditions } },
  test: {
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: [
            '{packages,services,schemas}/**/src/**/*.test.ts',
            'schemas/**/*.test.ts',
            'scripts/*.test.ts',
            'bench/**/*.test.ts',
          ],
          exclude: ['**/*.int.test.ts', '**/node_modules/**'],
          // CPU-heavy property tests take a few seconds alone; CI runs them beside the integration
          // suites on two cores, where vitest's 5 s default failed them now and then.
          testTimeout: 60_000,
        },
      },
      {
        extends: true,
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
        extends: true,
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
