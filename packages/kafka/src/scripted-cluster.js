// @ts-check
/**
 * kafkajs' own send loop (src/producer/sendMessages.js) against a scripted cluster, no broker: the
 * start-up probe of the patch (kafka-patch.js) and its tests (send-retry-patch.test.ts) run the
 * loop through this one description of a cluster.
 *
 * JavaScript (type-checked from its JSDoc), like kafka-patch.js, which loads it.
 */
import { createRequire } from 'node:module';

// Resolved from this file, so these are the very modules `import 'kafkajs'` here loads.
const require = createRequire(import.meta.url);

/**
 * kafkajs' connection error (what a send retries on), of the kafkajs whose send loop runs.
 * @param {string} message
 * @returns {Error}
 */
export function connectionError(message) {
  const { KafkaJSConnectionError } = /** @type {{ KafkaJSConnectionError: new (m: string) => Error }} */ (
    require('kafkajs/src/errors.js')
  );
  return new KafkaJSConnectionError(message);
}

/**
 * @typedef {object} Produced a partition's messages as a broker took them
 * @property {number} broker
 * @property {number} partition
 * @property {number} firstSequence
 * @property {string[]} values
 */

/**
 * What a broker does before answering a produce: throw to fail it, wait to answer slowly.
 * @typedef {(nodeId: number, partitions: number[]) => Promise<void> | void} Behaviour
 */

/**
 * @typedef {object} ProducedPartition
 * @property {number} partition
 * @property {number} firstSequence
 * @property {{ value: string }[]} messages
 */

/**
 * @typedef {object} ScriptedCluster
 * @property {(batch: object) => Promise<{ topicName: string, partition: number }[]>} send kafkajs' send
 *   loop, with 5 retries of at most 100 ms, a round-robin partitioner (kafkajs' default for messages
 *   without a key) and an idempotent producer's sequence numbers
 * @property {Produced[]} produced what the brokers took, in order
 * @property {Map<number, number>} sequences each partition's next sequence number
 * @property {() => number} maxInFlight the most produce requests answered at once
 */

/**
 * A cluster of `leaders` (partition → node id; −1: an election under way); `behave` runs before each
 * produce is answered. Change `leaders` to move a partition; `onRefreshMetadata` runs when the send
 * loop asks for fresh metadata (as it does after a failed attempt, before retrying).
 * @param {Map<number, number>} leaders
 * @param {Behaviour} behave
 * @param {() => void} [onRefreshMetadata]
 * @returns {ScriptedCluster}
 */
export function scriptedCluster(leaders, behave, onRefreshMetadata) {
  const createSendMessages = /** @type {(o: object) => ScriptedCluster['send']} */ (
    require('kafkajs/src/producer/sendMessages.js')
  );
  const createRetry = /** @type {(o: object) => unknown} */ (require('kafkajs/src/retry/index.js'));
  /** @type {Produced[]} */
  const produced = [];
  /** @type {Map<number, number>} */
  const sequences = new Map();
  let inFlight = 0;
  let maxInFlight = 0;
  /** @param {number} nodeId */
  const broker = (nodeId) => ({
    nodeId,
    /** @param {{ topicData: { topic: string, partitions: ProducedPartition[] }[] }} r */
    async produce({ topicData }) {
      const parts = topicData.flatMap((t) => t.partitions);
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      try {
        await behave(
          nodeId,
          parts.map((p) => p.partition),
        );
      } finally {
        inFlight--;
      }
      for (const p of parts)
        produced.push({
          broker: nodeId,
          partition: p.partition,
          firstSequence: p.firstSequence,
          values: p.messages.map((m) => m.value),
        });
      return {
        topics: topicData.map((t) => ({
          topicName: t.topic,
          partitions: t.partitions.map((p) => ({ partition: p.partition, errorCode: 0, baseOffset: '0' })),
        })),
      };
    },
  });
  /** @type {Map<number, ReturnType<typeof broker>>} */
  const brokers = new Map();
  const cluster = {
    targetTopics: new Set(),
    async addMultipleTargetTopics() {},
    async refreshMetadataIfNecessary() {},
    async refreshMetadata() {
      onRefreshMetadata?.();
    },
    isConnected: () => true,
    removeBroker() {},
    findTopicPartitionMetadata: () => [...leaders].map(([partitionId, leader]) => ({ partitionId, leader })),
    /** @param {string} _topic @param {string[]} partitions */
    findLeaderForPartitions(_topic, partitions) {
      /** @type {Record<number, number[]>} */
      const out = {};
      for (const id of partitions.map(Number)) {
        const leader = leaders.get(id);
        if (leader !== undefined) out[leader] = [...(out[leader] ?? []), id];
      }
      return out;
    },
    /** @param {{ nodeId: string | number }} o */
    async findBroker({ nodeId }) {
      const id = Number(nodeId);
      let b = brokers.get(id);
      if (b === undefined) {
        b = broker(id);
        brokers.set(id, b);
      }
      return b;
    },
  };
  const eosManager = {
    isTransactional: () => false,
    async acquireBrokerLock() {},
    async releaseBrokerLock() {},
    /** @param {string} _topic @param {number} partition */
    getSequence: (_topic, partition) => sequences.get(partition) ?? 0,
    /** @param {string} _topic @param {number} partition @param {number} n */
    updateSequence: (_topic, partition, n) => sequences.set(partition, (sequences.get(partition) ?? 0) + n),
    getProducerId: () => 7,
    getProducerEpoch: () => 0,
  };
  const quiet = () => {};
  let next = 0;
  const send = createSendMessages({
    logger: { debug: quiet, info: quiet, warn: quiet, error: quiet },
    cluster,
    /** @param {{ partitionMetadata: unknown[] }} a */
    partitioner: ({ partitionMetadata }) => next++ % partitionMetadata.length,
    eosManager,
    retrier: createRetry({ retries: 5, initialRetryTime: 1, maxRetryTime: 100 }),
  });
  return { send, produced, sequences, maxInFlight: () => maxInFlight };
}
