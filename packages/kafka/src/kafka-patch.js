// @ts-check
/**
 * What the kafkajs this package resolves can do beyond stock kafkajs 2.2.4: the workspace applies
 * `patches/kafkajs@2.2.4.patch`, but a service that installs `@custos/sdk` or `@custos/kafka` with its
 * own package manager gets plain kafkajs from the registry. Every use of patched behaviour goes through
 * these probes, which test the behaviour itself (not a version string or a marker), so a missing or
 * partial patch is noticed when the process starts instead of sending wrong bytes.
 *
 * JavaScript (type-checked from its JSDoc), like kafka-client.js: the SDK's sender thread loads it.
 */
import { createRequire } from 'node:module';
import { connectionError, scriptedCluster } from './scripted-cluster.js';

// Resolved from this file, so these are the very modules `import 'kafkajs'` here loads.
const require = createRequire(import.meta.url);

/**
 * @typedef {object} KafkajsPatch
 * @property {string} version kafkajs' package version
 * @property {boolean} rangedMessages produce requests take messages given as ranges of a shared buffer
 *   (`bytes` + keyStart/keyEnd/valueStart/valueEnd, `key` and `value` null). Stock kafkajs writes such a
 *   message with a null key and a null value, without an error.
 * @property {boolean} releaseMessages `Batch#releaseMessages()` exists (lets a consumer drop a fetched
 *   batch's message objects early; only a memory saving)
 * @property {boolean} movedPartitions a send retried after a partition's leader moved to a broker that
 *   had already answered sends that partition there. Stock kafkajs skips every broker that answered
 *   and resolves the send without it: acknowledged messages that were never written (a killed
 *   leader on a cluster loses them).
 * @property {boolean} stableOffsets `admin.fetchOffsets({ requireStable: true })` asks with OffsetFetch v7's
 *   require_stable (waits while a transaction committing those offsets is pending). Stock kafkajs
 *   speaks v4 and answers with the offsets from before such a transaction.
 */

/** @type {Promise<KafkajsPatch> | undefined} */
let cached;

/**
 * Encodes a produce request holding one ranged message and looks for its value in the bytes. The
 * patch's one-pass writer runs when a headroom is asked for; stock kafkajs ignores the option.
 * @returns {Promise<boolean>}
 */
async function probeRangedMessages() {
  try {
    const produce = /** @type {(args: object) => { encode(opts?: { headroom?: number }): Promise<{ buf: Buffer }> }} */ (
      require('kafkajs/src/protocol/requests/produce/v3/request.js')
    );
    const { Types } = /** @type {{ Types: { None: number } }} */ (require('kafkajs/src/protocol/message/compression/index.js'));
    const Long = /** @type {{ fromInt(n: number): unknown }} */ (require('kafkajs/src/utils/long.js'));
    const key = Buffer.from('custos-key-probe');
    const value = Buffer.from('custos-value-probe');
    const bytes = Buffer.concat([key, value]);
    const message = {
      key: null,
      value: null,
      bytes,
      keyStart: 0,
      keyEnd: key.length,
      valueStart: key.length,
      valueEnd: bytes.length,
    };
    const request = produce({
      acks: -1,
      timeout: 1000,
      transactionalId: null,
      producerId: Long.fromInt(-1),
      producerEpoch: 0,
      compression: Types.None,
      topicData: [{ topic: 'probe', partitions: [{ partition: 0, firstSequence: 0, messages: [message] }] }],
    });
    const { buf } = await request.encode({ headroom: 0 });
    return buf.includes(key) && buf.includes(value);
  } catch {
    return false;
  }
}

/** @returns {boolean} */
function probeReleaseMessages() {
  try {
    const Batch = /** @type {{ prototype: { releaseMessages?: unknown } }} */ (require('kafkajs/src/consumer/batch.js'));
    return typeof Batch.prototype.releaseMessages === 'function';
  } catch {
    return false;
  }
}

/**
 * Runs kafkajs' own send loop against a scripted two-broker cluster (scripted-cluster.js): partition 0 on broker 1,
 * partition 1 on broker 2; broker 1 drops the connection and partition 0 moves to broker 2, which
 * had already taken partition 1. The patched loop sends partition 0 to broker 2.
 * @returns {Promise<boolean>}
 */
export async function probeMovedPartitions() {
  try {
    const leaders = new Map([
      [0, 1],
      [1, 2],
    ]);
    const cluster = scriptedCluster(leaders, (nodeId) => {
      if (nodeId === 1) {
        leaders.set(0, 2); // the broker is gone; its partition has a new leader
        throw connectionError('Connection error: the probe broker went away');
      }
    });
    await cluster.send({
      acks: -1,
      timeout: 1000,
      topicMessages: [{ topic: 'probe', messages: [{ value: 'a' }, { value: 'b' }] }],
    });
    const written = cluster.produced.map((p) => p.partition);
    return written.includes(0) && written.includes(1);
  } catch {
    return false;
  }
}

/**
 * Encodes an OffsetFetch request as a broker speaking v7 gets it, with requireStable, and looks for
 * the flag: the byte before the request's last (empty tagged fields).
 * @returns {Promise<boolean>}
 */
async function probeStableOffsets() {
  try {
    const offsetFetch =
      /** @type {{ versions: string[], protocol: (v: { version: number }) => (a: object) => { request: { encode(): Promise<{ buffer: Buffer }> } } }} */ (
        require('kafkajs/src/protocol/requests/offsetFetch/index.js')
      );
    if (!offsetFetch.versions.includes('7')) return false;
    const { request } = offsetFetch.protocol({ version: 7 })({
      groupId: 'g',
      topics: [{ topic: 't', partitions: [{ partition: 0 }] }],
      requireStable: true,
    });
    const { buffer } = await request.encode();
    return buffer.length >= 2 && buffer[buffer.length - 2] === 1 && buffer[buffer.length - 1] === 0;
  } catch {
    return false;
  }
}

/**
 * The patch's features as the resolved kafkajs has them (probed once per thread).
 * @returns {Promise<KafkajsPatch>}
 */
export function kafkajsPatch() {
  cached ??= (async () => {
    let version = 'unknown';
    try {
      version = /** @type {{ version: string }} */ (require('kafkajs/package.json')).version;
    } catch {
      // kafkajs without a readable package.json: the probes still decide
    }
    return {
      version,
      rangedMessages: await probeRangedMessages(),
      releaseMessages: probeReleaseMessages(),
      movedPartitions: await probeMovedPartitions(),
      stableOffsets: await probeStableOffsets(),
    };
  })();
  return cached;
}

/**
 * One line for a start-up log: which kafkajs this process uses and whether the patch is there.
 * @param {KafkajsPatch} p
 * @returns {string}
 */
export function describeKafkajsPatch(p) {
  if (p.rangedMessages && p.releaseMessages && p.movedPartitions && p.stableOffsets)
    return `kafkajs ${p.version} with the Custos patch`;
  if (!p.rangedMessages && !p.releaseMessages && !p.movedPartitions && !p.stableOffsets)
    return `kafkajs ${p.version} without the Custos patch (stock: a send retried after a leader moved can resolve without writing every partition)`;
  return `kafkajs ${p.version} with part of the Custos patch (ranged messages: ${p.rangedMessages}, releaseMessages: ${p.releaseMessages}, movedPartitions: ${p.movedPartitions}, stableOffsets: ${p.stableOffsets})`;
}

/**
 * Lets a fetched batch's message objects go before its handler returns, where the patch allows it
 * (`Batch#releaseMessages`); on stock kafkajs they stay until the handler returns, which costs memory,
 * not correctness.
 * @param {object} batch a kafkajs `Batch`
 */
export function releaseBatchMessages(batch) {
  const b = /** @type {{ releaseMessages?: () => void }} */ (batch);
  if (typeof b.releaseMessages === 'function') b.releaseMessages();
}
