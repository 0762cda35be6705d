// @ts-check
/**
 * The kafkajs messages of a packed batch (transport.ts), built the same way by both transports.
 *
 * With the kafkajs patch, a record's key and value are ranges of the batch's shared buffer: the
 * patch's one-pass writer copies them from there, and the SDK's partitioner hashes the key's range,
 * so no Buffer is made per record. Stock kafkajs would write such a record with a null key and value
 * and report success, so without the patch (proved by `kafkajsPatch`, not assumed) the key and value
 * are ordinary Buffers. On the caller's thread they are cached keys and pooled value copies: fresh
 * views per record would live through the send and grow the young generation that sets the
 * process's RSS (docs/decisions/sdk-pooled-batch-memory.md). On the sender thread, whose heap is
 * small and capped, they are views of the shared buffer (no copy; pooled copies measured no lower
 * RSS there). The message objects are reused from batch to batch (one batch at a time, and kafkajs
 * is done with them once sendBatch settles).
 *
 * JavaScript (type-checked from its JSDoc): the sender thread loads it without a TypeScript loader.
 */
import { describeKafkajsPatch, kafkajsPatch } from '@custos/kafka/kafka-patch';

/**
 * @typedef {{ key: Buffer | null; value: Buffer | null; bytes: Buffer | null; keyStart: number; keyEnd: number; valueStart: number; valueEnd: number }} PooledMessage
 * @typedef {{ topic: string; messages: PooledMessage[] }} TopicMessages
 */

/**
 * Messages per sendBatch call on the ordinary-messages path. Stock kafkajs groups a call's messages
 * by partition by copying the partition's array for every message (`[...current, message]`), so a
 * call costs the square of its messages per partition: a whole 512 KiB batch (~3 700 events over 6
 * partitions) spent more of the sender thread's CPU in that copying and in collecting the arrays it
 * left behind than in encoding (docs/decisions/sdk-plain-messages-in-parts.md). Parts of this size
 * keep it to a few percent; ranged messages need the patched kafkajs, which groups in one pass.
 */
export const PLAIN_PART_MESSAGES = 512;

/** distinct keys whose buffers are kept (the cache starts over past this) */
const KEY_CACHE_SIZE = 4096;

export class BatchMessages {
  /** @type {PooledMessage[]} */
  #pool = [];
  #used = 0;
  /** @type {Map<string, Buffer>} key buffers by key (as latin1: one character per byte) */
  #keys = new Map();
  /** @type {Map<number, Buffer[]>} value buffers by length */
  #values = new Map();
  #valueBytes = 0;
  #maxValueBytes;

  /**
   * @param {number} maxValueBytes 0: ordinary messages are views of the shared buffer; otherwise
   *   cached keys and value copies, with up to this many bytes of value buffers kept for reuse
   */
  constructor(maxValueBytes) {
    this.#maxValueBytes = maxValueBytes;
  }

  /**
   * The batch's records as kafkajs `topicMessages`, valid until `release()`.
   * @param {import('./transport.js').PackedBatch} batch
   * @param {boolean} ranged send ranges of the shared buffer (only with the patched kafkajs)
   * @returns {TopicMessages[]}
   */
  build(batch, ranged) {
    const buf = Buffer.from(batch.buf);
    const pool = this.#pool;
    let used = 0;
    const out = batch.topics.map(({ topic, index }) => {
      const n = index.length >> 2;
      /** @type {PooledMessage[]} */
      const messages = new Array(n);
      for (let i = 0, j = 0; i < n; i++, j += 4) {
        let r = pool[used++];
        if (r === undefined) {
          r = { key: null, value: null, bytes: null, keyStart: 0, keyEnd: 0, valueStart: 0, valueEnd: 0 };
          pool.push(r);
        }
        messages[i] = r;
        const keyStart = /** @type {number} */ (index[j]);
        const keyEnd = keyStart + /** @type {number} */ (index[j + 1]);
        const valueStart = /** @type {number} */ (index[j + 2]);
        const valueEnd = valueStart + /** @type {number} */ (index[j + 3]);
        if (ranged) {
          r.bytes = buf;
          r.keyStart = keyStart;
          r.keyEnd = keyEnd;
          r.valueStart = valueStart;
          r.valueEnd = valueEnd;
        } else if (this.#maxValueBytes === 0) {
          r.key = buf.subarray(keyStart, keyEnd);
          r.value = buf.subarray(valueStart, valueEnd);
        } else {
          r.key = this.#key(buf, keyStart, keyEnd);
          r.value = this.#value(buf, valueStart, valueEnd);
        }
      }
      return { topic, messages };
    });
    this.#used = used;
    return out;
  }

  /** Lets the batch's buffer go; message objects and value buffers stay for the next batch. */
  release() {
    const pool = this.#pool;
    for (let i = 0; i < this.#used; i++) {
      const r = /** @type {PooledMessage} */ (pool[i]);
      if (r.value !== null && this.#maxValueBytes > 0) this.#releaseValue(r.value);
      r.bytes = null;
      r.key = null;
      r.value = null;
    }
    this.#used = 0;
  }

  /**
   * The cached buffer of the key buf[start, end).
   * @param {Buffer} buf @param {number} start @param {number} end
   */
  #key(buf, start, end) {
    const k = buf.toString('latin1', start, end);
    let b = this.#keys.get(k);
    if (b === undefined) {
      if (this.#keys.size >= KEY_CACHE_SIZE) this.#keys.clear();
      b = Buffer.from(buf.subarray(start, end));
      this.#keys.set(k, b);
    }
    return b;
  }

  /**
   * buf[start, end) copied into a value buffer kept for reuse (or a new one).
   * @param {Buffer} buf @param {number} start @param {number} end
   */
  #value(buf, start, end) {
    const len = end - start;
    let b = this.#values.get(len)?.pop();
    if (b === undefined) b = Buffer.allocUnsafe(len);
    else this.#valueBytes -= len;
    buf.copy(b, 0, start, end);
    return b;
  }

  /** @param {Buffer} b */
  #releaseValue(b) {
    if (this.#valueBytes + b.length > this.#maxValueBytes) return;
    let list = this.#values.get(b.length);
    if (list === undefined) {
      list = [];
      this.#values.set(b.length, list);
    }
    list.push(b);
    this.#valueBytes += b.length;
  }
}

/**
 * The sendBatch calls that carry a batch's messages: the whole batch for ranged messages, parts of
 * at most `PLAIN_PART_MESSAGES` for ordinary ones (the same parts for the same batch, attempt after
 * attempt).
 * @param {TopicMessages[]} topicMessages
 * @param {boolean} ranged
 * @returns {TopicMessages[][]}
 */
export function sendParts(topicMessages, ranged) {
  if (ranged) return [topicMessages];
  /** @type {TopicMessages[][]} */
  const parts = [];
  /** @type {TopicMessages[]} */
  let part = [];
  let room = PLAIN_PART_MESSAGES;
  for (const { topic, messages } of topicMessages) {
    for (let i = 0; i < messages.length; ) {
      const n = Math.min(room, messages.length - i);
      part.push({ topic, messages: i === 0 && n === messages.length ? messages : messages.slice(i, i + n) });
      i += n;
      room -= n;
      if (room === 0) {
        parts.push(part);
        part = [];
        room = PLAIN_PART_MESSAGES;
      }
    }
  }
  if (part.length > 0) parts.push(part);
  return parts;
}

/**
 * How far the attempts at one batch got: the parts Kafka acknowledged (they are not sent again: they
 * would be appended twice) and, within the next part, the partitions the patched kafkajs reports
 * acknowledged by a failed attempt.
 * @typedef {{ parts: number; acknowledged: Set<string> }} SendProgress
 */

/**
 * Sends a batch's parts in order, from the first one not yet acknowledged.
 * @param {import('kafkajs').Producer} producer
 * @param {TopicMessages[][]} parts
 * @param {number} acks
 * @param {number} timeout
 * @param {SendProgress} progress updated as parts are acknowledged
 */
export async function sendInParts(producer, parts, acks, timeout, progress) {
  for (let i = progress.parts; i < parts.length; i++) {
    // (kafkajs' Message type has no ranged fields; the patched client reads them)
    await producer.sendBatch({
      topicMessages: /** @type {never} */ (parts[i]),
      acks,
      timeout,
      acknowledged: progress.acknowledged,
    });
    progress.parts = i + 1;
    progress.acknowledged.clear();
  }
}

/**
 * Whether a transport sends ranged messages: only when the kafkajs this process loads is proved
 * patched and the caller did not ask for ordinary messages. Logged once, at info.
 * @param {boolean} plainMessages
 * @param {(obj: object, msg: string) => void} info
 * @returns {Promise<boolean>}
 */
export async function rangedMessages(plainMessages, info) {
  const patch = await kafkajsPatch();
  const use = patch.rangedMessages && !plainMessages;
  info(
    { kafkajs: patch.version, rangedMessages: patch.rangedMessages, sendPath: use ? 'ranged' : 'plain' },
    `audit sender: ${describeKafkajsPatch(patch)}; sending ${use ? 'ranged messages (one shared buffer per batch)' : 'ordinary messages'}`,
  );
  return use;
}
