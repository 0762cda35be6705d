// @ts-check
/**
 * The kafkajs messages of a packed batch (transport.ts), built the same way by both transports.
 *
 * With the kafkajs patch, a record's key and value are ranges of the batch's shared buffer: the
 * patch's one-pass writer copies them from there, and the SDK's partitioner hashes the key's range,
 * so no Buffer is made per record. Stock kafkajs would write such a record with a null key and value
 * and report success, so without the patch (proved by `kafkajsPatch`, not assumed) the key and value
 * are ordinary Buffers: views of the same shared buffer, still no copy. The message objects are
 * reused from batch to batch (one batch at a time, and kafkajs is done with them once sendBatch
 * settles).
 *
 * JavaScript (type-checked from its JSDoc): the sender thread loads it without a TypeScript loader.
 */
import { describeKafkajsPatch, kafkajsPatch } from '@custos/kafka/kafka-patch';

/**
 * @typedef {{ key: Buffer | null; value: Buffer | null; bytes: Buffer | null; keyStart: number; keyEnd: number; valueStart: number; valueEnd: number }} PooledMessage
 * @typedef {{ topic: string; messages: PooledMessage[] }} TopicMessages
 */

export class BatchMessages {
  /** @type {PooledMessage[]} */
  #pool = [];
  #used = 0;

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
        } else {
          r.key = buf.subarray(keyStart, keyEnd);
          r.value = buf.subarray(valueStart, valueEnd);
        }
      }
      return { topic, messages };
    });
    this.#used = used;
    return out;
  }

  /** Lets the batch's buffer go (the message objects stay for the next batch). */
  release() {
    const pool = this.#pool;
    for (let i = 0; i < this.#used; i++) {
      const r = /** @type {PooledMessage} */ (pool[i]);
      r.bytes = null;
      r.key = null;
      r.value = null;
    }
    this.#used = 0;
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
