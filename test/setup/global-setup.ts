/**
 * Integration and e2e tests run against real Kafka, a real schema registry and real ClickHouse.
 * KAFKA_BROKERS / SCHEMA_REGISTRY_URL / CLICKHOUSE_URL are used when set; otherwise the local infra
 * (infra/infra.sh) is started here, and stopped afterwards only if this run started it.
 */
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestProject } from 'vitest/node';
import '../support/context.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const infra = join(root, 'infra', 'infra.sh');

function infraRunning(): boolean {
  try {
    execFileSync('bash', [infra, 'status'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export default function setup(project: TestProject): () => void {
  let started = false;
  if (!process.env.KAFKA_BROKERS || !process.env.SCHEMA_REGISTRY_URL) {
    if (!infraRunning()) {
      execFileSync('bash', [infra, 'up'], { stdio: ['ignore', 'inherit', 'inherit'] });
      started = true;
    }
    process.env.KAFKA_BROKERS ??= `127.0.0.1:${process.env.KAFKA_PORT ?? '9092'}`;
    process.env.SCHEMA_REGISTRY_URL ??= `http://127.0.0.1:${process.env.SCHEMA_REGISTRY_PORT ?? '8081'}/apis/ccompat/v7`;
  }
  project.provide('KAFKA_BROKERS', process.env.KAFKA_BROKERS ?? '');
  project.provide('SCHEMA_REGISTRY_URL', process.env.SCHEMA_REGISTRY_URL ?? '');
  project.provide('CLICKHOUSE_URL', process.env.CLICKHOUSE_URL ?? '');
  return () => {
    if (started && !process.env.CUSTOS_KEEP_INFRA) execFileSync('bash', [infra, 'down'], { stdio: 'inherit' });
  };
}
