/** Runs the sink alone: parse env once → build dependencies → start → stop on a signal. */
import { createLogger, logColors, parseEnv, shutdownOnSignals, stopOnFatal } from '@custos/config';
import { kafkaDeps } from '@custos/kafka';
import { openStore } from '@custos/store';
import { sinkEnvSchema } from './options.js';
import { startSinkService } from './service.js';

const env = parseEnv(sinkEnvSchema);
const logger = createLogger('sink', env.LOG_LEVEL, env.LOG_FORMAT, logColors(env));
const store = await openStore(env, logger);
// The sink consumes before its start resolves: a signal from then on stops it gracefully.
const sink = startSinkService({
  env,
  logger,
  store,
  ...kafkaDeps(env, 'sink', logger),
  processMetrics: true,
  onFatal: stopOnFatal,
});
shutdownOnSignals(
  async () => {
    await (await sink).stop();
    await store.close();
  },
  { timeoutMs: env.SHUTDOWN_TIMEOUT_MS, logger },
);
await sink;
