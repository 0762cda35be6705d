/**
 * What every Custos process builds from its environment: the validated settings, a logger, the
 * Kafka client and Avro codec, the topic names and (for services that store) the ClickHouse store.
 * Service mains and `custos start` call these, so a service runs the same alone or composed.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { commonEnv, createLogger, env, type Logger, parseEnv } from '@custos/config';
import { AvroCodec, createKafka, type Kafka } from '@custos/kafka';
import { type Topics, topics } from '@custos/schemas';
import { createStore, DEFAULT_SINK_BATCH_ROWS, migrate, retentionConfig, type Store, storeEnv } from '@custos/store';
import { z } from 'zod';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

export const runtimeEnv = commonEnv.extend({
  API_PORT: env.int({ min: 0, max: 65535 }).default(8080),
  API_HOST: z.string().default('127.0.0.1'),
  POLICY_FILE: z.string().default(join(REPO_ROOT, 'policies', 'example-org.json')),
  ENFORCER_INSTANCE_ID: z
    .string()
    .regex(/^[\w.-]+$/, 'letters, digits, dot, dash or underscore')
    .default(`${hostname()}-0`),
  ENFORCER_GROUP_ID: z.string().default('custos-enforcer'),
  SINK_GROUP_ID: z.string().default('custos-sink'),
  SINK_MAX_BATCH_ROWS: env.int({ min: 1 }).default(DEFAULT_SINK_BATCH_ROWS),
  TOPIC_PARTITIONS: env.int({ min: 1, max: 1000 }).default(6),
});
export type RuntimeEnv = z.infer<typeof runtimeEnv>;

export function loadEnv(source: NodeJS.ProcessEnv = process.env): RuntimeEnv {
  return parseEnv(runtimeEnv, source);
}

export interface Deps {
  env: RuntimeEnv;
  logger: Logger;
  kafka: Kafka;
  codec: AvroCodec;
  topics: Topics;
}

export function buildDeps(e: RuntimeEnv, name: string): Deps {
  const logger = createLogger(name, e.LOG_LEVEL);
  return {
    env: e,
    logger,
    kafka: createKafka({ brokers: e.KAFKA_BROKERS, clientId: `${e.KAFKA_CLIENT_ID}-${name}`, logger }),
    codec: AvroCodec.connect(e.SCHEMA_REGISTRY_URL),
    topics: topics({ prefix: e.TOPIC_PREFIX, partitions: e.TOPIC_PARTITIONS }),
  };
}

/** Opens the store, applies pending migrations and the configured audit-trail retention. */
export async function openStore(e: RuntimeEnv, logger: Logger, source: NodeJS.ProcessEnv = process.env): Promise<Store> {
  const store = createStore({
    url: e.CLICKHOUSE_URL,
    username: e.CLICKHOUSE_USER,
    password: e.CLICKHOUSE_PASSWORD,
    database: e.CLICKHOUSE_DATABASE,
    chdbPath: resolve(e.CHDB_PATH),
  });
  const retention = retentionConfig(parseEnv(storeEnv, source));
  const r = await migrate(store, undefined, { retention });
  logger.info({ mode: store.mode, database: store.database, applied: r.applied, retentionDays: retention.days }, 'store ready');
  return store;
}

/**
 * With no KAFKA_BROKERS / SCHEMA_REGISTRY_URL in the environment, starts the local infra
 * (idempotent) so that `pnpm start` works on a fresh machine.
 */
export function ensureLocalInfra(source: NodeJS.ProcessEnv, logger: Logger): void {
  if (source.KAFKA_BROKERS && source.SCHEMA_REGISTRY_URL) return;
  const script = join(REPO_ROOT, 'infra', 'infra.sh');
  if (!existsSync(script)) throw new Error(`KAFKA_BROKERS is not set and ${script} is missing`);
  logger.info('no KAFKA_BROKERS/SCHEMA_REGISTRY_URL set: starting local Kafka and schema registry (infra/infra.sh up)');
  execFileSync('bash', [script, 'up'], { stdio: ['ignore', 'inherit', 'inherit'] });
}
