/** Runs the query API alone: parse env → build dependencies → start. */
import { shutdownOnSignals } from '@custos/config';
import { buildDeps, loadEnv, openStore } from '@custos/runtime';
import { createApp } from './app.js';

const env = loadEnv();
const { logger } = buildDeps(env, 'api');
const store = await openStore(env, logger);
const server = createApp({ store, logger }).listen(env.API_PORT, env.API_HOST, () => {
  logger.info({ port: env.API_PORT, host: env.API_HOST }, 'api listening');
});
shutdownOnSignals(
  async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await store.close();
  },
  { timeoutMs: env.SHUTDOWN_TIMEOUT_MS, logger },
);
