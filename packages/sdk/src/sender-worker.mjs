// @ts-check
/**
 * The sender thread (see sender-thread.ts): one kafkajs producer, configured exactly as the client
 * configures its own (`producerConfig`), driven by the client over the thread's port.
 *
 * JavaScript (type-checked from its JSDoc), as is everything it loads: a TypeScript loader in the
 * thread — Node's own type stripping, or tsx — costs it ~13 MiB of RSS (measured: a worker with
 * kafkajs alone 26 MiB, with one stripped .ts module more 40 MiB).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { newKafka } from '@custos/kafka/kafka-client';
import { BatchMessages, rangedMessages, sendInParts, sendParts } from './batch-messages.js';
import { producerConfig } from './producer-config.js';

/**
 * @typedef {import('./sender-thread.js').FromSender} FromSender
 * @typedef {import('./sender-thread.js').ToSender} ToSender
 * @typedef {import('./sender-thread.js').SenderInit} SenderInit
 * @typedef {import('./sender-thread.js').SerializedError} SerializedError
 * @typedef {import('kafkajs').Producer} Producer
 */

const port = parentPort;
if (port === null) throw new Error('sender-worker runs as a worker thread');

// Stock kafkajs schedules a throttle check `throttledUntil − now` ms after every response, a negative
// delay when nothing was throttled, which Node ≥ 24 runs after 1 ms and reports as a
// TimeoutNegativeWarning on the host's stderr. Harmless, and not the host's to fix: this thread
// (which only runs kafkajs) drops that one warning. The workspace's patch schedules no such timer.
const emitWarning = process.emitWarning.bind(process);
process.emitWarning = /** @type {typeof process.emitWarning} */ (
  (/** @type {string | Error} */ warning, /** @type {any[]} */ ...rest) => {
    const type = typeof warning === 'string' ? (typeof rest[0] === 'string' ? rest[0] : rest[0]?.type) : warning.name;
    if (type === 'TimeoutNegativeWarning') return;
    emitWarning(warning, ...rest);
  }
);
const init = /** @type {SenderInit} */ (workerData);
/** @param {FromSender} m */
const post = (m) => port.postMessage(m);

/**
 * Log fields as plain data (errors lose their prototype over the port).
 * @param {object} obj
 * @returns {Record<string, unknown>}
 */
function plain(obj) {
  /** @type {Record<string, unknown>} */
  const out = {};
  for (const [k, v] of Object.entries(obj))
    out[k] = v instanceof Error ? { name: v.name, message: v.message, stack: v.stack } : v;
  return out;
}
/** @param {'error' | 'warn' | 'info' | 'debug'} level */
const log =
  (level) =>
  /** @param {object} obj @param {string} [msg] */
  (obj, msg) =>
    post({ t: 'log', level, obj: plain(obj), msg: msg ?? '' });
const logger = { error: log('error'), warn: log('warn'), info: log('info'), debug: log('debug') };

/** the batch's kafkajs messages, their objects reused from batch to batch (ordinary ones: views) */
const messages = new BatchMessages(0);
/** Whether records go as ranges: decided once per thread, before the first send. */
const ranged = rangedMessages(init.plainMessages === true, log('info'));

const kafka = newKafka({ brokers: init.brokers, clientId: init.clientId, logger: init.logKafka ? logger : undefined });
/** @type {Producer | undefined} */
let producer;

/**
 * @param {unknown} err
 * @returns {SerializedError}
 */
function serialize(err) {
  const e = err instanceof Error ? err : new Error(String(err));
  const x = /** @type {Error & { retriable?: unknown; code?: unknown; type?: unknown }} */ (e);
  return {
    name: e.name,
    message: e.message,
    retriable: typeof x.retriable === 'boolean' ? x.retriable : false,
    code: typeof x.code === 'string' ? x.code : undefined,
    type: protocolType(e),
  };
}

/**
 * The Kafka protocol error's type, also when kafkajs wrapped it (retries exhausted): the client
 * decides from it whether its producer's sequence state is lost (`producerStateLost`).
 * @param {unknown} err
 * @returns {string | undefined}
 */
function protocolType(err) {
  for (let e = err, depth = 0; e && typeof e === 'object' && depth < 8; depth++) {
    const x = /** @type {{ type?: unknown; cause?: unknown; originalError?: unknown }} */ (e);
    if (typeof x.type === 'string') return x.type;
    e = x.cause ?? x.originalError;
  }
  return undefined;
}

/** @returns {Promise<Producer>} */
async function connected() {
  if (producer === undefined) {
    // Kept only once connected: a producer whose connect failed (Kafka down at start) stays
    // "disconnected" in kafkajs and refuses every send; the next attempt makes a new one.
    const p = kafka.producer(producerConfig());
    try {
      await p.connect();
    } catch (err) {
      await p.disconnect().catch(() => {});
      throw err;
    }
    p.on(p.events.DISCONNECT, () => {
      if (producer === p) producer = undefined;
    });
    producer = p;
  }
  return producer;
}

/** The batch being sent (one at a time) and how far its attempts got. */
let progress = { batch: -1, parts: 0, acknowledged: /** @type {Set<string>} */ (new Set()) };

/** @param {ToSender} m */
async function handle(m) {
  try {
    if (m.t === 'connect') {
      await connected();
      post({ t: 'done', id: m.id });
    } else if (m.t === 'disconnect') {
      const p = producer;
      producer = undefined;
      await p?.disconnect().catch(() => {});
      post({ t: 'done', id: m.id });
    } else {
      const isRanged = await ranged;
      const parts = sendParts(messages.build(m, isRanged), isRanged);
      try {
        // a thread started after the previous one died has not been asked to connect
        const p = await connected();
        // Parts and partitions Kafka acknowledged in an earlier attempt at this batch are not sent
        // again (appended twice otherwise, under new sequence numbers): see the kafkajs patch's sendMessages.
        if (progress.batch !== m.batch) progress = { batch: m.batch, parts: 0, acknowledged: new Set() };
        await sendInParts(p, parts, m.acks, m.timeout, progress);
        post({ t: 'done', id: m.id });
      } catch (err) {
        post({ t: 'done', id: m.id, error: serialize(err) });
      } finally {
        // let the shared buffer go
        messages.release();
      }
    }
  } catch (err) {
    post({ t: 'done', id: m.id, error: serialize(err) });
  }
}

port.on('message', (/** @type {ToSender} */ m) => void handle(m));
