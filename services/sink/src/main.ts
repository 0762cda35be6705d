/** Runs the sink alone: parse env → build dependencies → start. */
import { shutdownOnSignals } from '@custos/config';
import { buildDeps, loadEnv, openStore } from '@custos/runtime';
import { Sink } from './sink.js';

const env = loadEnv();
const deps = buildDeps(env, 'sink');
const store = await openStore(env, deps.logger);
const sink = new Sink({ ...deps, store, groupId: env.SINK_GROUP_ID, maxBatchRows: env.SINK_MAX_BATCH_ROWS });
shutdownOnSignals(
  async () => {
    await sink.stop();
    await store.close();
  },
  { timeoutMs: env.SHUTDOWN_TIMEOUT_MS, logger: deps.logger },
);
await sink.start();
deps.logger.info('sink started');
