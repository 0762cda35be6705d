/** Runs the enforcer alone: parse env → build dependencies → start; /metrics when ENFORCER_METRICS_PORT is set. */
import type { Server } from 'node:http';
import { env, parseEnv, shutdownOnSignals } from '@custos/config';
import { buildDeps, runtimeEnv } from '@custos/runtime';
import { collectDefaultMetrics } from 'prom-client';
import { z } from 'zod';
import { Enforcer } from './enforcer.js';
import { createPolicyJudge } from './judge.js';
import { EnforcerMetrics, serveMetrics } from './metrics.js';

/** The enforcer's own knobs on top of the shared runtime variables. */
export const enforcerEnv = runtimeEnv.extend({
  ENFORCER_METRICS_PORT: env.int({ min: 0, max: 65535 }).optional(),
  ENFORCER_METRICS_HOST: z.string().default('127.0.0.1'),
  ENFORCER_CONCURRENCY: env.int({ min: 1, max: 64 }).default(2),
  ENFORCER_MAX_BYTES_PER_PARTITION: env.int({ min: 1024 }).default(4 * 1024 * 1024),
  ENFORCER_SESSION_TIMEOUT_MS: env.int({ min: 6000 }).default(30_000),
  ENFORCER_POLICY_RELOAD: env.bool().default(true),
  /** failure tests only: hold each transaction open this long before committing */
  ENFORCER_FAULT_PAUSE_BEFORE_COMMIT_MS: env.int({ min: 0 }).default(0),
});

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
  groupId: e.ENFORCER_GROUP_ID,
  partitionsConsumedConcurrently: e.ENFORCER_CONCURRENCY,
  maxBytesPerPartition: e.ENFORCER_MAX_BYTES_PER_PARTITION,
  sessionTimeoutMs: e.ENFORCER_SESSION_TIMEOUT_MS,
  policyReload: e.ENFORCER_POLICY_RELOAD ? {} : false,
  ...(e.ENFORCER_FAULT_PAUSE_BEFORE_COMMIT_MS > 0
    ? { faultInjection: { pauseBeforeCommitMs: e.ENFORCER_FAULT_PAUSE_BEFORE_COMMIT_MS } }
    : {}),
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
if (e.ENFORCER_METRICS_PORT !== undefined) {
  server = await serveMetrics(metrics.registry, e.ENFORCER_METRICS_PORT, e.ENFORCER_METRICS_HOST);
  logger.info({ address: server.address() }, 'metrics at /metrics');
}
await enforcer.start();
logger.info({ policy: judge.policyVersion, instance: e.ENFORCER_INSTANCE_ID, group: e.ENFORCER_GROUP_ID }, 'enforcer started');
