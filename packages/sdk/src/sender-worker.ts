/**
 * The sender thread (see sender-thread.ts): one kafkajs producer, configured exactly as the client
 * configures its own (`producerConfig`), driven by the client over the thread's port.
 *
 * Loaded by Node's own type stripping, not tsx: a TypeScript loader in the thread would cost ~10 MiB
 * and start-up time. So this file and what it imports use only erasable syntax, and relative imports
 * name the `.ts` files; `@custos/kafka/client` is the one module of that package it needs.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { Producer } from '@custos/kafka';
import { createKafka } from '@custos/kafka/client';
import { createKeyPartitioner } from './partitioner.ts';
import { producerConfig } from './producer-config.ts';
import type { FromSender, SenderInit, SerializedError, ToSender } from './sender-thread.ts';

const port = parentPort;
if (port === null) throw new Error('sender-worker-main runs as a worker thread');
const init = workerData as SenderInit;
const post = (m: FromSender) => port.postMessage(m);

/** log fields as plain data (errors lose their prototype over the port) */
function plain(obj: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj))
    out[k] = v instanceof Error ? { name: v.name, message: v.message, stack: v.stack } : v;
  return out;
}
const log =
  (level: 'error' | 'warn' | 'info' | 'debug') =>
  (obj: Record<string, unknown>, msg?: string): void =>
    post({ t: 'log', level, obj: plain(obj), msg: msg ?? '' });
const logger = { error: log('error'), warn: log('warn'), info: log('info'), debug: log('debug') };

/**
 * A record whose key and value are ranges of the batch's shared buffer: the kafkajs patch's one-pass
 * writer copies them from there, and the SDK's partitioner hashes the key's range, so no Buffer is
 * made per record. The objects are reused from batch to batch (one batch at a time, and kafkajs is
 * done with them once sendBatch settles): the thread allocates almost nothing per event.
 */
interface RangedMessage {
  key: null;
  value: null;
  bytes: Buffer;
  keyStart: number;
  keyEnd: number;
  valueStart: number;
  valueEnd: number;
}
const EMPTY = Buffer.alloc(0);
const pool: RangedMessage[] = [];
const newMessage = (): RangedMessage => ({
  key: null,
  value: null,
  bytes: EMPTY,
  keyStart: 0,
  keyEnd: 0,
  valueStart: 0,
  valueEnd: 0,
});

const kafka = createKafka({
  brokers: init.brokers,
  clientId: init.clientId,
  // createKafka only calls the level methods (as the client's own LoggerLike cast does)
  logger: init.logKafka ? (logger as unknown as Parameters<typeof createKafka>[0]['logger']) : undefined,
});
let producer: Producer | undefined;

function serialize(err: unknown): SerializedError {
  const e = err instanceof Error ? err : new Error(String(err));
  const x = e as Error & { retriable?: unknown; code?: unknown; type?: unknown };
  return {
    name: e.name,
    message: e.message,
    retriable: typeof x.retriable === 'boolean' ? x.retriable : false,
    code: typeof x.code === 'string' ? x.code : undefined,
    type: typeof x.type === 'string' ? x.type : undefined,
  };
}

async function handle(m: ToSender): Promise<void> {
  try {
    if (m.t === 'connect') {
      producer ??= kafka.producer(producerConfig(createKeyPartitioner));
      await producer.connect();
      post({ t: 'done', id: m.id });
    } else if (m.t === 'disconnect') {
      const p = producer;
      producer = undefined;
      await p?.disconnect().catch(() => {});
      post({ t: 'done', id: m.id });
    } else {
      const buf = Buffer.from(m.buf);
      let used = 0;
      const topicMessages = m.topics.map(({ topic, index }) => {
        const n = index.length >> 2;
        const messages = new Array<RangedMessage>(n);
        for (let i = 0, j = 0; i < n; i++, j += 4) {
          if (used === pool.length) pool.push(newMessage());
          const r = pool[used++]!;
          messages[i] = r;
          r.bytes = buf;
          r.keyStart = index[j]!;
          r.keyEnd = index[j]! + index[j + 1]!;
          r.valueStart = index[j + 2]!;
          r.valueEnd = index[j + 2]! + index[j + 3]!;
        }
        return { topic, messages };
      });
      try {
        // a thread started after the previous one died has not been asked to connect
        if (producer === undefined) {
          producer = kafka.producer(producerConfig(createKeyPartitioner));
          await producer.connect();
        }
        await producer.sendBatch({ topicMessages, acks: m.acks, timeout: m.timeout });
        post({ t: 'done', id: m.id });
      } catch (err) {
        post({ t: 'done', id: m.id, error: serialize(err) });
      } finally {
        for (let i = 0; i < used; i++) pool[i]!.bytes = EMPTY; // let the shared buffer go
      }
    }
  } catch (err) {
    post({ t: 'done', id: m.id, error: serialize(err) });
  }
}

port.on('message', (m: ToSender) => void handle(m));
