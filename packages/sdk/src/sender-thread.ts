/**
 * The Kafka producer on a worker thread of its own (default when the client builds its Kafka client
 * from `brokers`). record() and the spool stay on the caller's thread; what moves is kafkajs' work
 * per batch — encoding the produce request, CRC-32C, socket writes, parsing the response — which is
 * most of the SDK's CPU after record() itself and would otherwise compete with the service's own
 * event loop. A batch crosses as its shared buffer (keys and values packed back to back) plus an
 * index: the thread reads the client's memory, nothing is copied.
 */
import { Worker } from 'node:worker_threads';
import type { LoggerLike } from './logger.js';
import type { BatchAttempts, PackedBatch, PackedTopic, Transport } from './transport.js';

/** What the worker needs to build its Kafka client and producer. */
export interface SenderInit {
  brokers: string[];
  clientId: string;
  /** forward kafkajs' log lines (warn and up) to the client's logger, as the inline producer does */
  logKafka: boolean;
  /** send ordinary messages even when the kafkajs patch's ranged messages are available */
  plainMessages?: boolean;
}

export type ToSender =
  | { t: 'connect'; id: number }
  | { t: 'disconnect'; id: number }
  | {
      t: 'send';
      id: number;
      /** the same for every attempt at one batch: the thread keeps which partitions Kafka acknowledged */
      batch: number;
      buf: SharedArrayBuffer;
      topics: PackedTopic[];
      acks: number;
      timeout: number;
    };

export interface SerializedError {
  name: string;
  message: string;
  retriable: boolean;
  code?: string;
  type?: string;
}

export type FromSender =
  | { t: 'done'; id: number; error?: SerializedError }
  | { t: 'log'; level: 'error' | 'warn' | 'info' | 'debug'; obj: Record<string, unknown>; msg: string };

/** An error the worker's producer raised, with its classification intact (`isRetriable` reads it). */
export class SenderError extends Error {
  readonly retriable: boolean;
  readonly code: string | undefined;
  readonly type: string | undefined;
  constructor(e: SerializedError) {
    super(e.message);
    this.name = e.name;
    this.retriable = e.retriable;
    this.code = e.code;
    this.type = e.type;
  }
}

/** How long close() waits for the thread's producer to disconnect before ending the thread. */
const DISCONNECT_TIMEOUT_MS = 5000;

export class ThreadSender implements Transport {
  private worker: Worker | undefined;
  private readonly pending = new Map<number, { resolve: () => void; reject: (err: Error) => void }>();
  private nextId = 1;
  private readonly limits: { maxYoungGenerationSizeMb: number; maxOldGenerationSizeMb: number };

  constructor(
    private readonly init: SenderInit,
    private readonly logger: LoggerLike,
    batchMaxBytes: number,
  ) {
    // The thread's heap is capped: left to V8's defaults it grew to ~60 MiB in the benchmark (its
    // young generation sized like the main thread's, its old one collecting late), which is RSS
    // the service pays for nothing. What lives there is kafkajs and one batch in flight (~1.5 bytes
    // of objects per byte of batch), so the old generation's cap grows with batchMaxBytes. Should
    // it still run out, the thread dies like any failed thread: the batch is retried on a new one.
    this.limits = {
      maxYoungGenerationSizeMb: 8,
      maxOldGenerationSizeMb: 32 + 8 * Math.ceil(batchMaxBytes / 2 ** 20),
    };
  }

  private spawn(): Worker {
    if (this.worker !== undefined) return this.worker;
    const w = new Worker(new URL('./sender-worker.mjs', import.meta.url), {
      workerData: this.init,
      execArgv: [],
      resourceLimits: this.limits,
    });
    w.on('message', (m: FromSender) => {
      if (m.t === 'log') {
        this.logger[m.level](m.obj, m.msg);
        return;
      }
      const p = this.pending.get(m.id);
      if (p === undefined) return;
      this.pending.delete(m.id);
      if (m.error !== undefined) p.reject(new SenderError(m.error));
      else p.resolve();
    });
    const fail = (err: Error) => {
      if (this.worker !== w) return;
      this.worker = undefined;
      // retriable: the client drops the producer and retries the batch on a fresh thread
      const e = new SenderError({
        name: 'SenderThreadError',
        message: `audit sender thread failed: ${err.message}`,
        retriable: true,
      });
      for (const p of this.pending.values()) p.reject(e);
      this.pending.clear();
    };
    w.on('error', fail);
    w.on('exit', (code) => fail(new Error(`exited with code ${code}`)));
    this.worker = w;
    return w;
  }

  private call(msg: ToSender): Promise<void> {
    const w = this.spawn();
    return new Promise((resolve, reject) => {
      this.pending.set(msg.id, { resolve, reject });
      w.postMessage(msg);
    });
  }

  async connect(): Promise<void> {
    await this.call({ t: 'connect', id: this.nextId++ });
  }

  async disconnect(): Promise<void> {
    const w = this.worker;
    if (w === undefined) return;
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        this.call({ t: 'disconnect', id: this.nextId++ }),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, DISCONNECT_TIMEOUT_MS);
        }),
      ]);
    } catch {
      // the thread failed: ending it is all that is left to do
    } finally {
      clearTimeout(timer);
      this.worker = undefined;
      await w.terminate();
    }
  }

  /** Sends a packed batch on the thread's producer; rejects with what kafkajs threw there. */
  send(batch: PackedBatch, acks: number, timeout: number, attempts: BatchAttempts): Promise<void> {
    // the thread keeps the acknowledged partitions of the batch it is sending (a Set does not cross threads)
    return this.call({
      t: 'send',
      id: this.nextId++,
      batch: attempts.batchNo,
      buf: batch.buf,
      topics: batch.topics,
      acks,
      timeout,
    });
  }
}
