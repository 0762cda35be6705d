/** Kafka clients and topics. kafkajs clients are built in kafka-client.js only, so the client library can be swapped in one place. */

import { type Topics, topics } from '@custos/schemas';
import type { Admin, ITopicConfig, Kafka } from 'kafkajs';
import { type KafkaOptions, newKafka } from './kafka-client.js';
import { describeKafkajsPatch, kafkajsPatch } from './kafka-patch.js';
import { AvroCodec } from './registry.js';

export type { KafkaOptions } from './kafka-client.js';
export { describeKafkajsPatch, type KafkajsPatch, kafkajsPatch, releaseBatchMessages } from './kafka-patch.js';

let told = false;

/** A kafkajs client (kafka-client.js); the first one with a logger says which kafkajs the process runs. */
export function createKafka(opts: KafkaOptions): Kafka {
  const logger = opts.logger;
  if (logger !== undefined && !told) {
    told = true;
    // The start-up check of the patch: correct either way, but without it the SDK's ranged messages
    // and the enforcer's early release of fetched messages are off.
    void kafkajsPatch().then((p) =>
      p.rangedMessages && p.releaseMessages
        ? logger.info({ kafkajs: p }, describeKafkajsPatch(p))
        : logger.warn({ kafkajs: p }, describeKafkajsPatch(p)),
    );
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

/** What every service that talks to Kafka builds from the common settings. */
export interface KafkaDeps {
  kafka: Kafka;
  codec: AvroCodec;
  topics: Topics;
}

export function kafkaDeps(
  e: {
    KAFKA_BROKERS: string[];
    KAFKA_CLIENT_ID: string;
    SCHEMA_REGISTRY_URL: string;
    TOPIC_PREFIX: string;
    TOPIC_PARTITIONS: number;
  },
  name: string,
  logger: KafkaOptions['logger'],
): KafkaDeps {
  return {
    kafka: createKafka({ brokers: e.KAFKA_BROKERS, clientId: `${e.KAFKA_CLIENT_ID}-${name}`, ...(logger ? { logger } : {}) }),
    codec: AvroCodec.connect(e.SCHEMA_REGISTRY_URL),
    topics: topics({ prefix: e.TOPIC_PREFIX, partitions: e.TOPIC_PARTITIONS }),
  };
}
