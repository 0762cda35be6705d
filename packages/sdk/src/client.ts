/**
 * The audit client. `record()` validates and encodes on the caller's thread, appends the frame to the
 * spool (write-ahead, grouped writes + fsync in the background) and to an in-memory queue, and returns;
 * one background loop sends batches to Kafka in log order, from memory when it can and from the spool
 * when memory had to let go of events (bound reached, Kafka down) or when an earlier run left some.
 * Batches (batch.ts) go to a transport (transport.ts): a sender thread or a producer on this thread.
 * See the README for the guarantees and docs/sdk-notes.md for the reasoning.
 */

import { createLogger } from '@custos/config';
import {
  type AvroCodec,
  AvroCodec as Codec,
  createKafka,
  ensureTopics,
  isRetriable,
  type Kafka,
  producerStateLost,
} from '@custos/kafka';
import {
  accessEventAvro,
  MAX_ACCESS_EVENT_BYTES,
  subjectStateChangeAvro,
  topics as topicSpecs,
  ValidationError,
} from '@custos/schemas';
import { ASK_ZOD, accessKey, writeAccessEvent } from '@custos/schemas/avro';
import { Arena } from './arena.js';
import { type Batch, BatchPacker } from './batch.js';
import { FORMAT_VERSION, FRAME_HEADER, KIND_ACCESS, KIND_SUBJECT_STATE, type Kind, RECORD_HEADER } from './frame.js';
import type { LoggerLike } from './logger.js';
import type { AuditMetrics } from './metrics.js';
import { EventQueue } from './queue.js';
import { SchemaRegistration } from './registration.js';
import { ThreadSender } from './sender-thread.js';
import { SchemaStore, Spool, type SpoolOptions } from './spool.js';
import { makeStream, type Stream } from './stream.js';
import type { BatchAttempts, Transport } from './transport.js';
import { InlineTransport } from './transport-inline.js';
import { uuidv7, writeUuidv7 } from './uuid7.js';
import {
  type AccessEventInput,
  type SubjectStateInput,
  subjectStateKey,
  toAccessEventAvro,
  toSubjectStateAvro,
} from './validate.js';

export interface AuditClientOptions {
  brokers: string[];
  /** Confluent-compatible registry API, e.g. http://127.0.0.1:8081/apis/ccompat/v7 */
  schemaRegistryUrl: string;
  /** name of the emitting service: fills `source.service` when an event does not set it */
  service: string;
  /** Kafka client id; default `custos-sdk-<service>` */
  clientId?: string;
  /** prefix of the standard topic names (`<prefix>access-events`, `<prefix>subject-state`) */
  topicPrefix?: string;
  /** explicit topic names (registry subjects are `<topic>-value`) */
  topics?: { accessEvents?: string; subjectState?: string };
  /** create the two topics when missing (as schemas/topics.ts specifies them); default false */
  createTopics?: boolean;
  /**
   * The disk spool; default `{ dir: '.spool/<service>' }` (relative to the working directory).
   * `false` keeps events in memory only: then a crash or a Kafka outage longer than the memory bound
   * loses or blocks events — not for production.
   */
  spool?: SpoolOptions | false;
  /** bound on the bytes of events held in memory (queued + in flight); default 24 MiB */
  maxQueueBytes?: number;
  /**
   * Past `maxQueueBytes`: 'spool' (default) lets the oldest events go from memory (they are in the
   * spool and get replayed from there); 'block' makes record() return a promise that resolves when
   * memory is below the bound again. Without a spool, it is always 'block'.
   */
  onQueueFull?: 'spool' | 'block';
  /** largest batch (bytes of values) per send; default 512 KiB */
  batchMaxBytes?: number;
  /** how long a batch that is not full waits for more events; default 5 ms */
  lingerMs?: number;
  /** backoff between failed sends: exponential from initialMs to maxMs, with full jitter; default 100 ms … 5 s */
  retry?: { initialMs?: number; maxMs?: number };
  /** producer request timeout; default 30 s */
  requestTimeoutMs?: number;
  /** largest encoded event accepted by record() (Kafka's default message limit is 1 MiB); default 900 KiB */
  maxEventBytes?: number;
  /** how long close() tries to deliver before leaving the rest in the spool; default 10 s */
  closeTimeoutMs?: number;
  /** pino-compatible logger; default a pino logger named custos-sdk at level warn, on stderr */
  logger?: LoggerLike;
  /** a Kafka instance from `@custos/kafka`'s createKafka (else one is built from `brokers`) */
  kafka?: Kafka;
  /**
   * Run the Kafka producer on a worker thread of its own (sender-thread.ts): kafkajs' per-batch work
   * leaves the caller's event loop. Default true when the client builds its Kafka client from
   * `brokers`; not possible with a `kafka` instance (it cannot cross threads).
   */
  senderThread?: boolean;
  /** a registry codec (else `AvroCodec.connect(schemaRegistryUrl)`) */
  codec?: AvroCodec;
  /**
   * Each batch goes to kafkajs as ranges of one shared buffer when the kafkajs that sends it is the
   * one patched by Custos (proved at start-up by encoding a probe request, never assumed); with any
   * other kafkajs, and with a `kafka` instance of the caller's (its kafkajs is not the one probed),
   * as ordinary messages. 'off' sends ordinary messages in any case. Default 'auto'. The path taken
   * is logged at info when the producer first connects.
   */
  kafkaFastPath?: 'auto' | 'off';
}

export interface FlushResult {
  /** true when Kafka acknowledged every event recorded before the call */
  delivered: boolean;
  /** events not yet acknowledged (they are in the spool, fsync'ed, when a spool is configured) */
  unsent: number;
}

export interface AuditClient {
  /**
   * Validates, fills eventId/occurredAt/source.service, encodes and enqueues one access event. Throws
   * a ValidationError naming each bad field. Returns undefined, or — only with onQueueFull 'block'
   * while memory is over its bound — a promise to await before recording more.
   */
  record(event: AccessEventInput): void | Promise<void>;
  /** The same for a consent or data-subject-rights change (keyed by tenant + subject). */
  recordSubjectState(change: SubjectStateInput): void | Promise<void>;
  /**
   * Optional: waits until the schemas are registered and tries to connect the producer; Kafka being
   * unreachable is logged, not thrown (events are kept and delivered when it answers).
   */
  start(): Promise<void>;
  /** Delivers everything recorded so far, or after `timeoutMs` makes sure it is fsync'ed in the spool. */
  flush(timeoutMs?: number): Promise<FlushResult>;
  /** Stops accepting events, delivers (up to closeTimeoutMs) or spools everything, releases resources. */
  close(): Promise<FlushResult>;
  metrics(): AuditMetrics;
  /** topic names in use */
  readonly topics: { accessEvents: string; subjectState: string };
}

export class QueueFullError extends Error {
  readonly retriable = true;
  constructor(bytes: number, spoolError?: Error, spoolDir?: string) {
    super(
      spoolError === undefined
        ? `audit queue is full (${bytes} bytes held in memory and the spool cannot take more)`
        : `audit queue is full (${bytes} bytes held in memory): the spool ${spoolDir} cannot be written (${(spoolError as NodeJS.ErrnoException).code ?? spoolError.message})`,
    );
    this.name = 'QueueFullError';
  }
}

export class ClientClosedError extends Error {
  readonly retriable = false;
  constructor() {
    super('audit client is closed');
    this.name = 'ClientClosedError';
  }
}

const ENTRY_OVERHEAD = 64;
/** `key` as UTF-8 at b[at] (Buffer#write's bytes) and its length; a loop when it is short ASCII. */
function writeAsciiOr(b: Buffer, at: number, key: string): number {
  const n = key.length;
  if (n > 64 || at + n > b.length) return b.write(key, at, 'utf8');
  for (let i = 0; i < n; i++) {
    const c = key.charCodeAt(i);
    if (c >= 0x80) return b.write(key, at, 'utf8');
    b[at + i] = c;
  }
  return n;
}

/** enqueue's answer when the fused writer leaves the event to the zod path */
const ASK: unique symbol = Symbol('ask zod');

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

class Client implements AuditClient {
  readonly topics: { accessEvents: string; subjectState: string };
  private readonly service: string;
  private readonly logger: LoggerLike;
  private readonly kafka: Kafka;
  private readonly spool: Spool | undefined;
  private readonly schemas: SchemaRegistration;
  private readonly streams: Record<Kind, Stream>;
  private readonly maxQueueBytes: number;
  private readonly evict: boolean;
  private readonly batchMaxBytes: number;
  private readonly lingerMs: number;
  private readonly retryInitialMs: number;
  private readonly retryMaxMs: number;
  private readonly requestTimeoutMs: number;
  private readonly maxEventBytes: number;
  private readonly closeTimeoutMs: number;
  private readonly createTopics: boolean;

  /** where record() encodes frames */
  private readonly arena: Arena;
  // unsent events held in memory, oldest first
  private readonly queue = new EventQueue();
  private queuedBytes = 0;
  private inflightBytes = 0;
  private inflightEvents = 0;
  /** log end when there is no spool */
  private memLsn = 0;
  /** Kafka acknowledged everything below */
  private sentLsn = 0;
  private firstUnsentAt = 0;

  private readonly m = { recorded: 0, invalid: 0, sent: 0, spooled: 0, replayed: 0, failed: 0 };

  private closed = false;
  private stopping = false;
  private stopDeadline = Number.POSITIVE_INFINITY;
  private flushRequests = 0;
  private wake: (() => void) | undefined;
  private idle = false;
  private sentWaiters: { lsn: number; resolve: () => void }[] = [];
  private roomWaiters: (() => void)[] = [];
  /** the transport once connected */
  private producer: Transport | undefined;
  /** how batches reach Kafka: a sender thread, or a producer on this thread */
  private readonly transport: Transport;
  private readonly packer: BatchPacker;
  /** numbers the batches sent, so that a transport tells a retry from the next batch */
  private batchesSent = 0;
  private readonly registered: Promise<void>;
  private topicsReady: Promise<void> | undefined;
  private readonly loop: Promise<void>;
  private closing: Promise<FlushResult> | undefined;
  private lastSendError: string | undefined;

  constructor(opts: AuditClientOptions) {
    if (!opts.service) throw new TypeError('createAuditClient: `service` is required');
    this.service = opts.service;
    this.logger = opts.logger ?? createLogger('custos-sdk', 'warn');
    const std = topicSpecs({ prefix: opts.topicPrefix ?? '' });
    const accessTopic = opts.topics?.accessEvents ?? std.accessEvents.name;
    const stateTopic = opts.topics?.subjectState ?? std.subjectState.name;
    this.topics = { accessEvents: accessTopic, subjectState: stateTopic };
    const clientId = opts.clientId ?? `custos-sdk-${opts.service}`;
    if (opts.senderThread === true && opts.kafka !== undefined) {
      throw new TypeError('createAuditClient: `senderThread` needs `brokers`, not a `kafka` instance');
    }
    this.kafka =
      opts.kafka ??
      createKafka({
        brokers: opts.brokers,
        clientId,
        // createKafka only calls the level methods, which every LoggerLike has.
        logger: opts.logger as Parameters<typeof createKafka>[0]['logger'],
      });
    // 24 MiB: ~150 k events of memory before the spool takes over. 32 MiB cost up to ~40 MiB more
    // RSS at full speed once record() outran the broker; 16 MiB spilled bursts of the throughput
    // run into the spool (docs/decisions/sdk-default-queue-bound.md)
    this.maxQueueBytes = opts.maxQueueBytes ?? 24 * 1024 * 1024;
    this.arena = new Arena(this.maxQueueBytes);
    this.batchMaxBytes = opts.batchMaxBytes ?? 512 * 1024;
    this.transport =
      opts.kafka === undefined && opts.senderThread !== false
        ? new ThreadSender(
            {
              brokers: opts.brokers,
              clientId,
              logKafka: opts.logger !== undefined,
              plainMessages: opts.kafkaFastPath === 'off',
            },
            this.logger,
            this.batchMaxBytes,
          )
        : new InlineTransport(
            this.kafka,
            this.logger,
            opts.kafka !== undefined || opts.kafkaFastPath === 'off',
            this.batchMaxBytes,
          );
    this.lingerMs = opts.lingerMs ?? 5;
    this.retryInitialMs = opts.retry?.initialMs ?? 100;
    this.retryMaxMs = opts.retry?.maxMs ?? 5000;
    this.requestTimeoutMs = opts.requestTimeoutMs ?? 30_000;
    this.maxEventBytes = opts.maxEventBytes ?? MAX_ACCESS_EVENT_BYTES;
    this.closeTimeoutMs = opts.closeTimeoutMs ?? 10_000;
    this.createTopics = opts.createTopics ?? false;

    this.streams = {
      [KIND_ACCESS]: makeStream(KIND_ACCESS, accessTopic, accessEventAvro),
      [KIND_SUBJECT_STATE]: makeStream(KIND_SUBJECT_STATE, stateTopic, subjectStateChangeAvro),
    } as Record<Kind, Stream>;
    this.packer = new BatchPacker(this.streams, this.batchMaxBytes, (kind, fpHex) => this.schemas.schemaId(kind, fpHex));

    const spoolOpts = opts.spool === undefined ? { dir: `.spool/${opts.service}` } : opts.spool;
    let store: SchemaStore | undefined;
    if (spoolOpts !== false) {
      try {
        this.spool = new Spool(spoolOpts, this.logger);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === undefined) throw err;
        // e.g. ENOSPC writing the lock file: say which directory and why, as the running spool does
        throw Object.assign(
          new Error(`spool directory ${spoolOpts.dir} cannot be opened (${code}): ${(err as Error).message}`, { cause: err }),
          {
            code,
            retriable: code === 'ENOSPC' || code === 'EDQUOT',
          },
        );
      }
      try {
        store = new SchemaStore(spoolOpts.dir);
        for (const s of Object.values(this.streams)) store.saveSchema(s.fpHex, s.schema);
      } catch (err) {
        void this.spool.close();
        throw err;
      }
      this.sentLsn = this.spool.ackedLsn;
    }
    this.schemas = new SchemaRegistration(
      this.streams,
      opts.codec ?? Codec.connect(opts.schemaRegistryUrl),
      opts.schemaRegistryUrl,
      store,
      this.spool?.dir,
      this.logger,
    );
    this.evict = this.spool !== undefined && (opts.onQueueFull ?? 'spool') === 'spool';
    if (this.spool !== undefined) this.spool.onWritten = () => this.releaseRoom();
    this.registered = this.schemas.registerAll(
      (attempt) => this.backoff(attempt),
      () => this.stopping && Date.now() > this.stopDeadline,
    );
    this.loop = this.run().catch((err: unknown) => {
      this.logger.error({ err }, 'audit sender stopped unexpectedly');
    });
  }

  // ---------------------------------------------------------------- recording (caller's thread)

  record(event: AccessEventInput): void | Promise<void> {
    if (this.closed) throw new ClientClosedError();
    const now = Date.now();
    // Validated and written into the frame in one pass; anything unusual takes the zod path below.
    const key = accessKey(event);
    if (key !== undefined) {
      const r = this.enqueue(this.streams[KIND_ACCESS], key, event, now);
      if (r !== ASK) return r;
    }
    let v: ReturnType<typeof toAccessEventAvro>;
    try {
      v = toAccessEventAvro(event, this.service, now, uuidv7);
    } catch (err) {
      this.m.invalid++;
      throw err;
    }
    return this.enqueue(this.streams[KIND_ACCESS], v.actor.id, v);
  }

  recordSubjectState(change: SubjectStateInput): void | Promise<void> {
    if (this.closed) throw new ClientClosedError();
    let v: ReturnType<typeof toSubjectStateAvro>;
    try {
      v = toSubjectStateAvro(change, Date.now(), uuidv7);
    } catch (err) {
      this.m.invalid++;
      throw err;
    }
    return this.enqueue(this.streams[KIND_SUBJECT_STATE], subjectStateKey(v.tenantId, v.subjectId, v.change), v);
  }

  /**
   * Encodes the frame into the arena, appends it to the spool and the memory queue. With `now`,
   * `value` is an access event's input, validated while written (`writeAccessEvent`): ASK when it
   * cannot vouch for it, nothing enqueued.
   */
  private enqueue(s: Stream, key: string, value: unknown): void | Promise<void>;
  private enqueue(s: Stream, key: string, value: unknown, now: number): void | Promise<void> | typeof ASK;
  private enqueue(s: Stream, key: string, value: unknown, now?: number): void | Promise<void> | typeof ASK {
    if (this.queuedBytes > this.maxQueueBytes * 2 || this.unwrittenBytes() > this.maxQueueBytes * 2) {
      // the input is judged first, as on the zod path
      if (now !== undefined) return ASK;
      this.makeRoom();
    }
    const arena = this.arena;
    let chunk = arena.chunk;
    let off = arena.pos;
    let room = FRAME_HEADER + RECORD_HEADER + key.length * 3 + 5 + 256;
    let end: number;
    let keyLen: number;
    for (;;) {
      if (off + room > chunk.length) {
        chunk = this.nextChunk(room);
        off = 0;
      }
      const p = off + FRAME_HEADER;
      chunk[p] = FORMAT_VERSION;
      chunk[p + 1] = s.kind;
      // (8 bytes and a short key: byte loops cost less than Buffer#copy / #write's calls into C++)
      const fp = s.fingerprint;
      for (let i = 0; i < 8; i++) chunk[p + 2 + i] = fp[i]!;
      keyLen = writeAsciiOr(chunk, p + RECORD_HEADER, key);
      chunk.writeUInt32BE(keyLen, p + 10);
      const v = p + RECORD_HEADER + keyLen;
      chunk[v] = 0;
      chunk.writeUInt32BE(s.id, v + 1);
      if (now !== undefined) {
        end = writeAccessEvent(value, key, this.service, now, writeUuidv7, chunk, v + 5);
        if (end >= 0) break;
        // a fresh chunk too small: the zod path sizes the event exactly
        if (end === ASK_ZOD || off === 0) return ASK;
        off = chunk.length;
        continue;
      }
      end = s.encode(value, chunk, v + 5);
      if (end > 0) break;
      // not enough room in this chunk: `-end` bytes were missing
      room = chunk.length - off - end + 256;
      off = chunk.length;
    }
    const len = end - off;
    if (len > this.maxEventBytes) {
      this.m.invalid++;
      throw new ValidationError(s.kind === KIND_ACCESS ? 'access event' : 'subject-state change', [
        { path: '', message: `encoded size ${len} bytes exceeds maxEventBytes (${this.maxEventBytes})` },
      ]);
    }
    chunk.writeUInt32BE(len - FRAME_HEADER, off);
    arena.pos = end;
    let lsn: number;
    if (this.spool !== undefined) lsn = this.spool.append(chunk, off, len);
    else {
      lsn = this.memLsn;
      this.memLsn += len;
    }
    if (this.queue.size === 0) this.firstUnsentAt = Date.now();
    this.queue.push(s.kind, chunk, off, len, keyLen, s.id, lsn);
    this.queuedBytes += len + ENTRY_OVERHEAD;
    this.m.recorded++;
    if (this.wake !== undefined && (this.idle || this.queuedBytes - this.inflightBytes >= this.batchMaxBytes)) this.wake();
    if (this.queuedBytes > this.maxQueueBytes || this.unwrittenBytes() > this.maxQueueBytes) return this.overBound();
  }

  /**
   * Bytes recorded but not yet written to the spool: normally a few milliseconds' worth; while the
   * spool's disk refuses writes (full), every event since. They are held in memory (arena chunks)
   * and durable only once Kafka acknowledges them, so they count against the memory bound as queued
   * events do: past it, back-pressure.
   */
  private unwrittenBytes(): number {
    return this.spool !== undefined ? this.spool.unwrittenBytes : 0;
  }

  private hasRoom(): boolean {
    return this.queuedBytes <= this.maxQueueBytes && this.unwrittenBytes() <= this.maxQueueBytes;
  }

  /** Resolves the promises record() handed out past the bound, once there is room again. */
  private releaseRoom(): void {
    if (this.roomWaiters.length === 0 || !this.hasRoom()) return;
    const ws = this.roomWaiters;
    this.roomWaiters = [];
    for (const w of ws) w();
  }

  /** A chunk for the arena to continue in: chunks the spool and the queue are done with are reused. */
  private nextChunk(room: number): Buffer {
    const written = this.spool !== undefined ? this.spool.writtenLsn : Number.POSITIVE_INFINITY;
    const queued = this.queue.size > 0 ? this.queue.lsn(0) : Number.POSITIVE_INFINITY;
    return this.arena.next(room, this.logEnd(), Math.min(written, queued));
  }

  /** Past the bound: evict to the spool, or hand the caller a promise to wait on. */
  private overBound(): void | Promise<void> {
    // 'block', or events that cannot leave memory because the spool cannot write them
    if (!this.evict || this.unwrittenBytes() > this.maxQueueBytes) {
      return new Promise((resolve) => this.roomWaiters.push(resolve));
    }
    this.evictToSpool();
    if (this.queuedBytes > this.maxQueueBytes && this.spool!.writeNow()) this.evictToSpool();
  }

  /**
   * Lets the oldest unsent events go from memory, down to 3/4 of the bound; they are in the spool and
   * the sender reads them back from there, in order. Only events already written can go.
   */
  private evictToSpool(): void {
    const target = (this.maxQueueBytes * 3) / 4;
    const written = this.spool!.writtenLsn;
    const q = this.queue;
    let n = 0;
    let bytes = this.queuedBytes;
    while (bytes > target && n < q.size && q.lsn(n) + q.len(n) <= written) {
      bytes -= q.len(n) + ENTRY_OVERHEAD;
      n++;
    }
    q.shift(n);
    this.queuedBytes = bytes;
    this.m.spooled += n;
  }

  /**
   * Twice the bound: the spool cannot keep up (disk failing?) or the caller does not await the
   * promise record() returned. Refuse the event (before accepting any of it) rather than grow.
   */
  private makeRoom(): void {
    if (this.evict) {
      this.spool!.writeNow();
      this.evictToSpool();
    }
    if (this.queuedBytes > this.maxQueueBytes * 2 || this.unwrittenBytes() > this.maxQueueBytes * 2) {
      throw new QueueFullError(this.queuedBytes + this.unwrittenBytes(), this.spool?.lastWriteError, this.spool?.dir);
    }
  }

  // ---------------------------------------------------------------- retries

  private backoff(attempt: number): number {
    const cap = Math.min(this.retryMaxMs, this.retryInitialMs * 2 ** Math.min(attempt, 20));
    return cap / 2 + Math.random() * (cap / 2);
  }

  // ---------------------------------------------------------------- sending (background)

  private logEnd(): number {
    return this.spool !== undefined ? this.spool.endLsn : this.memLsn;
  }

  private hasUnsent(): boolean {
    return this.sentLsn < this.logEnd();
  }

  /** Waits until woken by record()/flush()/close() or `ms` passes. */
  private nap(ms?: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = ms === undefined ? undefined : setTimeout(done, ms);
      const self = this;
      function done() {
        if (timer !== undefined) clearTimeout(timer);
        self.wake = undefined;
        resolve();
      }
      this.wake = done;
    });
  }

  private async run(): Promise<void> {
    if (this.spool !== undefined) {
      await this.spool.recovered;
      if (this.spool.recoveredEvents > 0) {
        this.logger.info({ events: this.spool.recoveredEvents, dir: this.spool.dir }, 'replaying events left in the spool');
      }
    }
    for (;;) {
      if (!this.hasUnsent()) {
        if (this.stopping) return;
        this.idle = true;
        await this.nap();
        this.idle = false;
        continue;
      }
      if (this.stopping && Date.now() > this.stopDeadline) return;
      // Linger for a fuller batch unless someone is waiting for delivery.
      if (this.flushRequests === 0 && !this.stopping && this.queue.size > 0) {
        const waited = Date.now() - this.firstUnsentAt;
        if (
          this.queue.lsn(0) === this.sentLsn &&
          this.queuedBytes - this.inflightBytes < this.batchMaxBytes &&
          waited < this.lingerMs
        ) {
          await this.nap(this.lingerMs - waited);
          continue;
        }
      }
      if (this.streams[KIND_ACCESS].id === 0 || this.streams[KIND_SUBJECT_STATE].id === 0) {
        // Values are framed with the schema id when the batch is built: wait for the registry (or
        // for close() to give up on it; the events stay in the spool).
        await this.registered;
        if (this.streams[KIND_ACCESS].id === 0 || this.streams[KIND_SUBJECT_STATE].id === 0) return;
      }
      let batch: Batch | undefined;
      try {
        batch = await this.nextBatch();
      } catch (err) {
        // e.g. spool frames of a schema whose id the registry cannot give right now
        this.logger.warn({ err }, 'cannot prepare the next batch from the spool; retrying');
        await sleep(this.backoff(3));
        continue;
      }
      if (batch === undefined) {
        await sleep(5); // the spool has not written that far yet
        continue;
      }
      if (!(await this.send(batch))) return;
      this.acked(batch);
    }
  }

  private async nextBatch(): Promise<Batch | undefined> {
    const q = this.queue;
    if (q.size > 0 && q.lsn(0) === this.sentLsn) {
      const { packed, count, bytes } = this.packer.fromMemory(q);
      const { end, memBytes } = this.takeInflight(count, bytes);
      return { packed, count, memBytes, endLsn: end, fromDisk: false };
    }
    // The next events are only in the spool: evicted from memory, or left by an earlier run.
    const spool = this.spool!;
    const limit = q.size > 0 ? q.lsn(0) : spool.endLsn;
    const { packed, count, next } = await this.packer.fromSpool(spool, this.sentLsn, limit);
    if (packed === undefined) {
      if (next > this.sentLsn) {
        this.sentLsn = next; // skipped a gap or a corrupt segment rest
        spool.ack(next);
      }
      return undefined;
    }
    return { packed, count, memBytes: 0, endLsn: next, fromDisk: true };
  }

  /** The queue's first `n` events (`bytes` of frames) leave it for the batch in flight. */
  private takeInflight(n: number, bytes: number): { end: number; memBytes: number } {
    const q = this.queue;
    const end = q.lsn(n - 1) + q.len(n - 1);
    q.shift(n);
    const memBytes = bytes + n * ENTRY_OVERHEAD;
    if (q.size === 0) this.firstUnsentAt = Date.now();
    this.inflightBytes = memBytes;
    this.inflightEvents = n;
    return { end, memBytes };
  }

  private async connectedProducer(): Promise<Transport> {
    if (this.producer !== undefined) return this.producer;
    if (this.createTopics) {
      this.topicsReady ??= (async () => {
        const admin = this.kafka.admin();
        await admin.connect();
        try {
          const std = topicSpecs();
          await ensureTopics(admin, [
            { ...std.accessEvents, name: this.topics.accessEvents },
            { ...std.subjectState, name: this.topics.subjectState },
          ]);
        } finally {
          await admin.disconnect();
        }
      })().catch((err: unknown) => {
        this.topicsReady = undefined;
        throw err;
      });
      await this.topicsReady;
    }
    const producer = this.transport;
    await producer.connect();
    this.producer = producer;
    return producer;
  }

  private async dropProducer(): Promise<void> {
    const p = this.producer;
    this.producer = undefined;
    // A fresh producer gets a fresh producer id and sequence numbers.
    if (p !== undefined) await p.disconnect().catch(() => {});
  }

  /** Sends a batch until Kafka acknowledges it; false only when closing ran out of time. */
  private async send(batch: Batch): Promise<boolean> {
    // Parts and partitions Kafka acknowledged in a failed attempt (a leader election outlasting
    // kafkajs' retries) are not sent again by the next one: they would be appended twice.
    const attemptOf: BatchAttempts = { batchNo: ++this.batchesSent, parts: 0, acknowledged: new Set() };
    for (let attempt = 0; ; attempt++) {
      try {
        const producer = await this.connectedProducer();
        await producer.send(batch.packed, -1, this.requestTimeoutMs, attemptOf);
        if (this.lastSendError !== undefined) {
          this.logger.info({ after: attempt }, 'audit events are being delivered again');
          this.lastSendError = undefined;
        }
        return true;
      } catch (err) {
        this.m.failed += batch.count;
        const msg = err instanceof Error ? err.message : String(err);
        if (this.lastSendError !== msg || attempt % 20 === 0) {
          this.logger.warn(
            { err, attempt, events: batch.count, retriable: isRetriable(err) },
            'audit batch not delivered; retrying',
          );
        }
        this.lastSendError = msg;
        // The retry goes through the same producer: a batch the broker appended before its
        // acknowledgement was lost (a network cut) carries the same producer id and sequence numbers
        // and is recognised, not appended again. Only a producer whose sequence state Kafka no longer
        // accepts is replaced.
        if (producerStateLost(err)) await this.dropProducer();
        if (this.stopping && Date.now() >= this.stopDeadline) return false;
        const delay = isRetriable(err) ? this.backoff(attempt) : this.retryMaxMs;
        await sleep(Math.max(0, Math.min(delay, this.stopDeadline - Date.now())));
        if (this.stopping && Date.now() >= this.stopDeadline) return false;
      }
    }
  }

  private acked(batch: Batch): void {
    this.packer.release(batch.packed);
    this.sentLsn = batch.endLsn;
    this.spool?.ack(batch.endLsn);
    this.m.sent += batch.count;
    if (batch.fromDisk) this.m.replayed += batch.count;
    this.queuedBytes -= batch.memBytes;
    this.inflightBytes = 0;
    this.inflightEvents = 0;
    this.releaseRoom();
    if (this.sentWaiters.length > 0) {
      const ready = this.sentWaiters.filter((w) => w.lsn <= this.sentLsn);
      this.sentWaiters = this.sentWaiters.filter((w) => w.lsn > this.sentLsn);
      for (const w of ready) w.resolve();
    }
  }

  // ---------------------------------------------------------------- lifecycle

  async start(): Promise<void> {
    await this.registered;
    if (this.streams[KIND_ACCESS].id === 0) throw new Error('client closed before the schemas were registered');
    // Kafka being away is no reason to refuse: events wait in the spool (or memory) and the send
    // loop delivers them once a broker answers. Only the registry is needed to frame them.
    try {
      await this.connectedProducer();
    } catch (err) {
      await this.dropProducer();
      this.logger.warn(
        { err, retriable: isRetriable(err) },
        'Kafka unreachable at start; audit events are kept and delivered when it answers',
      );
    }
  }

  private unsent(): number {
    return (this.spool?.recoveredEvents ?? 0) + this.m.recorded - this.m.sent;
  }

  async flush(timeoutMs = this.closeTimeoutMs): Promise<FlushResult> {
    this.flushRequests++;
    this.wake?.();
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    try {
      // The log's end is known once the spool's recovery has cut off a torn tail (a crash in the
      // middle of a write): a target taken before could lie past the last frame, never reached.
      const recovered = this.spool?.recovered.then(
        () => true,
        () => true,
      );
      if (recovered !== undefined && !(await Promise.race([recovered, timedOut]))) {
        return { delivered: false, unsent: this.unsent() };
      }
      const target = this.logEnd();
      if (this.sentLsn >= target) return { delivered: true, unsent: this.unsent() };
      const delivered = await Promise.race([
        new Promise<boolean>((resolve) => this.sentWaiters.push({ lsn: target, resolve: () => resolve(true) })),
        timedOut,
      ]);
      if (!delivered && this.spool !== undefined) await this.spool.flush(true);
      return { delivered, unsent: this.unsent() };
    } finally {
      clearTimeout(timer);
      this.flushRequests--;
    }
  }

  close(): Promise<FlushResult> {
    this.closing ??= (async () => {
      this.closed = true;
      this.stopDeadline = Date.now() + this.closeTimeoutMs;
      this.stopping = true;
      this.wake?.();
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        this.loop,
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, this.closeTimeoutMs + 1000);
        }),
      ]);
      clearTimeout(timer);
      await this.dropProducer();
      const unsent = this.unsent();
      if (this.spool !== undefined) {
        await this.spool.close();
        if (unsent > 0) this.logger.warn({ unsent, dir: this.spool.dir }, 'audit events left in the spool for the next start');
      } else if (unsent > 0) {
        this.logger.error({ unsent }, 'audit events lost at close: Kafka unreachable and no spool configured');
      }
      for (const w of this.roomWaiters) w();
      this.roomWaiters = [];
      return { delivered: unsent === 0, unsent };
    })();
    return this.closing;
  }

  metrics(): AuditMetrics {
    const sp = this.spool;
    return {
      ...this.m,
      unsent: this.unsent(),
      queuedEvents: this.queue.size + this.inflightEvents,
      queuedBytes: this.queuedBytes,
      spoolBacklogBytes: sp?.backlogBytes ?? 0,
      spoolWritten: sp?.writtenEvents ?? 0,
      spoolSynced: sp?.syncedEvents ?? 0,
      spoolWriteErrors: sp?.writeErrors ?? 0,
      spoolWriteFailing: sp?.failing ? 1 : 0,
      spoolUnwrittenBytes: sp?.unwrittenBytes ?? 0,
    };
  }
}

/**
 * Creates a client and starts, in the background, schema registration, the producer and the replay
 * of anything an earlier run left in the spool. `record()` can be called at once.
 */
export function createAuditClient(opts: AuditClientOptions): AuditClient {
  return new Client(opts);
}
