/**
 * The enforcer as a running service: the judge from the policy bundle, the Enforcer and its
 * /metrics, /healthz and /readyz (when ENFORCER_METRICS_PORT is set). `main.ts` and `custos start`
 * both start it this way, so the enforcer behaves the same alone or composed.
 */
import type { Server } from 'node:http';
import { type Logger, serveOps } from '@custos/config';
import type { KafkaDeps } from '@custos/kafka';
import { collectDefaultMetrics } from 'prom-client';
import { type EnforcerEnv, enforcerOptionsFromEnv } from './config.js';
import { Enforcer } from './enforcer.js';
import { createPolicyJudge } from './judge.js';
import { EnforcerMetrics } from './metrics.js';

export interface EnforcerServiceDeps extends KafkaDeps {
  env: EnforcerEnv;
  logger: Logger;
  /** the enforcer cannot go on: the process should stop (`stopOnFatal`), which stops it */
  onFatal: (err: unknown) => void;
  /** also collect the process's default metrics (CPU, memory, event loop) in this registry */
  processMetrics?: boolean;
}

export interface EnforcerService {
  enforcer: Enforcer;
  metrics: EnforcerMetrics;
  /** the policy judging now */
  policyVersion(): string;
  ready(): boolean;
  /** Graceful, within `timeoutMs`: the batch in hand commits or is left to the next owner. */
  stop(timeoutMs: number): Promise<void>;
}

export async function startEnforcerService(deps: EnforcerServiceDeps): Promise<EnforcerService> {
  const { env: e, logger } = deps;
  const judge = await createPolicyJudge(e.POLICY_FILE);
  const metrics = new EnforcerMetrics();
  if (deps.processMetrics) collectDefaultMetrics({ register: metrics.registry });
  let started = false;
  const enforcer = new Enforcer({
    kafka: deps.kafka,
    codec: deps.codec,
    topics: deps.topics,
    logger,
    judge,
    metrics,
    ...enforcerOptionsFromEnv(e),
    onFatal: (err) => {
      logger.fatal({ err }, 'enforcer cannot go on: stopping');
      deps.onFatal(err);
    },
  });
  let ops: Server | undefined;
  if (e.ENFORCER_METRICS_PORT !== undefined) {
    ops = await serveOps({
      registry: metrics.registry,
      port: e.ENFORCER_METRICS_PORT,
      host: e.ENFORCER_METRICS_HOST,
      ready: () => started,
    });
    logger.info({ address: ops.address() }, 'enforcer: metrics at /metrics, health at /healthz and /readyz');
  }
  await enforcer.start();
  started = true;
  logger.info({ policy: judge.policyVersion, instance: e.ENFORCER_INSTANCE_ID, group: e.ENFORCER_GROUP_ID }, 'enforcer started');
  return {
    enforcer,
    metrics,
    policyVersion: () => judge.policyVersion,
    ready: () => started,
    stop: async (timeoutMs) => {
      started = false;
      await enforcer.stop(timeoutMs);
      ops?.close();
    },
  };
}
