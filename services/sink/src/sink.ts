/**
 * The sink: decisions (read committed) → ClickHouse, chained per partition, exactly once.
 *
 * Per batch of one partition: decode (straight from Avro into the row's canonical bytes, see
 * decode.ts) → skip what the chain already holds (offset at or below its head) → chain (seq, hash)
 * → dead-letter what cannot be stored (undecodable, duplicate eventId) → insert → advance the chain
 * → commit the offsets. Offsets are committed only after the insert
 * succeeded. Batches come by size and time (the broker answers a fetch at SINK_MIN_BATCH_BYTES or
 * after SINK_MAX_BATCH_WAIT_MS) and are cut at maxBatchRows.
 *
 * ClickHouse unavailable (by error code: table missing, network, timeouts, too many parts…): the
 * consumer pauses, the insert is retried with backoff (the same rows, the same de-duplication
 * token), then consumption resumes. A record ClickHouse refuses (parse or type error) is found by
 * bisecting the batch and dead-lettered with the reason; the others are stored. An insert that runs
 * out of time (timeout codes) is stored in halves instead of retried whole, and later chunks are cut
 * smaller until inserts are fast again (see `storeCandidates`).
 *
 * Why this is exactly once and never forks a chain: the chain is a pure function of the partition's
 * records (see @custos/store chain.ts). After a crash between insert and commit, the batch comes
 * again; the sink recovers the chain head from ClickHouse (on the first batch after every
 * assignment) and skips every record at or below the head's offset. A fenced-out instance still
 * writing computes the same rows as its successor, so its writes are byte-identical copies.
 */
import type { KeyObject } from 'node:crypto';
import {
  type AvroCodec,
  type Consumer,
  DeadLetterEncoder,
  type EachBatchPayload,
  ensureTopics,
  isFatal,
  isRetriable,
  type Kafka,
  type KafkaMessage,
  type Producer,
  type RegisteredSchema,
  retryWhileUnavailable,
  whileTopicsPropagate,
} from '@custos/kafka';
import { decisionAvro, type Topics } from '@custos/schemas';
import {
  ChainIntegrityError,
  type ChainState,
  type Checkpoint,
  ContentArena,
  checkHead,
  checkSignature,
  classifyStoreError,
  clickhouseCode,
  commit,
  DEFAULT_SINK_BATCH_ROWS,
  encodeWitness,
  type HeadEntry,
  insertHead,
  insertPrepared,
  isTimeoutError,
  listCheckpoints,
  listHeads,
  type Prepared,
  payloadHash,
  prepare,
  recoverChain,
  releaseBody,
  type Store,
  signHead,
  type WitnessRecord,
  writeCheckpoint,
  writeWitnessFile,
} from '@custos/store';
import type { Logger } from 'pino';
import { DecisionDecoder, type DecodedRecord } from './decode.js';
import { keepAlive } from './heartbeat.js';
import { DEFAULT_JOINT_INSERT_WINDOW_MS, JointInserter, type JointTicket } from './joint-insert.js';
import { defaultSinkMetrics, type SinkMetrics } from './metrics.js';
import { SubjectStateHistory } from './subject-state-history.js';

/** partitions stored at once (see docs/decisions/sink-concurrency-heartbeats.md) */
export const DEFAULT_PARTITIONS_CONCURRENTLY = 6;
/** kafkajs' own default: a member silent this long is dropped from the group */
export const DEFAULT_SESSION_TIMEOUT_MS = 30_000;

/** bytes of dead letters per produce call: under the broker's default 1 MiB message limit */
const LETTER_CHUNK_BYTES = 900 * 1024;

export interface SinkOptions {
  kafka: Kafka;
  codec: AvroCodec;
  store: Store;
  topics: Topics;
  logger: Logger;
  groupId?: string | undefined;
  /** most rows per insert */
  maxBatchRows?: number | undefined;
  /** the broker answers a fetch when this many bytes are ready… */
  minBatchBytes?: number | undefined;
  /** …or after this long */
  maxBatchWaitMs?: number | undefined;
  maxBytesPerPartition?: number | undefined;
  /** partitions stored concurrently */
  partitionsConcurrently?: number | undefined;
  /**
   * The group coordinator drops this member after this long without a heartbeat. Heartbeats are
   * sent every tenth of it while batches are being stored, however long an insert takes.
   */
  sessionTimeoutMs?: number | undefined;
  /**
   * Batches of several partitions prepared together are stored by one insert (joint-insert.ts); a
   * prepared batch waits at most this long for the others. 0: every batch is inserted alone.
   */
  jointInsertWindowMs?: number | undefined;
  /** an eventId among the chain's last this-many entries is a duplicate */
  dedupWindow?: number | undefined;
  /**
   * An insert of more than this many rows that times out (a timeout code: the store is too slow for
   * its size) is stored in halves, and later chunks are cut at half its size; at or below it, a
   * timed-out insert is retried whole like any outage. Default 1000.
   */
  minSplitRows?: number | undefined;
  /**
   * A whole chunk inserted faster than this doubles the chunk size again (up to maxBatchRows).
   * Default 5000 ms: twice as many rows then still finish well inside the store's 30 s limit.
   */
  fastInsertMs?: number | undefined;
  /** first and largest wait between insert retries */
  retryMinMs?: number | undefined;
  retryMaxMs?: number | undefined;
  /** Ed25519 key signing checkpoints; without it chains are kept but not checkpointed (warned) */
  checkpointKey?: KeyObject | undefined;
  checkpointIntervalMs?: number | undefined;
  checkpointMaxRows?: number | undefined;
  /**
   * Public keys whose checkpoints count when a chain is recovered, besides the signing key's own:
   * after a key rotation the older key's checkpoints still anchor the chain.
   */
  trustedKeys?: readonly KeyObject[] | undefined;
  /**
   * Also write every checkpoint and head as a file into this directory (meant to be write-once
   * storage), besides the witness topic.
   */
  witnessDir?: string | undefined;
  metrics?: SinkMetrics | undefined;
  /**
   * Decode records straight from Avro into their canonical bytes (default); false takes the general
   * path (avsc → row → canonical) for every record — same rows, ~2× the JS per row (bench, A/B).
   */
  straightDecode?: boolean | undefined;
  /**
   * The sink cannot go on: the schema registry changed its mind about a schema id (a
   * RegistryChangedError). Consumption is paused, nothing more is committed. Default: log and stop.
   */
  onFatal?: ((err: unknown) => void) | undefined;
  /**
   * Also store the history of subject-state changes (subject-state-history.ts, consumer group
   * `<groupId>-subject-state`). Default on.
   */
  subjectStateHistory?: boolean | undefined;
  /** test seams: run after a batch was inserted, before its offsets are committed */
  hooks?: { afterInsert?: (partition: number, p: Prepared) => Promise<void> | void } | undefined;
}

export interface SinkStats {
  rows: number;
  batches: number;
  deadLetters: number;
  insertFailures: number;
  skipped: number;
  checkpoints: number;
  heads: number;
  /** checkpoints and heads written to the witness */
  witnessed: number;
  recoveries: number;
  /** generations of the consumer group this member joined (1 while it was never dropped or rebalanced) */
  joins: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type Decoded = DecodedRecord<KafkaMessage>;

/** The store refused a row's data (not an outage): bisect and dead-letter. */
class RecordRejected extends Error {
  constructor(override readonly cause: unknown) {
    super(cause instanceof Error ? cause.message : String(cause));
  }
}

/** The batch was abandoned (stopping, rebalance) while ClickHouse was unavailable. */
class Abandoned extends Error {
  readonly retriable = true;
}

/** The insert ran out of time (a timeout code) and is large enough to be split. */
class TooSlow extends Error {
  constructor(override readonly cause: unknown) {
    super(cause instanceof Error ? cause.message : String(cause));
  }
}

export class Sink {
  readonly stats: SinkStats = {
    rows: 0,
    batches: 0,
    deadLetters: 0,
    insertFailures: 0,
    skipped: 0,
    checkpoints: 0,
    heads: 0,
    witnessed: 0,
    recoveries: 0,
    joins: 0,
  };
  readonly metrics: SinkMetrics;
  private consumer?: Consumer;
  private producer?: Producer;
  /** the subject-state history, when on */
  history?: SubjectStateHistory;
  private schema?: RegisteredSchema;
  private decoder?: DecisionDecoder;
  private dlq?: DeadLetterEncoder;
  private stopping = false;
  private failed = false;
  private pausedByStore = false;
  private timer?: NodeJS.Timeout;
  /** chain state per partition, valid while this member owns the partition */
  private readonly chains = new Map<number, ChainState>();
  /** partitions whose stored chain failed verification: not extended until an operator looks */
  private readonly refused = new Set<number>();
  private readonly locks = new Map<number, Promise<unknown>>();
  /** the newest checkpoint of every chain this member knows of, for heads */
  private readonly latest = new Map<number, HeadEntry>();
  /** SHA-256 of the last head written */
  private prevHead = '';
  /** checkpoints made since the last head */
  private sinceHead = 0;
  private headLock: Promise<unknown> = Promise.resolve();
  /** witness records not yet acknowledged by the witness topic, oldest first */
  private readonly unwitnessed: WitnessRecord[] = [];
  private witnessFlush: Promise<void> = Promise.resolve();
  private witnessFiles = 0;
  /** how many of `unwitnessed` (from the front) are already in the witness directory */
  private inWitnessDir = 0;
  /** rows per chunk (insert) now: maxBatchRows, less after inserts that ran out of time */
  private cap: number;
  /** when the batch in hand of each partition reached the sink (epoch ms), for the 'rows stored' line */
  private readonly receivedAt = new Map<number, number>();

  /** joins the inserts of partitions prepared together (unset: each batch alone) */
  private readonly joiner: JointInserter | undefined;

  constructor(private readonly opts: SinkOptions) {
    this.metrics = opts.metrics ?? defaultSinkMetrics();
    this.cap = this.maxRows;
    this.metrics.insertCap.set(this.cap);
    const windowMs = opts.jointInsertWindowMs ?? DEFAULT_JOINT_INSERT_WINDOW_MS;
    if (windowMs > 0) {
      this.joiner = new JointInserter(opts.store, {
        windowMs,
        maxRows: () => this.cap,
        onFailure: (err, members) => opts.logger.debug({ err, members }, 'joint insert failed: each batch is stored alone'),
      });
    }
  }

  /** inserts that held the batches of several partitions, and the batches they held */
  get jointInserts(): { inserts: number; members: number; failures: number } {
    return this.joiner?.stats ?? { inserts: 0, members: 0, failures: 0 };
  }

  private get maxRows(): number {
    return this.opts.maxBatchRows ?? DEFAULT_SINK_BATCH_ROWS;
  }

  /** the most rows the next insert may hold (maxBatchRows unless the store was too slow) */
  get insertCap(): number {
    return this.cap;
  }

  get groupId(): string {
    return this.opts.groupId ?? 'custos-sink';
  }

  private get sessionTimeoutMs(): number {
    return this.opts.sessionTimeoutMs ?? DEFAULT_SESSION_TIMEOUT_MS;
  }

  private get heartbeatIntervalMs(): number {
    return Math.max(100, Math.floor(this.sessionTimeoutMs / 10));
  }

  private get window(): number {
    return this.opts.dedupWindow ?? 100_000;
  }

  async start(): Promise<void> {
    const { kafka, codec, topics, logger } = this.opts;
    const admin = kafka.admin();
    await admin.connect();
    try {
      await ensureTopics(admin, [topics.decisions, topics.decisionsDlq, topics.witness]);
    } finally {
      await admin.disconnect();
    }
    // A start during a registry outage (its restart) waits for it instead of failing the process.
    const stopping = () => this.stopping;
    this.schema = await retryWhileUnavailable(
      'registering the decision schema',
      () => codec.register(topics.decisions.subject, decisionAvro),
      this.opts.logger,
      stopping,
    );
    this.decoder = new DecisionDecoder(codec, this.schema, { straight: this.opts.straightDecode ?? true });
    this.dlq = await retryWhileUnavailable(
      'registering the dead-letter schema',
      () => DeadLetterEncoder.create(codec, topics.decisionsDlq.subject, 'sink'),
      this.opts.logger,
      stopping,
    );
    this.producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await this.producer.connect();
    if (!this.opts.checkpointKey) {
      logger.warn(
        'no checkpoint key: decisions are chained but no signed checkpoints are written (configure CHECKPOINT_PRIVATE_KEY)',
      );
    } else {
      // Seeds heads with every chain's newest checkpoint; without it (ClickHouse down) heads list
      // only the chains this member checkpoints from now on.
      await this.loadLatest(this.opts.checkpointKey).catch((err: unknown) =>
        logger.warn({ err }, 'reading the newest checkpoints failed: heads list only chains checkpointed from now on'),
      );
    }
    const consumer = kafka.consumer({
      groupId: this.groupId,
      readUncommitted: false,
      minBytes: this.opts.minBatchBytes ?? 1_048_576,
      maxWaitTimeInMs: this.opts.maxBatchWaitMs ?? 500,
      maxBytesPerPartition: this.opts.maxBytesPerPartition ?? 48 * 1024 * 1024,
      maxBytes: 64 * 1024 * 1024,
      sessionTimeout: this.sessionTimeoutMs,
      heartbeatInterval: this.heartbeatIntervalMs,
    });
    this.consumer = consumer;
    await consumer.connect();
    // A new generation may have moved partitions: every chain is recovered from ClickHouse again.
    consumer.on(consumer.events.GROUP_JOIN, () => {
      this.stats.joins += 1;
      this.metrics.groupJoins.inc();
      this.chains.clear();
    });
    // A crash kafkajs does not restart would leave the process up with nothing consuming.
    consumer.on(consumer.events.CRASH, (e) => {
      if (e.payload.restart) this.opts.logger.warn({ err: e.payload.error }, 'consumer crashed; kafkajs restarts it');
      else this.fatal(e.payload.error);
    });
    await whileTopicsPropagate(() => consumer.subscribe({ topic: topics.decisions.name, fromBeginning: true }));
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: this.opts.partitionsConcurrently ?? DEFAULT_PARTITIONS_CONCURRENTLY,
      eachBatch: (p) => this.onBatch(p),
    });
    if (this.opts.subjectStateHistory !== false) {
      this.history = new SubjectStateHistory({
        kafka,
        codec,
        store: this.opts.store,
        topics,
        logger,
        groupId: `${this.groupId}-subject-state`,
        retryMinMs: this.opts.retryMinMs,
        retryMaxMs: this.opts.retryMaxMs,
        onFatal: (err) => this.fatal(err),
      });
      await this.history.start();
    }
    const interval = this.opts.checkpointIntervalMs ?? 60_000;
    this.timer = setInterval(() => void this.checkpointDue(), Math.max(100, Math.floor(interval / 4)));
    this.timer.unref();
  }

  /** Serializes work on one partition's chain (batches vs the checkpoint timer). */
  private lock<T>(partition: number, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(partition) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    this.locks.set(
      partition,
      next.catch(() => undefined),
    );
    return next;
  }

  private async onBatch(payload: EachBatchPayload): Promise<void> {
    const partition = payload.batch.partition;
    // Registered before anything is awaited: kafkajs hands a fetch's batches to its workers in one
    // go, so every batch being stored at once is known before the first one is ready to insert.
    const ticket = payload.batch.messages.length > 0 ? this.joiner?.enter() : undefined;
    // Heartbeats go on while this batch waits (its lock, the joint insert, a slow store).
    const kept = keepAlive(payload, this.heartbeatIntervalMs);
    try {
      await this.lock(partition, () => this.processBatch(kept.payload, ticket));
    } catch (err) {
      // Whatever was in flight may or may not have been stored: recover from ClickHouse next time.
      this.chains.delete(partition);
      if (err instanceof ChainIntegrityError) return; // partition refused (logged); nothing committed
      if (isFatal(err)) {
        // Nothing of the batch was committed or dead-lettered; stop before any other is.
        this.consumer?.pause([{ topic: this.opts.topics.decisions.name }]);
        this.fatal(err);
        return;
      }
      throw err;
    } finally {
      kept.stop();
    }
  }

  private alive(p: EachBatchPayload): boolean {
    return !this.stopping && p.isRunning() && !p.isStale();
  }

  private async processBatch(payload: EachBatchPayload, ticket?: JointTicket): Promise<void> {
    try {
      await this.storeBatch(payload, ticket);
    } finally {
      ticket?.leave();
    }
  }

  private async storeBatch(payload: EachBatchPayload, ticket?: JointTicket): Promise<void> {
    const { batch, resolveOffset, heartbeat } = payload;
    const { logger } = this.opts;
    const partition = batch.partition;
    if (batch.messages.length === 0) return;
    if (this.refused.has(partition)) {
      // Do not build on a chain that failed verification; keep the records on Kafka.
      payload.pause();
      return;
    }
    this.receivedAt.set(partition, Date.now());
    const state = await this.chainFor(partition, payload);
    if (!state) return;
    const messages = batch.messages;
    const decoder = this.decoder!;
    // The cap is read per chunk: a timed-out insert lowers it for the rest of this batch too.
    for (let start = 0; start < messages.length && this.alive(payload); ) {
      const chunk = messages.slice(start, start + this.cap);
      start += chunk.length;
      const lastOffset = (chunk[chunk.length - 1] as KafkaMessage).offset;
      const decoded: Decoded[] = [];
      const letters: ReturnType<DeadLetterEncoder['message']>[] = [];
      let redelivered = 0;
      // This chunk's decoded bytes: recycled once it is stored (or abandoned), not left to the GC.
      const arena = ContentArena.recycled();
      try {
        for (const m of chunk) {
          if (BigInt(m.offset) <= state.offset) {
            redelivered += 1;
            continue;
          }
          try {
            const d = decoder.decode(m, partition, arena);
            decoded.push(d instanceof Promise ? await d : d);
          } catch (err) {
            // the registry, not the record: the batch comes again (retriable) or the sink stops (fatal)
            if (isRetriable(err) || isFatal(err)) throw err;
            letters.push(this.letter(batch.topic, partition, m, 'decode', err));
          }
        }
        if (redelivered > 0) {
          this.stats.skipped += redelivered;
          this.metrics.skipped.inc({ reason: 'redelivered' }, redelivered);
          logger.info({ partition, redelivered, head: state.seq }, 'skipped records already stored (re-delivery)');
        }
        if (letters.length > 0) await this.sendLetters(letters, 'decode');
        // The batch's first insert joins the other partitions'; later chunks are stored alone.
        await this.storeCandidates(state, decoded, payload, new Set(), true, ticket);
      } finally {
        // Only prepare() reads these bytes (into the body), and nothing keeps the candidates: the
        // chain's state holds ids and hashes as strings.
        arena.release();
      }
      // Offsets after everything up to lastOffset is stored or dead-lettered.
      await this.consumer!.commitOffsets([{ topic: batch.topic, partition, offset: (BigInt(lastOffset) + 1n).toString() }]);
      resolveOffset(lastOffset);
      this.stats.batches += 1;
      this.metrics.consumerLag.set(
        { partition: String(partition) },
        Math.max(0, Number(BigInt(batch.highWatermark) - BigInt(lastOffset) - 1n)),
      );
      await this.maybeCheckpoint(state, false);
      await heartbeat();
    }
  }

  /** The partition's chain: in memory, or recovered from ClickHouse (retrying while it is down). */
  private async chainFor(partition: number, payload: EachBatchPayload): Promise<ChainState | undefined> {
    const known = this.chains.get(partition);
    if (known) return known;
    const state = await this.retrying(payload, 'recovering chain', async () => {
      try {
        return await recoverChain(this.opts.store, partition, {
          window: this.window,
          ...(this.opts.checkpointKey ? { trusted: this.trusted(this.opts.checkpointKey) } : {}),
        });
      } catch (err) {
        if (err instanceof ChainIntegrityError) {
          this.refused.add(partition);
          this.metrics.chainIntegrityFailures.inc({ chain: String(partition) });
          this.opts.logger.error(
            { err, partition },
            'stored chain failed verification: not extending it; records stay on Kafka (run `custos verify`)',
          );
        }
        throw err;
      }
    });
    this.chains.set(partition, state);
    // Witnessed before anything is stored: this chain is open again (a graceful stop closed it).
    await this.writeHead([]);
    this.stats.recoveries += 1;
    this.metrics.chainSeq.set({ chain: String(partition) }, state.seq);
    this.opts.logger.info({ partition, seq: state.seq, offset: state.offset.toString() }, 'chain recovered');
    return state;
  }

  /**
   * Chains and stores `cands`; on a record-level refusal, halves the batch until the refused rows are
   * found and dead-letters them. Each half is chained from the head the previous half left, so the
   * stored chain is exactly the good records in offset order.
   *
   * An insert of more than minSplitRows that runs out of time is not retried whole (a store too slow
   * for its size fails it again, until the consumer loses its group membership): it is stored in
   * halves the same way, and the cap for later chunks drops to half its size (`whole`: a chunk as
   * processBatch cut it, whose fast insert lets the cap grow back).
   *
   * Why a split cannot store a row twice or fork the chain, although a timed-out insert into a
   * ClickHouse server may have been committed after all (chDB's is not: nothing of it is stored):
   * `prepare` is a pure function of the chain state and the candidates. The halves start from the
   * same state, so they carry the very same rows (seq, hash, bytes) as the timed-out insert — a
   * duplicate eventId is found in the same place, as the second half's state holds the first half's
   * ids. Their de-duplication tokens differ (the token names the seq range), so ClickHouse stores
   * them again if the first insert did land: byte-identical copies of the same entries, which merges
   * collapse and readers and `verify` treat as one, as for a batch a fenced-out sink wrote twice.
   * No other content can ever take those seqs.
   */
  private async storeCandidates(
    state: ChainState,
    cands: Decoded[],
    payload: EachBatchPayload,
    lettered: Set<string>,
    whole = false,
    joint?: JointTicket,
  ): Promise<void> {
    if (cands.length === 0) return;
    const p = prepare(state, cands);
    // Nothing to insert: the batches waiting for this one need not wait any longer.
    if (p.rows.length === 0) joint?.leave();
    const dups = p.skipped.filter((s) => s.reason === 'duplicate' && !lettered.has(s.offset));
    if (dups.length > 0) {
      const byOffset = new Map(cands.map((c) => [c.offset, c]));
      const letters = dups.map((d) => {
        lettered.add(d.offset);
        const c = byOffset.get(d.offset) as Decoded;
        return this.letter(
          payload.batch.topic,
          state.chain,
          c.message,
          'dedup',
          new Error(`duplicate eventId ${d.eventId}: already stored at seq ${d.duplicateOf} of chain ${state.chain}`),
        );
      });
      await this.sendLetters(letters, 'dedup');
      this.metrics.skipped.inc({ reason: 'duplicate' }, dups.length);
      this.stats.skipped += dups.length;
    }
    if (p.rows.length > 0) {
      const insertAt = Date.now();
      const t0 = performance.now();
      let ticket = joint;
      const refused = await this.retrying(payload, 'inserting', async () => {
        try {
          // First with the other partitions' batches; alone when that failed, and on every retry.
          const t = ticket;
          ticket = undefined;
          if (!(t && (await t.insert(p)))) await insertPrepared(this.opts.store, p);
          return undefined;
        } catch (err) {
          if (classifyStoreError(err) === 'record') return new RecordRejected(err);
          if (isTimeoutError(err) && p.rows.length > this.minSplit) return new TooSlow(err);
          throw err;
        }
      });
      if (refused instanceof TooSlow) {
        this.stats.insertFailures += 1;
        this.metrics.insertFailures.inc({ kind: 'timeout' });
        this.shrink(p.rows.length, state.chain, refused.cause);
        if (!this.alive(payload)) throw new Abandoned('inserting: abandoned after a timeout', { cause: refused.cause });
        const mid = Math.ceil(cands.length / 2);
        await this.storeCandidates(state, cands.slice(0, mid), payload, lettered);
        await payload.heartbeat();
        await this.storeCandidates(state, cands.slice(mid), payload, lettered);
        return;
      }
      if (refused) {
        this.stats.insertFailures += 1;
        this.metrics.insertFailures.inc({ kind: 'record' });
        const fresh = cands.filter((c) => BigInt(c.offset) > state.offset);
        if (p.rows.length === 1) {
          const bad = cands.find((c) => c.offset === p.rows[0]?.kafka_offset) as Decoded;
          await this.sendLetters([this.letter(payload.batch.topic, state.chain, bad.message, 'store', refused.cause)], 'store');
          // Everything before it in this batch was a duplicate (lettered) or is stored.
          commit(state, { ...p, rows: [], leaves: [], lastSeq: state.seq, lastHash: state.hash });
          return;
        }
        const mid = Math.ceil(fresh.length / 2);
        await this.storeCandidates(state, fresh.slice(0, mid), payload, lettered);
        await this.storeCandidates(state, fresh.slice(mid), payload, lettered);
        return;
      }
      const seconds = (performance.now() - t0) / 1000;
      // When these rows became queryable (the insert returned), and where their time went in the
      // sink: the load harness (bench/load.ts) reads these lines for its end-to-end figures.
      this.opts.logger.debug(
        {
          chain: state.chain,
          firstSeq: p.firstSeq,
          lastSeq: p.lastSeq,
          rows: p.rows.length,
          receivedAt: this.receivedAt.get(state.chain) ?? insertAt,
          insertAt,
          storedAt: Date.now(),
        },
        'rows stored',
      );
      this.metrics.insertSeconds.observe(seconds);
      this.metrics.batchRows.observe(p.rows.length);
      if (whole) this.maybeGrow(p.rows.length, seconds);
      await this.opts.hooks?.afterInsert?.(state.chain, p);
    }
    commit(state, p);
    // The insert has settled and the hook has returned: nothing reads the body again.
    releaseBody(p);
    this.stats.rows += p.rows.length;
    this.metrics.rows.inc(p.rows.length);
    this.metrics.chainSeq.set({ chain: String(state.chain) }, state.seq);
    const now = Date.now();
    const stored = new Set(p.rows.map((r) => r.kafka_offset));
    for (const c of cands) {
      if (!stored.has(c.offset)) continue;
      this.metrics.endToEnd.observe({ from: 'occurred' }, (now - c.occurredMs) / 1000);
      this.metrics.endToEnd.observe({ from: 'decided' }, (now - c.decidedMs) / 1000);
    }
  }

  private get minSplit(): number {
    return this.opts.minSplitRows ?? 1000;
  }

  /** An insert of `rows` ran out of time: later chunks hold at most half of it. */
  private shrink(rows: number, chain: number, err: unknown): void {
    const to = Math.max(Math.min(this.minSplit, this.maxRows), Math.min(this.cap, Math.ceil(rows / 2)));
    if (to < this.cap) {
      this.opts.logger.warn(
        { chain, rows, from: this.cap, to, code: clickhouseCode(err) },
        'insert ran out of time: storing it in halves, smaller inserts from now on',
      );
      this.cap = to;
      this.metrics.insertCap.set(to);
    }
  }

  /** A chunk of about the cap's size stored fast: twice as many rows fit in the store's time limit. */
  private maybeGrow(rows: number, seconds: number): void {
    if (this.cap >= this.maxRows || rows * 2 < this.cap || seconds * 1000 >= (this.opts.fastInsertMs ?? 5000)) return;
    const from = this.cap;
    this.cap = Math.min(this.maxRows, this.cap * 2);
    this.metrics.insertCap.set(this.cap);
    this.opts.logger.info({ rows, seconds, from, to: this.cap }, 'inserts are fast again: larger inserts');
  }

  /**
   * Runs `fn` until it succeeds; while it fails with a retriable error, pauses consumption and waits
   * with backoff. Gives up (throwing) only when the sink stops or the partition is taken away.
   */
  private async retrying<T>(payload: EachBatchPayload, what: string, fn: () => Promise<T>): Promise<T> {
    let wait = this.opts.retryMinMs ?? 200;
    for (;;) {
      try {
        const out = await fn();
        this.resumeIfPaused();
        return out;
      } catch (err) {
        if (err instanceof ChainIntegrityError) throw err;
        this.stats.insertFailures += 1;
        this.metrics.insertFailures.inc({ kind: 'retriable' });
        if (!this.alive(payload)) throw new Abandoned(`${what}: abandoned while ClickHouse is unavailable`, { cause: err });
        this.pauseForStore();
        this.opts.logger.warn(
          { err, waitMs: wait, partition: payload.batch.partition },
          `ClickHouse unavailable while ${what}; retrying`,
        );
        await sleep(wait * (0.5 + Math.random()));
        await payload.heartbeat();
        wait = Math.min(wait * 2, this.opts.retryMaxMs ?? 10_000);
      }
    }
  }

  /** true while consumption is paused because ClickHouse refuses writes (readiness reports it) */
  get storeUnavailable(): boolean {
    return this.pausedByStore;
  }

  private pauseForStore(): void {
    if (this.pausedByStore || !this.consumer) return;
    this.pausedByStore = true;
    this.consumer.pause([{ topic: this.opts.topics.decisions.name }]);
    this.metrics.paused.set(1);
  }

  private resumeIfPaused(): void {
    if (!this.pausedByStore || !this.consumer) return;
    this.pausedByStore = false;
    this.consumer.resume([{ topic: this.opts.topics.decisions.name }]);
    this.metrics.paused.set(0);
    this.opts.logger.info('ClickHouse is back: consumption resumed');
  }

  private letter(topic: string, partition: number, m: KafkaMessage, step: string, err: unknown) {
    return this.dlq!.message({ topic, partition, offset: m.offset, key: m.key, value: m.value, headers: m.headers }, step, err);
  }

  private async sendLetters(letters: ReturnType<DeadLetterEncoder['message']>[], step: string): Promise<void> {
    // A letter holds its record: many in one produce call would exceed the broker's message limit.
    for (let from = 0; from < letters.length; ) {
      let to = from;
      let bytes = 0;
      while (to < letters.length && (to === from || bytes + (letters[to]!.value as Buffer).length + 256 <= LETTER_CHUNK_BYTES)) {
        bytes += (letters[to]!.value as Buffer).length + 256;
        to++;
      }
      await this.producer!.send({ topic: this.opts.topics.decisionsDlq.name, messages: letters.slice(from, to), acks: -1 });
      from = to;
    }
    this.stats.deadLetters += letters.length;
    this.metrics.deadLetters.inc({ step }, letters.length);
  }

  private async maybeCheckpoint(state: ChainState, force: boolean): Promise<void> {
    const key = this.opts.checkpointKey;
    if (!key || state.seq === state.segment.prevSeq) return;
    const due =
      force ||
      state.segment.rows >= (this.opts.checkpointMaxRows ?? 100_000) ||
      Date.now() - state.segment.since >= (this.opts.checkpointIntervalMs ?? 60_000);
    if (!due) return;
    try {
      const cp = await writeCheckpoint(this.opts.store, state, this.opts.topics.decisions.name, key);
      if (cp) {
        this.stats.checkpoints += 1;
        this.metrics.checkpoints.inc();
        this.noteCheckpoint(cp);
        this.sinceHead += 1;
        await this.witness({ type: 'checkpoint', payload: cp.payload, signature: cp.signature });
        this.opts.logger.debug({ chain: state.chain, seq: cp.fields.lastSeq }, 'checkpoint signed');
      }
    } catch (err) {
      // Not fatal: the next checkpoint covers these rows too.
      this.opts.logger.warn({ err, chain: state.chain }, 'writing a checkpoint failed; will retry');
    }
  }

  /** Checkpoints chains that stopped growing before their interval ran out; then a head if any were made. */
  private async checkpointDue(): Promise<void> {
    for (const [partition, state] of this.chains) {
      await this.lock(partition, async () => {
        if (this.chains.get(partition) === state) await this.maybeCheckpoint(state, false);
      });
    }
    if (this.sinceHead > 0) await this.writeHead([]);
    else if (this.unwitnessed.length > 0) await this.flushWitness();
  }

  /** The newest genuine checkpoint of every chain and the newest head, from the store (start-up). */
  private trusted(key: KeyObject): KeyObject[] {
    return [key, ...(this.opts.trustedKeys ?? [])];
  }

  private async loadLatest(key: KeyObject): Promise<void> {
    const trusted = this.trusted(key);
    for (const c of await listCheckpoints(this.opts.store)) {
      const check = checkSignature(c, trusted);
      if (!check.ok) continue;
      const known = this.latest.get(c.chain);
      if (!known || known.lastSeq <= check.fields.lastSeq) this.noteCheckpoint({ ...c, fields: check.fields });
    }
    const heads = await listHeads(this.opts.store);
    for (let i = heads.length - 1; i >= 0; i--) {
      const h = heads[i] as (typeof heads)[number];
      if (checkHead(h, trusted).ok) {
        this.prevHead = payloadHash(h.payload);
        break;
      }
    }
  }

  private noteCheckpoint(cp: Checkpoint): void {
    const f = cp.fields;
    this.latest.set(f.chain, { chain: f.chain, lastSeq: f.lastSeq, lastHash: f.lastHash, checkpoint: payloadHash(cp.payload) });
  }

  /**
   * Signs a head over the newest checkpoint of every chain known, naming the chains this member
   * stores into (open) and those it stopped storing into (`closed`); stores and witnesses it.
   */
  private writeHead(closed: number[]): Promise<void> {
    const key = this.opts.checkpointKey;
    if (!key) return Promise.resolve();
    const run = async () => {
      this.sinceHead = 0;
      const head = signHead(
        {
          topic: this.opts.topics.decisions.name,
          prevHead: this.prevHead,
          chains: [...this.latest.values()],
          open: [...this.chains.keys()].filter((c) => !closed.includes(c)),
          closed,
        },
        key,
      );
      this.prevHead = payloadHash(head.payload);
      try {
        await insertHead(this.opts.store, head);
      } catch (err) {
        // The witness still holds it; the store's copy is a convenience for readers of ClickHouse.
        this.opts.logger.warn({ err }, 'storing a head failed');
      }
      this.stats.heads += 1;
      await this.witness({ type: 'head', payload: head.payload, signature: head.signature });
    };
    const next = this.headLock.then(run, run);
    this.headLock = next.catch(() => undefined);
    return next;
  }

  /** Queues a record for the witness and writes what is queued (in order). */
  private witness(r: WitnessRecord): Promise<void> {
    this.unwitnessed.push(r);
    return this.flushWitness();
  }

  /**
   * Sends the queued witness records to the witness topic (and directory), oldest first. A failure
   * keeps them queued for the next checkpoint round (warned): until then they are not witnessed.
   */
  private flushWitness(): Promise<void> {
    const run = async () => {
      if (this.unwitnessed.length === 0) return;
      const batch = this.unwitnessed.slice();
      try {
        // Each record once in the directory, even when the topic refused a send and it is retried.
        if (this.opts.witnessDir) {
          for (const r of batch.slice(this.inWitnessDir)) writeWitnessFile(this.opts.witnessDir, r, this.witnessFiles++);
          this.inWitnessDir = batch.length;
        }
        await this.producer!.send({
          topic: this.opts.topics.witness.name,
          acks: -1,
          messages: batch.map((r) => ({ key: r.type, value: encodeWitness(r) })),
        });
        this.unwitnessed.splice(0, batch.length);
        this.inWitnessDir = Math.max(0, this.inWitnessDir - batch.length);
        this.stats.witnessed += batch.length;
      } catch (err) {
        this.opts.logger.warn({ err, pending: this.unwitnessed.length }, 'writing to the witness failed; will retry');
      }
    };
    const next = this.witnessFlush.then(run, run);
    this.witnessFlush = next;
    return next;
  }

  /** Which partitions' chains were refused for failing verification. */
  refusedChains(): number[] {
    return [...this.refused];
  }

  private fatal(err: unknown): void {
    if (this.failed) return;
    this.failed = true;
    this.opts.logger.error({ err }, 'sink cannot go on');
    if (this.opts.onFatal) this.opts.onFatal(err);
    else void this.stop();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.timer) clearInterval(this.timer);
    await this.history?.stop();
    await this.consumer?.disconnect();
    // Final checkpoints of what this member stored, and a head closing its chains: after a graceful
    // stop every stored row is witnessed, and a row added behind the sink's back is named.
    for (const [partition, state] of this.chains) {
      await this.lock(partition, () => this.maybeCheckpoint(state, true));
    }
    if (this.chains.size > 0) await this.writeHead([...this.chains.keys()]);
    await this.flushWitness();
    if (this.unwitnessed.length > 0) {
      this.opts.logger.error(
        { pending: this.unwitnessed.length },
        'stopping with checkpoints the witness has not acknowledged: their rows are not witnessed',
      );
    }
    this.chains.clear();
    await this.producer?.disconnect();
  }
}
