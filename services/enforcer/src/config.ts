/** The enforcer's settings from the environment, parsed once by its main (or `custos start`). */
import { hostname } from 'node:os';
import { commonEnv, env } from '@custos/config';
import { DEFAULT_POLICY_FILE } from '@custos/policy';
import { z } from 'zod';
import type { EnforcerOptions } from './enforcer.js';

/** The common variables and the enforcer's own. */
export const enforcerEnv = commonEnv.extend({
  POLICY_FILE: z.string().default(DEFAULT_POLICY_FILE),
  ENFORCER_INSTANCE_ID: z
    .string()
    .regex(/^[\w.-]+$/, 'letters, digits, dot, dash or underscore')
    .default(`${hostname()}-0`),
  ENFORCER_GROUP_ID: z.string().default('custos-enforcer'),
  ENFORCER_METRICS_PORT: env.int({ min: 0, max: 65535 }).optional(),
  ENFORCER_METRICS_HOST: z.string().default('127.0.0.1'),
  ENFORCER_CONCURRENCY: env.int({ min: 1, max: 64 }).default(2),
  ENFORCER_MAX_BYTES_PER_PARTITION: env.int({ min: 1024 }).default(4 * 1024 * 1024),
  ENFORCER_SESSION_TIMEOUT_MS: env.int({ min: 6000 }).default(30_000),
  ENFORCER_POLICY_RELOAD: env.bool().default(true),
  /** failure tests only: hold each transaction open this long before committing */
  ENFORCER_FAULT_PAUSE_BEFORE_COMMIT_MS: env.int({ min: 0 }).default(0),
});
export type EnforcerEnv = z.infer<typeof enforcerEnv>;

/** The Enforcer options these settings give (everything but dependencies and the judge). */
export function enforcerOptionsFromEnv(
  e: EnforcerEnv,
): Pick<
  EnforcerOptions,
  'groupId' | 'partitionsConsumedConcurrently' | 'maxBytesPerPartition' | 'sessionTimeoutMs' | 'policyReload' | 'faultInjection'
> {
  return {
    groupId: e.ENFORCER_GROUP_ID,
    partitionsConsumedConcurrently: e.ENFORCER_CONCURRENCY,
    maxBytesPerPartition: e.ENFORCER_MAX_BYTES_PER_PARTITION,
    sessionTimeoutMs: e.ENFORCER_SESSION_TIMEOUT_MS,
    policyReload: e.ENFORCER_POLICY_RELOAD ? {} : false,
    ...(e.ENFORCER_FAULT_PAUSE_BEFORE_COMMIT_MS > 0
      ? { faultInjection: { pauseBeforeCommitMs: e.ENFORCER_FAULT_PAUSE_BEFORE_COMMIT_MS } }
      : {}),
  };
}
