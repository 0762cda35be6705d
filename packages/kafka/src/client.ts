/** The only module that builds kafkajs clients, so the client library can be swapped in one place. */
import { type Admin, type ITopicConfig, Kafka, type KafkaConfig, logLevel } from 'kafkajs';
import type { Logger } from 'pino';

export interface KafkaOptions {
  brokers: string[];
  clientId: string;
  logger?: Logger;
  /** how long to wait for a broker connection; keeps "Kafka is down" from hanging */
  connectionTimeoutMs?: number;
  retry?: KafkaConfig['retry'];
}

const levelName: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  [logLevel.ERROR]: 'error',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'info',
  [logLevel.DEBUG]: 'debug',
};

export function createKafka(opts: KafkaOptions): Kafka {
  // We rely on the default (murmur2, Java-compatible) partitioner; the v2 migration notice is noise.
  process.env.KAFKAJS_NO_PARTITIONER_WARNING ??= '1';
  const logger = opts.logger;
  return new Kafka({
    clientId: opts.clientId,
    brokers: opts.brokers,
    connectionTimeout: opts.connectionTimeoutMs ?? 3000,
    retry: opts.retry ?? { retries: 8, initialRetryTime: 100, maxRetryTime: 5000 },
    logLevel: logger ? logLevel.WARN : logLevel.NOTHING,
    logCreator: () => (entry) => {
      if (!logger) return;
      const { message, ...rest } = entry.log;
      logger[levelName[entry.level] ?? 'info']({ kafka: entry.namespace, ...rest }, message);
    },
  });
}

export interface TopicToCreate {
  name: string;
  partitions: number;
  config: Record<string, string>;
}

/** Creates any missing topics (idempotent); existing ones are left as they are. */
export async function ensureTopics(admin: Admin, specs: TopicToCreate[], replicationFactor = 1): Promise<void> {
  const existing = new Set(await admin.listTopics());
  const missing: ITopicConfig[] = specs
    .filter((s) => !existing.has(s.name))
    .map((s) => ({
      topic: s.name,
      numPartitions: s.partitions,
      replicationFactor,
      configEntries: Object.entries(s.config).map(([name, value]) => ({ name, value })),
    }));
  if (missing.length > 0) await admin.createTopics({ topics: missing, waitForLeaders: true });
}

export type { Admin, Consumer, EachBatchPayload, Kafka, KafkaMessage, Producer, Transaction } from 'kafkajs';
export { CompressionTypes } from 'kafkajs';
