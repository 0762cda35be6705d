// @ts-check
/**
 * Custos producers' partitioner (the default of every producer `newKafka`'s client makes, and the
 * SDK's). It puts every keyed message where kafkajs' DefaultPartitioner (and the
 * Java client) puts it — `toPositive(murmur2(key)) % partitionCount` — so consumers and other
 * producers agree on which partition holds an actor's events. It differs only in cost: kafkajs
 * computes murmur2 with a 64-bit Long object per step (~20 small objects per key) and filters the
 * topic's partition list for every message, which profiles showed as ~8 % of the SDK's CPU (1.1 µs per message in isolation);
 * here the
 * hash is 32-bit integer math (`Math.imul`) over the key's bytes, and the list of available
 * partitions is only built for a message without a key (never one of the SDK's).
 *
 * JavaScript (type-checked from its JSDoc): the sender thread loads it without a TypeScript loader
 * (see packages/sdk/src/sender-worker.mjs).
 */

/**
 * Kafka's `Utils.murmur2` (seed 0x9747b28c) of buf[start, end): a signed 32-bit integer.
 * @param {Uint8Array} buf
 * @param {number} [start]
 * @param {number} [end]
 * @returns {number}
 */
export function murmur2(buf, start = 0, end = buf.length) {
  const m = 0x5bd1e995;
  const length = end - start;
  let h = 0x9747b28c ^ length;
  const body = start + (length & ~3);
  for (let i = start; i < body; i += 4) {
    // (`?? 0` only for the type checker: every index here is in range)
    let k = (buf[i] ?? 0) | ((buf[i + 1] ?? 0) << 8) | ((buf[i + 2] ?? 0) << 16) | ((buf[i + 3] ?? 0) << 24);
    k = Math.imul(k, m);
    k ^= k >>> 24;
    k = Math.imul(k, m);
    h = Math.imul(h, m) ^ k;
  }
  const tail = length & 3;
  if (tail === 3) h ^= (buf[body + 2] ?? 0) << 16;
  if (tail >= 2) h ^= (buf[body + 1] ?? 0) << 8;
  if (tail >= 1) {
    h ^= buf[body] ?? 0;
    h = Math.imul(h, m);
  }
  h ^= h >>> 13;
  h = Math.imul(h, m);
  h ^= h >>> 15;
  return h | 0;
}

/**
 * The shapes kafkajs passes to a partitioner (kept structural: only `@custos/kafka` imports kafkajs).
 * `bytes` + `keyStart`/`keyEnd`: the key as a range of a shared buffer (the kafkajs patch's ranged
 * messages).
 * @typedef {{ partitionId: number; leader: number }} PartitionInfo
 * @typedef {{ key?: Buffer | string | null; partition?: number | null; bytes?: Buffer | null; keyStart?: number; keyEnd?: number }} PartitionedMessage
 * @typedef {{ topic: string; partitionMetadata: PartitionInfo[]; message: PartitionedMessage }} PartitionerArgs
 */

/**
 * A kafkajs `createPartitioner`: an explicit `message.partition` wins; a keyed message (its key a
 * buffer, a string or a range of a shared buffer) goes to
 * `toPositive(murmur2(key)) % partitions` over all partitions (available or not, as Kafka's default
 * partitioner does for keys); a message without a key goes round-robin over the available ones.
 * @returns {(args: PartitionerArgs) => number}
 */
export function createKeyPartitioner() {
  /** @type {Map<string, number>} */
  const counters = new Map();
  return ({ topic, partitionMetadata, message }) => {
    if (message.partition !== null && message.partition !== undefined) return message.partition;
    const shared = message.bytes;
    if (shared !== null && shared !== undefined) {
      return (murmur2(shared, message.keyStart, message.keyEnd) & 0x7fffffff) % partitionMetadata.length;
    }
    const key = message.key;
    if (key !== null && key !== undefined) {
      const bytes = typeof key === 'string' ? Buffer.from(key) : key;
      return (murmur2(bytes) & 0x7fffffff) % partitionMetadata.length;
    }
    const next = ((counters.get(topic) ?? Math.floor(Math.random() * 0x7fffffff)) + 1) & 0x7fffffff;
    counters.set(topic, next);
    const available = partitionMetadata.filter((p) => p.leader >= 0);
    const chosen = available[next % available.length];
    if (chosen !== undefined) return chosen.partitionId;
    return next % partitionMetadata.length;
  };
}
