/** Kafka clients and topics. kafkajs clients are built in kafka-client.js only, so the client library can be swapped in one place. */
import type { Admin, ITopicConfig, Kafka } from 'kafkajs';
import { type KafkaOptions, newKafka } from './kafka-client.js';
import { describeKafkajsPatch, kafkajsPatch } from './kafka-patch.js';

export type { KafkaOptions } from './kafka-client.js';
export { describeKafkajsPatch, type KafkajsPatch, kafkajsPatch, releaseBatchMessages } from './kafka-patch.js';

let told = false;

/** A kafkajs client (kafka-client.js); the first one with a logger says which kafkajs the process runs. */
export function createKafka(opts: KafkaOptions): Kafka {
  const logger = opts.logger;
  if (logger !== undefined && !told) {
    told = true;
    void kafkajsPatch().then((p) => logger.info({ kafkajs: p }, describeKafkajsPatch(p)));
  }
  return newKafka(opts);
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
