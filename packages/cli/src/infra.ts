import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from '@custos/config';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/**
 * With no KAFKA_BROKERS / SCHEMA_REGISTRY_URL in the environment, starts the local infra
 * (idempotent) so that `custos start` works on a fresh machine.
 */
export function ensureLocalInfra(source: NodeJS.ProcessEnv, logger: Logger): void {
  if (source.KAFKA_BROKERS && source.SCHEMA_REGISTRY_URL) return;
  const script = join(REPO_ROOT, 'infra', 'infra.sh');
  if (!existsSync(script)) throw new Error(`KAFKA_BROKERS is not set and ${script} is missing`);
  logger.info('no KAFKA_BROKERS/SCHEMA_REGISTRY_URL set: starting local Kafka and schema registry (infra/infra.sh up)');
  execFileSync('bash', [script, 'up'], { stdio: ['ignore', 'inherit', 'inherit'] });
}
