/**
 * Helpers for integration and e2e tests: the real services' addresses (from the global setup),
 * unique topic names and a database of their own per test file.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { topics } from '@custos/schemas';
import { inject } from 'vitest';
import './context.js';

export function infraEnv(): { brokers: string[]; registryUrl: string; clickhouseUrl: string | undefined } {
  const brokers = inject('KAFKA_BROKERS') || process.env.KAFKA_BROKERS || '127.0.0.1:9092';
  const registryUrl = inject('SCHEMA_REGISTRY_URL') || process.env.SCHEMA_REGISTRY_URL || 'http://127.0.0.1:8081/apis/ccompat/v7';
  const clickhouseUrl = inject('CLICKHOUSE_URL') || process.env.CLICKHOUSE_URL || undefined;
  return { brokers: brokers.split(','), registryUrl, clickhouseUrl };
}

/** A short unique prefix, so each test file has topics, consumer groups and subjects of its own. */
export function uniquePrefix(label: string): string {
  return `t-${label}-${randomUUID().slice(0, 8)}.`;
}

export function testTopics(label: string, partitions = 3) {
  return topics({ prefix: uniquePrefix(label), partitions });
}

/** A ClickHouse database name of its own and, in embedded mode, a fresh chDB directory. */
export function testStore(label: string): { database: string; chdbPath: string } {
  return {
    database: `test_${label.replace(/\W/g, '_')}_${randomUUID().slice(0, 8)}`,
    chdbPath: mkdtempSync(join(tmpdir(), `custos-chdb-${label}-`)),
  };
}
export { freePort, freePorts } from './ports.js';
export { assertInfraReachable } from './preflight.js';
export { trackProgress } from './progress.js';
export { pace, type WaitOptions, waitFor } from './wait.js';
