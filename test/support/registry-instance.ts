/**
 * A schema registry of a test's own (`infra/infra.sh registry ...`): its own ports, run directory and
 * KafkaSQL journal topic on the shared Kafka, so that a test can restart it, or make it forget, while
 * other tests keep using the shared registry. Starting waits for the registry's health (infra.sh
 * polls /subjects and /health/ready), typically 20–40 s.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePorts } from './ports.js';

const infra = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'infra', 'infra.sh');

export interface RegistryInstance {
  /** the Confluent-compatible API, as SCHEMA_REGISTRY_URL */
  readonly url: string;
  /** the journal topic (kafkasql storage) */
  readonly topic: string;
  start(): Promise<void>;
  /** stops it; its storage stays (kafkasql) or is gone (mem) */
  stop(): Promise<void>;
  restart(): Promise<void>;
  /** stops it, deletes its journal topics and run directory */
  destroy(): Promise<void>;
}

function run(args: string[], env: NodeJS.ProcessEnv): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile('bash', [infra, ...args], { env, timeout: 300_000 }, (err, _stdout, stderr) => {
      if (err) reject(new Error(`infra.sh ${args.join(' ')} failed: ${err.message}\n${stderr}`));
      else resolve();
    });
  });
}

/**
 * `brokers`: the shared Kafka (host:port); `storage`: kafkasql (schemas survive restarts) or mem
 * (a restart forgets them: a registry that lost its storage).
 */
export async function registryInstance(
  label: string,
  brokers: string[],
  storage: 'kafkasql' | 'mem' = 'kafkasql',
): Promise<RegistryInstance> {
  const kafkaPort = (brokers[0] ?? '127.0.0.1:9092').split(':').pop() ?? '9092';
  const [port, mgmtPort] = (await freePorts(2)) as [number, number];
  const runDir = mkdtempSync(join(tmpdir(), `custos-registry-${label}-`));
  const topic = `_t-${label}-${randomUUID().slice(0, 8)}-registry-journal`;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    CUSTOS_INFRA_DIR: runDir,
    KAFKA_PORT: kafkaPort,
    SCHEMA_REGISTRY_PORT: String(port),
    SCHEMA_REGISTRY_MGMT_PORT: String(mgmtPort),
    SCHEMA_REGISTRY_STORAGE: storage,
    SCHEMA_REGISTRY_TOPIC: topic,
  };
  return {
    url: `http://127.0.0.1:${port}/apis/ccompat/v7`,
    topic,
    start: () => run(['registry', 'up'], env),
    stop: () => run(['registry', 'down'], env),
    restart: () => run(['registry', 'restart'], env),
    async destroy() {
      await run(['registry', 'down', '--wipe'], env);
      rmSync(runDir, { recursive: true, force: true });
    },
  };
}
