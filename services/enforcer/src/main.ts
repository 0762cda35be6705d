/** Runs the enforcer alone: parse env → build dependencies → start. */
import { shutdownOnSignals } from '@custos/config';
import { buildDeps, loadEnv } from '@custos/runtime';
import { Enforcer } from './enforcer.js';
import { createPolicyJudge } from './judge.js';

const env = loadEnv();
const deps = buildDeps(env, 'enforcer');
const judge = await createPolicyJudge(env.POLICY_FILE);
const enforcer = new Enforcer({
  ...deps,
  judge,
  groupId: env.ENFORCER_GROUP_ID,
  transactionalId: `custos-enforcer-${env.ENFORCER_INSTANCE_ID}`,
});
shutdownOnSignals(() => enforcer.stop(), { timeoutMs: env.SHUTDOWN_TIMEOUT_MS, logger: deps.logger });
await enforcer.start();
deps.logger.info({ policy: judge.policyVersion }, 'enforcer started');
