/** Runs the enforcer alone: parse env once → build dependencies → start → stop on a signal. */
import { createLogger, logColors, parseEnv, shutdownOnSignals, stopOnFatal } from '@custos/config';
import { kafkaDeps } from '@custos/kafka';
import { enforcerEnv } from './config.js';
import { startEnforcerService } from './service.js';

const env = parseEnv(enforcerEnv);
const logger = createLogger('enforcer', env.LOG_LEVEL, env.LOG_FORMAT, logColors(env));
const enforcer = await startEnforcerService({
  env,
  logger,
  ...kafkaDeps(env, 'enforcer', logger),
  processMetrics: true,
  onFatal: stopOnFatal,
});
shutdownOnSignals((budget) => enforcer.stop(budget.left()), { timeoutMs: env.SHUTDOWN_TIMEOUT_MS, logger });
