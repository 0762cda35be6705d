/**
 * The stream enforcer: access-events → decisions, exactly once.
 *
 * - Each consumed batch is judged and its decisions, its dead letters and its consumer offset go
 *   out in one Kafka transaction, so a crash anywhere replays the batch and read-committed
 *   consumers never see a decision twice.
 * - Transactional ids are per input partition (`<prefix>-<topic>-<partition>`), not per instance:
 *   whoever takes a partition over initialises that id first, which fences the previous owner's
 *   producer and completes (aborts) any transaction it left open. This is the pre-KIP-447 way to
 *   fence zombies, which kafkajs (no KIP-447) needs; see docs/enforcer-notes.md.
 * - Subject state is a global table read in full before judging and followed while running.
 * - Bulk-access windows are per partition and survive restarts and rebalances: the committed
 *   offset carries a lookback offset in its metadata, and a new owner re-reads the partition from
 *   there to the committed offset, observing without emitting (bulk-state.ts).
 * - The policy can be replaced while running (policy-source.ts).
 */
import {
  type Admin,
  type AvroCodec,
  type Consumer,
  DeadLetterEncoder,
  type EachBatchPayload,
  ensureTopics,
  type FailedRecord,
  isFatal,
  type Kafka,
  kafkajsPatch,
  type Producer,
  readTable,
  releaseBatchMessages,
  retryWhileUnavailable,
  type TableReader,
  type Transaction,
  whileTopicsPropagate,
} from '@custos/kafka';
import {
  accessEventAvro,
  type Decision,
  decisionAvro,
  fromAvro,
  parseSubjectStateChange,
  subjectStateChangeAvro,
  type Topics,
} from '@custos/schemas';
import type { Logger } from 'pino';
import { type BatchJudge, type BatchOutput, LocalBatchJudge, type RecordFailure } from './batch-judge.js';
import { BatchRecords } from './batch-records.js';
import { decodeMeta, encodeMeta, PartitionState } from './bulk-state.js';
import { DeadLetterWarnings } from './dead-letter-warnings.js';
import { DecisionEncoder } from './decision-encoder.js';
import { AccessEventDecoder } from './decode.js';
import { isReloadable, type Judge, PolicyJudge } from './judge.js';
import { WorkerBatchJudge } from './judge-pool.js';
import { EnforcerMetrics } from './metrics.js';
import { PolicyReloader } from './policy-source.js';

export interface EnforcerOptions {
  kafka: Kafka;
  codec: AvroCodec;
  topics: Topics;
  judge: Judge;
  logger: Logger;
  groupId?: string;
  /**
   * @deprecated Ignored. Transactional ids are per input partition (see `transactionalIdPrefix`) so
   * that a partition's new owner fences its previous one; a per-instance id cannot.
   */
  transactionalId?: string;
  /** default: the group id. Every instance of one group must use the same prefix. */
  transactionalIdPrefix?: string;
  metrics?: EnforcerMetrics;
  /** Hot reload (for a reloadable judge): follow the policy-bundles topic / watch the judge's file. Default both on. */
  policyReload?: false | { topic?: boolean; file?: boolean };
  /** default 4 MiB: larger fetches, fewer transactions */
  maxBytesPerPartition?: number;
  /** default 2: two partitions judged while a third waits on its commit */
  partitionsConsumedConcurrently?: number;
  sessionTimeoutMs?: number;
  transactionTimeoutMs?: number;
  /**
   * Judge on a worker thread (default, for a PolicyJudge): the Kafka client keeps the main thread
   * and judging runs on the second core. false: judge on the consumer's thread (any Judge).
   */
  judgeInWorker?: boolean;
  onDecision?: (d: Decision) => void;
  onBatch?: (b: BatchInfo) => void;
  /** the enforcer cannot go on (consumer crashed for good); default: log and stop */
  onFatal?: (err: unknown) => void;
  /** For failure tests only: wait this long between sending a batch's records and committing. */
  faultInjection?: { pauseBeforeCommitMs?: number };
}

export interface BatchInfo {
  partition: number;
  /** records judged or dead-lettered (committed) */
  events: number;
  /** records re-read to rebuild windows */
  replayed: number;
  ms: number;
}

export interface EnforcerStats {
  events: number;
  decisions: Record<Decision['outcome'], number>;
  deadLetters: number;
  batches: number;
  replayed: number;
  aborted: number;
  /** bytes of the committed decision records' values */
  decisionBytes: number;
}

type Message = Parameters<Transaction['send']>[0]['messages'][number];

/**
 * Records per produce call: at most SEND_CHUNK_RECORDS, and at most SEND_CHUNK_BYTES so that any
 * one partition's record batch stays under the broker's default 1 MiB message.max.bytes. kafkajs
 * lets a (transactional) producer have one request in flight per broker, so each call is a round
 * trip: fewer, fuller calls are faster; past a few thousand records its per-call grouping (an array
 * spread per record, quadratic) starts to cost. Chunks go out while the rest of the batch is judged.
 */
export const SEND_CHUNK_RECORDS = 2000;
export const SEND_CHUNK_BYTES = 900 * 1024;
/** Records per judging request: a batch is judged slice by slice so that sending overlaps judging. */
const JUDGE_SLICE = 2048;

/** One batch's transaction: begun with its first send; sends are chained so they overlap judging. */
class BatchTransaction {
  private txn?: Transaction;
  private chain: Promise<void> = Promise.resolve();

  constructor(readonly producer: Producer) {}

  send(topic: string, messages: Message[]): void {
    this.chain = this.chain.then(async () => {
      this.txn ??= await this.producer.transaction();
      await this.txn.send({ topic, messages });
    });
    // Observed by commit() or abort(); this only keeps it from counting as unhandled meanwhile.
    this.chain.catch(() => undefined);
  }

  async commit(offsets: Parameters<Transaction['sendOffsets']>[0], pauseMs?: number): Promise<void> {
    await this.chain;
    this.txn ??= await this.producer.transaction();
    await this.txn.sendOffsets(offsets);
    if (pauseMs) await sleep(pauseMs);
    await this.txn.commit();
  }

  async abort(): Promise<void> {
    await this.chain.catch(() => undefined);
    await this.txn?.abort().catch(() => undefined);
  }
}

const FENCED = new Set(['INVALID_PRODUCER_EPOCH', 'PRODUCER_FENCED']);

function errorTypes(err: unknown): string[] {
  const out: string[] = [];
  for (let e = err, depth = 0; e && typeof e === 'object' && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const t = (e as { type?: unknown }).type;
    if (typeof t === 'string') out.push(t);
  }
  return out;
}

const isFenced = (err: unknown) => errorTypes(err).some((t) => FENCED.has(t));
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());

export class Enforcer {
  readonly stats: EnforcerStats = {
    events: 0,
    decisions: { allow: 0, flag: 0, deny: 0 },
    deadLetters: 0,
    batches: 0,
    replayed: 0,
    aborted: 0,
    decisionBytes: 0,
  };
  readonly metrics: EnforcerMetrics;
  reloader?: PolicyReloader;
  private consumer?: Consumer;
  private admin?: Admin;
  private table?: TableReader;
  private batchJudge?: BatchJudge;
  /** last window size reported per partition */
  private readonly windowStats = new Map<number, { actors: number; entries: number }>();
  private dlq?: DeadLetterEncoder;
  private decodeWarnings?: DeadLetterWarnings;
  private sideProducer?: Promise<Producer>;
  private readonly parts = new Map<number, PartitionState>();
  private readonly producers = new Map<number, { producer: Producer; ready: Promise<void> }>();
  private readonly inflight = new Map<number, Promise<unknown>>();
  /** partitions whose producer was fenced: paused until the next group join */
  private readonly fenced = new Set<number>();
  private memberId?: string;
  private stopping?: Promise<void>;

  constructor(private readonly opts: EnforcerOptions) {
    this.metrics = opts.metrics ?? new EnforcerMetrics();
  }

  get groupId(): string {
    return this.opts.groupId ?? 'custos-enforcer';
  }

  private get topic(): string {
    return this.opts.topics.accessEvents.name;
  }

  private get judge(): Judge {
    return this.opts.judge;
  }

  transactionalIdFor(partition: number): string {
    return `${this.opts.transactionalIdPrefix ?? this.groupId}-${this.topic}-${partition}`;
  }

  async start(): Promise<void> {
    const { kafka, codec, topics, logger } = this.opts;
    const patch = await kafkajsPatch();
    if (!patch.releaseMessages) {
      // correct either way; without it a fetch's message objects live until its batch is committed
      logger.warn({ kafkajs: patch }, 'kafkajs lacks the Custos patch (Batch#releaseMessages): fetched messages are held longer');
    }
    this.admin = kafka.admin();
    await this.admin.connect();
    await ensureTopics(this.admin, Object.values(topics));
    // A start during a registry outage (its restart) waits for it instead of failing the process;
    // everything registered here is cached, so the judging thread's lookups find it.
    const registered =
      (what: string) =>
      <T>(fn: () => Promise<T>) =>
        retryWhileUnavailable(what, fn, logger, () => this.stopping !== undefined);
    const decisionSchema = await registered('registering the decision schema')(() =>
      codec.register(topics.decisions.subject, decisionAvro),
    );
    const accessSchema = await registered('registering the access-event schema')(() =>
      codec.register(topics.accessEvents.subject, accessEventAvro),
    );
    const judge = this.judge;
    if (this.opts.judgeInWorker !== false && judge instanceof PolicyJudge) {
      const pool = new WorkerBatchJudge(
        {
          registryUrl: codec.url,
          accessSubject: topics.accessEvents.subject,
          decisionSubject: topics.decisions.subject,
          bundle: judge.bundle,
          policyVersion: judge.policyVersion,
          subjectState: judge.subjectState.snapshot(),
        },
        (err) => this.fatal(err),
      );
      judge.onReplace((e) => pool.policyChanged(e.bundle, e.policyVersion));
      this.batchJudge = pool;
      await pool.ready;
    } else {
      this.batchJudge = new LocalBatchJudge(
        judge,
        new AccessEventDecoder(codec, accessSchema),
        new DecisionEncoder(decisionSchema),
      );
    }
    const subjectSchema = await registered('registering the subject-state schema')(() =>
      codec.register(topics.subjectState.subject, subjectStateChangeAvro),
    );
    this.dlq = await registered('registering the dead-letter schema')(() =>
      DeadLetterEncoder.create(codec, topics.accessEventsDlq.subject, 'enforcer'),
    );
    this.decodeWarnings = new DeadLetterWarnings(logger, 'decode', topics.accessEventsDlq.name);

    // Subject state is a global table: read all of it before judging anything, then keep following it.
    const changes = this.metrics.subjectStateChanges;
    this.table = await readTable(
      kafka,
      topics.subjectState.name,
      async (m) => {
        try {
          const { value } = await codec.decode(m.value, subjectSchema);
          const parsed = parseSubjectStateChange(fromAvro(subjectStateChangeAvro, value));
          if (parsed.ok) {
            const fresh = this.judge.applySubjectState(parsed.value);
            // Forwarded even when this judge had it already (a judge shared by two enforcers):
            // the worker's store ignores a change it has.
            this.batchJudge?.subjectStateChanged(parsed.value);
            changes.inc({ result: fresh ? 'applied' : 'duplicate' });
          } else {
            changes.inc({ result: 'invalid' });
            logger.warn({ offset: m.offset, errors: parsed.errors }, 'invalid subject-state change skipped');
          }
        } catch (err) {
          if (isFatal(err)) {
            // The registry changed its mind about the change's schema id: not a bad record to skip.
            this.fatal(err);
            return;
          }
          changes.inc({ result: 'invalid' });
          logger.warn({ err, offset: m.offset }, 'undecodable subject-state change skipped');
        }
      },
      { groupPrefix: `${this.groupId}-subject-state` },
    );
    await this.table.caughtUp;
    logger.info('subject state loaded');

    const reload = this.opts.policyReload;
    if (isReloadable(judge) && reload !== false) {
      const file = reload?.file !== false ? judge.file : undefined;
      this.reloader = new PolicyReloader({
        judge,
        logger,
        kafka,
        metrics: this.metrics,
        groupPrefix: `${this.groupId}-policy`,
        deadLetter: (record, step, err) => this.deadLetterAside(record, step, err),
        ...(reload?.topic !== false ? { topic: topics.policyBundles.name } : {}),
        ...(file !== undefined ? { file } : {}),
      });
      await this.reloader.start();
    } else {
      this.metrics.setPolicyVersion(judge.policyVersion);
    }

    const consumer = kafka.consumer({
      groupId: this.groupId,
      readUncommitted: false,
      sessionTimeout: this.opts.sessionTimeoutMs ?? 30_000,
      heartbeatInterval: Math.max(1000, Math.floor((this.opts.sessionTimeoutMs ?? 30_000) / 10)),
      maxBytesPerPartition: this.opts.maxBytesPerPartition ?? 4 * 1024 * 1024,
      maxBytes: 32 * 1024 * 1024,
      maxWaitTimeInMs: 500,
    });
    this.consumer = consumer;
    consumer.on(consumer.events.GROUP_JOIN, (e) => this.onJoin(e.payload.memberId, e.payload.memberAssignment));
    consumer.on(consumer.events.CRASH, (e) => {
      if (e.payload.restart) logger.warn({ err: e.payload.error }, 'consumer crashed; kafkajs restarts it');
      else this.fatal(e.payload.error);
    });
    await consumer.connect();
    await whileTopicsPropagate(() => consumer.subscribe({ topic: this.topic, fromBeginning: true }));
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: this.opts.partitionsConsumedConcurrently ?? 2,
      eachBatch: (payload) => this.track(payload.batch.partition, this.processBatch(payload)),
    });
  }

  private async track(partition: number, work: Promise<void>): Promise<void> {
    const settled = work.catch(() => undefined);
    this.inflight.set(partition, settled);
    try {
      await work;
    } finally {
      if (this.inflight.get(partition) === settled) this.inflight.delete(partition);
    }
  }

  /** A new generation: forget what may have changed hands since the last one. */
  private onJoin(memberId: string, assignment: Record<string, number[]>): void {
    const mine = new Set(assignment[this.topic] ?? []);
    // Another member id means this instance was out of the group for a while: anyone may have
    // owned its partitions meanwhile, so nothing it remembers about them can be trusted.
    const continuous = memberId === this.memberId;
    this.memberId = memberId;
    for (const p of [...this.parts.keys()]) if (!continuous || !mine.has(p)) this.drop(p);
    for (const p of [...this.producers.keys()]) if (!continuous || !mine.has(p)) this.retireProducer(p);
    const resume = [...this.fenced].filter((p) => mine.has(p));
    this.fenced.clear();
    if (resume.length > 0) this.consumer?.resume([{ topic: this.topic, partitions: resume }]);
    this.metrics.assignedPartitions.set(mine.size);
    this.metrics.lag.reset();
    this.opts.logger.info({ memberId, partitions: [...mine].sort((a, b) => a - b) }, 'partitions assigned');
  }

  private producerFor(partition: number): Promise<Producer> {
    let entry = this.producers.get(partition);
    if (entry === undefined) {
      const producer = this.opts.kafka.producer({
        transactionalId: this.transactionalIdFor(partition),
        idempotent: true,
        maxInFlightRequests: 1,
        transactionTimeout: this.opts.transactionTimeoutMs ?? 60_000,
      });
      // Initialising the transactional id (InitProducerId) fences the previous owner's producer
      // and completes its open transaction, if any. kafkajs does that only when the first
      // transaction begins (connect() takes a non-transactional producer id), so begin and drop an
      // empty one now (no request is sent for it): takeOver reads offsets after the fence.
      const ready = (async () => {
        await producer.connect();
        const t = await producer.transaction();
        await t.abort();
      })();
      entry = { producer, ready };
      this.producers.set(partition, entry);
      ready.catch(() => {
        if (this.producers.get(partition) === entry) this.producers.delete(partition);
      });
    }
    const { producer, ready } = entry;
    return ready.then(() => producer);
  }

  /** Disconnects a partition's producer once the batch it may be committing has settled. */
  private retireProducer(partition: number): void {
    const entry = this.producers.get(partition);
    if (entry === undefined) return;
    this.producers.delete(partition);
    const pending = this.inflight.get(partition) ?? Promise.resolve();
    void pending
      .then(() => entry.ready)
      .then(() => entry.producer.disconnect())
      .catch((err: unknown) => this.opts.logger.debug({ err, partition }, 'retiring a partition producer failed'));
  }

  private async committed(partition: number): Promise<{ offset: bigint; metadata: string | null }> {
    const admin = this.admin as Admin;
    const [topic] = await admin.fetchOffsets({ groupId: this.groupId, topics: [this.topic] });
    const p = topic?.partitions.find((x) => x.partition === partition);
    return { offset: p ? BigInt(p.offset) : -1n, metadata: p?.metadata ?? null };
  }

  /** For a group committed without lookback metadata: the first record produced within window + lateness. */
  private async lookbackByTime(partition: number, window: { windowMs: number; latenessMs: number }): Promise<bigint | undefined> {
    const admin = this.admin as Admin;
    const since = Date.now() - window.windowMs - window.latenessMs;
    const offsets = await admin.fetchTopicOffsetsByTimestamp(this.topic, since);
    const o = offsets.find((x) => x.partition === partition);
    return o && BigInt(o.offset) >= 0n ? BigInt(o.offset) : undefined;
  }

  /**
   * First batch of a partition this instance does not know (new assignment, restart, or after a
   * failed transaction): fence the previous owner, read where it stopped, and either go on or
   * seek back to the lookback offset to rebuild the windows first. undefined = seeked; the batch
   * in hand is dropped.
   */
  private async takeOver(partition: number, fetched: bigint): Promise<PartitionState | undefined> {
    await this.producerFor(partition);
    // Read after fencing: the previous owner's last transaction has completed by now.
    const c = await this.committed(partition);
    const resumeAt = c.offset >= 0n ? c.offset : fetched;
    this.batchJudge?.dropPartition(partition);
    const window = this.judge.createBulkWindow();
    let lookback = resumeAt;
    let source = 'none';
    if (c.offset >= 0n) {
      const fromMeta = decodeMeta(c.metadata);
      const found = fromMeta ?? (await this.lookbackByTime(partition, window));
      source = fromMeta !== undefined ? 'metadata' : 'timestamp';
      if (found !== undefined && found < resumeAt) lookback = found;
    }
    const ps = new PartitionState(partition, window.windowMs + window.latenessMs, resumeAt, lookback);
    this.parts.set(partition, ps);
    this.metrics.bulkRestores.inc({ source });
    this.opts.logger.info(
      { partition, resumeAt: resumeAt.toString(), replayFrom: lookback.toString(), source },
      lookback < resumeAt ? 'taking over partition: rebuilding bulk windows' : 'taking over partition',
    );
    if (lookback !== fetched) {
      this.consumer?.seek({ topic: this.topic, partition, offset: lookback.toString() });
      return undefined;
    }
    return ps;
  }

  private async stateFor(partition: number, fetched: bigint): Promise<PartitionState | undefined> {
    const ps = this.parts.get(partition);
    // Later than expected: kafkajs skipped records it filtered out (commit markers, aborted
    // records) without handing them to us. Within one membership nobody else can have committed.
    if (ps !== undefined && fetched >= ps.expectFetch) {
      ps.expectFetch = fetched;
      return ps;
    }
    this.drop(partition);
    return this.takeOver(partition, fetched);
  }

  /**
   * Queues the batch's records for judging, in slices (the decisions of one slice are on their way
   * to the broker while the next is judged), keeps what the rest of the batch needs of them, and
   * lets kafkajs' message objects go (kept, they outlive young-generation collections: most of the
   * main thread's GC work).
   */
  private startJudging(
    batch: EachBatchPayload['batch'],
    ps: PartitionState,
  ): { judging: Promise<BatchOutput>[]; records: BatchRecords } {
    const p = batch.partition;
    const messages = batch.messages;
    let replayCount = 0;
    if (ps.replaying) {
      while (replayCount < messages.length && BigInt(messages[replayCount]!.offset) < ps.replayUntil) replayCount++;
    }
    const now = Date.now();
    const judging: Promise<BatchOutput>[] = [];
    for (let from = 0; from < messages.length; from += JUDGE_SLICE) {
      const to = Math.min(messages.length, from + JUDGE_SLICE);
      const slice = (this.batchJudge as BatchJudge).judgeBatch({
        partition: p,
        values: messages.slice(from, to).map((m) => m.value),
        replayCount: Math.max(0, Math.min(to, replayCount) - from),
        now,
        wantDecisions: this.opts.onDecision !== undefined,
      });
      slice.catch(() => undefined); // awaited by the caller, in order
      judging.push(slice);
    }
    const records = BatchRecords.of(messages);
    releaseBatchMessages(batch);
    return { judging, records };
  }

  private async processBatch({ batch, isRunning, isStale, heartbeat, resolveOffset }: EachBatchPayload): Promise<void> {
    const started = performance.now();
    const p = batch.partition;
    if (batch.messages.length === 0 || this.stopping) return;
    if (this.fenced.has(p)) {
      this.consumer?.pause([{ topic: this.topic, partitions: [p] }]);
      return;
    }
    const fetched = BigInt((batch as unknown as { fetchedOffset: string }).fetchedOffset);
    const ps = await this.stateFor(p, fetched);
    if (ps === undefined || !isRunning() || isStale()) return;
    const { judging, records } = this.startJudging(batch, ps);
    const decisionsTopic = this.opts.topics.decisions.name;
    const dlq = this.dlq as DeadLetterEncoder;
    const bt = new BatchTransaction(await this.producerFor(p));
    const outcomes = { allow: 0, flag: 0, deny: 0 };
    const codes = new Map<string, number>();
    const failures: RecordFailure[] = [];
    const made: Decision[] = [];
    let decided = 0;
    let decisionBytes = 0;
    let replayed = 0;
    let maxT = Number.NEGATIVE_INFINITY;
    // Decisions go out in full produce calls: a call's records may come from two slices.
    let out: Message[] = [];
    let outBytes = 0;
    // Their decisions' bytes are reused once every produce call holding them has settled: after the
    // commit, or an abort that waited for the calls (a still-running call must not see them change).
    const judged: BatchOutput[] = [];
    const releaseJudged = () => {
      for (const r of judged) r.release?.();
    };
    for (let s = 0; s < judging.length; s++) {
      let res: BatchOutput;
      try {
        res = await judging[s]!;
      } catch (err) {
        // e.g. the registry is down: nothing of this batch counts; rebuild and retry it.
        await bt.abort();
        releaseJudged();
        this.forget(p, ps);
        if (isFatal(err)) {
          // The registry changed its mind about a schema id: stop, commit nothing, dead-letter nothing.
          this.consumer?.pause([{ topic: this.topic }]);
          this.fatal(err);
          return;
        }
        throw err;
      }
      judged.push(res);
      if (!isRunning() || isStale()) {
        await bt.abort();
        releaseJudged();
        return this.forget(p, ps);
      }
      const base = s * JUDGE_SLICE;
      for (let k = 0; k < res.decisions.length; k++) {
        const value = res.decisions[k]!;
        out.push({ key: records.key(base + res.decisionIndex[k]!), value });
        decisionBytes += value.length;
        outBytes += value.length + 64;
        if (outBytes >= SEND_CHUNK_BYTES || out.length >= SEND_CHUNK_RECORDS) {
          bt.send(decisionsTopic, out);
          out = [];
          outBytes = 0;
        }
      }
      if (s === judging.length - 1 && out.length > 0) bt.send(decisionsTopic, out);
      decided += res.decisions.length;
      replayed += res.replayed;
      if (res.maxT > maxT) maxT = res.maxT;
      for (const o of ['allow', 'flag', 'deny'] as const) outcomes[o] += res.outcomes[o];
      for (const [code, n] of res.codes) codes.set(code, (codes.get(code) ?? 0) + n);
      for (const f of res.failures) failures.push({ ...f, index: base + f.index });
      if (res.made) made.push(...res.made);
      ps.tracker.setSpan(res.spanMs);
      this.windowStats.set(p, res.window);
    }
    const letters: Message[] = failures.map((f) => {
      const err = Object.assign(new Error(f.message), { name: f.name, retriable: f.retriable });
      const i = f.index;
      return dlq.message(
        {
          topic: batch.topic,
          partition: p,
          offset: records.offset(i),
          key: records.key(i),
          value: f.value,
          headers: records.headersOf(i),
        },
        f.step,
        err,
      );
    });

    const lastOffset = batch.lastOffset();
    const next = BigInt(lastOffset) + 1n;
    ps.tracker.add(BigInt(records.offset(0)), maxT);
    this.stats.replayed += replayed;
    if (replayed > 0) this.metrics.bulkReplayed.inc(replayed);
    const handled = decided + letters.length;
    if (handled === 0) {
      await bt.abort();
      releaseJudged();
      // Only re-read records: nothing to commit; fetch on from here.
      ps.expectFetch = next;
      resolveOffset(lastOffset);
      this.opts.onBatch?.({ partition: p, events: 0, replayed, ms: performance.now() - started });
      await heartbeat();
      return;
    }

    try {
      if (letters.length > 0) bt.send(this.opts.topics.accessEventsDlq.name, letters);
      await bt.commit(
        {
          consumerGroupId: this.groupId,
          topics: [
            {
              topic: batch.topic,
              // kafkajs sends the metadata in TxnOffsetCommit; its types just do not list it.
              partitions: [
                { partition: p, offset: next.toString(), metadata: encodeMeta(ps.tracker.lookback(next)) } as {
                  partition: number;
                  offset: string;
                },
              ],
            },
          ],
        },
        this.opts.faultInjection?.pauseBeforeCommitMs,
      );
    } catch (err) {
      await bt.abort();
      releaseJudged();
      this.stats.aborted++;
      this.metrics.transactionsAborted.inc();
      this.forget(p, ps);
      const current = this.producers.get(p)?.producer === bt.producer;
      if (isFenced(err)) {
        if (current) this.onFenced(p, err);
        return;
      }
      if (current) this.retireProducer(p);
      // Revoked or stopping meanwhile: the next owner starts from the last commit.
      if (!current || !isRunning() || this.stopping) return;
      throw err;
    }
    releaseJudged();
    if (this.parts.get(p) === ps) ps.expectFetch = next;
    resolveOffset(lastOffset);

    const ms = performance.now() - started;
    const m = this.metrics;
    m.events.inc(handled);
    m.batchSeconds.observe(ms / 1000);
    m.batchEvents.observe(handled);
    m.lag.set({ partition: String(p) }, Number(batch.offsetLag()));
    for (const o of ['allow', 'flag', 'deny'] as const) {
      if (outcomes[o] > 0) {
        m.decisions.inc({ outcome: o }, outcomes[o]);
        this.stats.decisions[o] += outcomes[o];
      }
    }
    for (const [code, n] of codes) m.reasons.inc({ code }, n);
    let decodeFailed = 0;
    let firstDecodeFailure: RecordFailure | undefined;
    for (const f of failures) {
      m.deadLetters.inc({ step: f.step });
      if (f.step === 'decode') {
        decodeFailed++;
        firstDecodeFailure ??= f;
      }
    }
    if (firstDecodeFailure) {
      this.decodeWarnings?.note(decodeFailed, {
        partition: p,
        offset: records.offset(firstDecodeFailure.index),
        error: firstDecodeFailure.name,
        reason: firstDecodeFailure.message,
      });
    }
    m.bulkActors.set(this.bulkStats().actors);
    this.stats.batches++;
    this.stats.events += handled;
    this.stats.deadLetters += letters.length;
    this.stats.decisionBytes += decisionBytes;
    for (const d of made) this.opts.onDecision?.(d);
    this.opts.onBatch?.({ partition: p, events: handled, replayed, ms });
    await heartbeat();
  }

  /** V8 heap in use by the judging worker (undefined when judging on this thread). */
  async judgeHeapUsed(): Promise<number | undefined> {
    return this.batchJudge?.heapUsed?.();
  }

  /** Live bulk-access window state over the partitions this instance holds. */
  bulkStats(): { partitions: number; actors: number; entries: number } {
    let actors = 0;
    let entries = 0;
    for (const s of this.windowStats.values()) {
      actors += s.actors;
      entries += s.entries;
    }
    return { partitions: this.parts.size, actors, entries };
  }

  /** Drops what this instance knows of a partition: its next batch takes it over afresh. */
  private forget(partition: number, ps: PartitionState): void {
    if (this.parts.get(partition) === ps) this.drop(partition);
  }

  private drop(partition: number): void {
    this.parts.delete(partition);
    this.windowStats.delete(partition);
    this.batchJudge?.dropPartition(partition);
  }

  private onFenced(partition: number, err: unknown): void {
    this.metrics.fenced.inc();
    this.fenced.add(partition);
    this.retireProducer(partition);
    this.consumer?.pause([{ topic: this.topic, partitions: [partition] }]);
    this.opts.logger.warn(
      { err, partition },
      'producer fenced: another instance owns this partition now; paused until the next rebalance',
    );
    // A zombie is out of the group within a session timeout and rejoins (then onJoin resumes).
    // Still paused well after that, with no rebalance, this instance is the owner and the fence
    // came from outside the group (e.g. a misconfigured transactional id): take the partition back.
    const timer = setTimeout(
      () => {
        if (!this.fenced.delete(partition) || this.stopping) return;
        this.opts.logger.warn({ partition }, 'no rebalance after a fence: taking the partition back');
        this.consumer?.resume([{ topic: this.topic, partitions: [partition] }]);
      },
      2 * (this.opts.sessionTimeoutMs ?? 30_000),
    );
    timer.unref();
  }

  /** Dead-letters a record outside any transaction (rejected policy bundles). */
  private async deadLetterAside(record: FailedRecord, step: string, err: Error): Promise<void> {
    const dlq = this.dlq;
    if (!dlq) return;
    this.sideProducer ??= (async () => {
      const p = this.opts.kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
      await p.connect();
      return p;
    })();
    const producer = await this.sideProducer;
    await producer.send({ topic: this.opts.topics.accessEventsDlq.name, messages: [dlq.message(record, step, err)] });
    this.metrics.deadLetters.inc({ step });
    this.stats.deadLetters++;
  }

  private fatal(err: unknown): void {
    this.opts.logger.error({ err }, 'enforcer cannot go on');
    if (this.opts.onFatal) this.opts.onFatal(err);
    else void this.stop();
  }

  /**
   * Graceful and bounded: stops following the policy, lets the batch in hand commit (kafkajs waits
   * for it), leaves the group (its partitions move at once), closes the producers. Whatever has not
   * finished by `timeoutMs` is left behind: uncommitted work is simply redone by the next owner.
   */
  stop(timeoutMs = 10_000): Promise<void> {
    this.stopping ??= (async () => {
      const deadline = Date.now() + timeoutMs;
      const bounded = async (what: string, work: Promise<unknown> | undefined) => {
        if (work === undefined) return;
        const left = Math.max(0, deadline - Date.now());
        let timer: NodeJS.Timeout | undefined;
        const timeout = new Promise<'timeout'>((resolve) => {
          timer = setTimeout(() => resolve('timeout'), left);
        });
        const r = await Promise.race([
          work.then(
            () => 'done' as const,
            (err: unknown) => err,
          ),
          timeout,
        ]);
        clearTimeout(timer);
        if (r === 'timeout') this.opts.logger.warn({ what, timeoutMs }, 'shutdown step timed out; going on');
        else if (r !== 'done') this.opts.logger.warn({ what, err: r }, 'shutdown step failed; going on');
      };
      await bounded('policy reloader', this.reloader?.stop());
      await bounded('consumer', this.consumer?.disconnect());
      const producers = [...this.producers.values()];
      this.producers.clear();
      await bounded(
        'producers',
        Promise.allSettled([
          ...producers.map((e) => e.ready.then(() => e.producer.disconnect())),
          this.sideProducer?.then((p) => p.disconnect()),
        ]),
      );
      await bounded('subject-state table', this.table?.stop());
      await bounded('judging worker', this.batchJudge?.close());
      await bounded('admin', this.admin?.disconnect());
      this.decodeWarnings?.close();
    })();
    return this.stopping;
  }
}
