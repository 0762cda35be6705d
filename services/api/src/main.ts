/**
 * Runs the query API alone: parse env → build dependencies → start. Reads of audit data are recorded
 * through the SDK; with API_REPORT_SCHEDULE set, periodic reports are written on schedule.
 */
import { shutdownOnSignals } from '@custos/config';
import { buildDeps, loadEnv, openStore } from '@custos/runtime';
import { startApiService } from './service.js';

const env = loadEnv();
const { logger } = buildDeps(env, 'api');
const store = await openStore(env, logger);
const api = await startApiService({ env, logger, store });
shutdownOnSignals(
  async () => {
    await api.stop();
    await store.close();
  },
  { timeoutMs: env.SHUTDOWN_TIMEOUT_MS, logger },
);
