/** Runs the enforcer alone: parse env → build dependencies → start; /metrics, /healthz, /readyz when ENFORCER_METRICS_PORT is set. */
import type { Server } from 'node:http';
import { parseEnv, shutdownOnSignals } from '@custos/config';
import { buildDeps } from '@custos/runtime';
import { collectDefaultMetrics } from 'prom-client';
import { enforcerEnv, enforcerOptionsFromEnv } from './config.js';
import { Enforcer } from './enforcer.js';
import { createPolicyJudge } from './judge.js';
import { EnforcerMetrics, serveMetrics } from './metrics.js';

const e = parseEnv(enforcerEnv);
const deps = buildDeps(e, 'enforcer');
const { logger } = deps;
const judge = await createPolicyJudge(e.POLICY_FILE);
const metrics = new EnforcerMetrics();
collectDefaultMetrics({ register: metrics.registry });
let server: Server | undefined;

const enforcer = new Enforcer({
  ...deps,
  judge,
  metrics,
  ...enforcerOptionsFromEnv(e),
  onFatal: (err) => {
    logger.fatal({ err }, 'enforcer stopped by a fatal error');
    void enforcer.stop(e.SHUTDOWN_TIMEOUT_MS).finally(() => process.exit(1));
  },
});
const stop = async () => {
  // Leave a little of the budget for closing the metrics endpoint and exiting.
  await enforcer.stop(Math.max(100, e.SHUTDOWN_TIMEOUT_MS - 500));
  server?.close();
};
shutdownOnSignals(stop, { timeoutMs: e.SHUTDOWN_TIMEOUT_MS, logger });
let started = false;
if (e.ENFORCER_METRICS_PORT !== undefined) {
  server = await serveMetrics(metrics.registry, e.ENFORCER_METRICS_PORT, e.ENFORCER_METRICS_HOST, () => started);
  logger.info({ address: server.address() }, 'metrics at /metrics, health at /healthz and /readyz');
}
await enforcer.start();
started = true;
logger.info({ policy: judge.policyVersion, instance: e.ENFORCER_INSTANCE_ID, group: e.ENFORCER_GROUP_ID }, 'enforcer started');
