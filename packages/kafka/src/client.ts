/** Kafka clients and topics. kafkajs clients are built in kafka-client.js only, so the client library can be swapped in one place. */

import { type Topics, topics } from '@custos/schemas';
import type { Admin, ConfigResourceTypes, ITopicConfig, Kafka } from 'kafkajs';

import { type KafkaOptions, newKafka } from './kafka-client.js';
import { describeKafkajsPatch, kafkajsPatch } from './kafka-patch.js';
import { AvroCodec } from './registry.js';

// ConfigResourceTypes.BROKER: kafkajs's CommonJS exports hide the enum from ESM named imports.
const BROKER_RESOURCE = 4 as ConfigResourceTypes;

export type { KafkaOptions } from './kafka-client.js';
export { describeKafkajsPatch, type KafkajsPatch, kafkajsPatch, releaseBatchMessages } from './kafka-patch.js';

let told = false;

/** A kafkajs client (kafka-client.js); the first one with a logger says which kafkajs the process runs. */
export function createKafka(opts: KafkaOptions): Kafka {
  const logger = opts.logger;
  if (logger !== undefined && !told) {
    told = true;
    // The start-up check of the patch. Without it the SDK's ranged messages and the enforcer's early
    // release of fetched messages are off (slower, still correct), and a send retried after a
    // partition's leader moved can resolve without writing that partition (a loss on a cluster), and
    // the enforcer can read a committed offset from before its last transaction (records judged twice).
    void kafkajsPatch().then((p) =>
      p.rangedMessages && p.releaseMessages && p.movedPartitions && p.stableOffsets
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

/**
 * The cluster's own `default.replication.factor`: the operator sets it once on the brokers (1 on a
 * single node, 3 on a cluster) and every topic Custos creates follows it, as do their
 * `min.insync.replicas` (not set per topic, so the broker's applies). kafkajs speaks CreateTopics
 * versions that cannot ask the broker for its default (-1), hence the look-up. Without an answer
 * (e.g. no DescribeConfigs permission): the number of brokers, at most 3.
 */
export async function clusterReplicationFactor(admin: Admin): Promise<number> {
  const { brokers } = await admin.describeCluster();
  const first = brokers[0];
  if (first === undefined) return 1;
  try {
    const { resources } = await admin.describeConfigs({
      includeSynonyms: false,
      resources: [{ type: BROKER_RESOURCE, name: String(first.nodeId), configNames: ['default.replication.factor'] }],
    });
    const value = Number(resources[0]?.configEntries.find((e) => e.configName === 'default.replication.factor')?.configValue);
    if (Number.isInteger(value) && value >= 1) return value;
  } catch {
    // fall through
  }
  return Math.min(3, brokers.length);
}

/**
 * Creates any missing topics (idempotent); existing ones are left as they are. The replication
 * factor is the cluster's default unless given.
 */
export async function ensureTopics(admin: Admin, specs: TopicToCreate[], replicationFactor?: number): Promise<void> {
  const existing = new Set(await admin.listTopics());
  const toCreate = specs.filter((s) => !existing.has(s.name));
  if (toCreate.length === 0) return;
  const rf = replicationFactor ?? (await clusterReplicationFactor(admin));
  const missing: ITopicConfig[] = toCreate.map((s) => ({
    topic: s.name,
    numPartitions: s.partitions,
    replicationFactor: rf,
    configEntries: Object.entries(s.config).map(([name, value]) => ({ name, value })),
  }));
  // kafkajs' waitForLeaders asks one broker and gives up when that one does not know the topic yet
  // (a cluster's brokers learn of it one after the other): wait here instead, asking again.
  await admin.createTopics({ topics: missing, waitForLeaders: false });
  const names = missing.map((t) => t.topic);
  await whileTopicsPropagate(async () => {
    const { topics } = await admin.fetchTopicMetadata({ topics: names });
    if (topics.length < names.length || topics.some((t) => t.partitions.length === 0 || t.partitions.some((p) => p.leader < 0))) {
      throw Object.assign(new Error(`no leader yet for every partition of ${names.join(', ')}`), {
        type: 'LEADER_NOT_AVAILABLE',
      });
    }
  });
}

/**
 * Runs `fn` (a subscribe, an offsets look-up) again while the broker it asked does not know the
 * topic yet. On a cluster a topic just created is known to its controller and leaders first; a
 * broker that has not yet applied it answers UNKNOWN_TOPIC_OR_PARTITION, which kafkajs does not
 * retry in a metadata request (it retries only LEADER_NOT_AVAILABLE), so the client's start would
 * fail. A topic that really does not exist still fails, after `timeoutMs`.
 */
export async function whileTopicsPropagate<T>(fn: () => Promise<T>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (let delay = 100; ; delay = Math.min(delay * 2, 2000)) {
    try {
      return await fn();
    } catch (err) {
      const type = (err as { type?: unknown }).type;
      if ((type !== 'UNKNOWN_TOPIC_OR_PARTITION' && type !== 'LEADER_NOT_AVAILABLE') || Date.now() + delay > deadline) throw err;
      await new Promise((r) => setTimeout(r, delay));
    }
  }
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
