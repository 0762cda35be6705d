/**
 * Runs the query API alone: parse env once → build dependencies → start → stop on a signal. Reads of
 * audit data are recorded through the SDK; with API_REPORT_SCHEDULE set, periodic reports are
 * written on schedule.
 */
import { createLogger, logColors, shutdownOnSignals } from '@custos/config';
import { openStore } from '@custos/store';
import { loadApiServiceEnv } from './config.js';
import { startApiService } from './service.js';

const env = loadApiServiceEnv(process.env);
const logger = createLogger('api', env.LOG_LEVEL, env.LOG_FORMAT, logColors(env));
const store = await openStore(env, logger);
const api = await startApiService({ env, logger, store });
shutdownOnSignals(
  async () => {
    await api.stop();
    await store.close();
  },
  { timeoutMs: env.SHUTDOWN_TIMEOUT_MS, logger },
);
