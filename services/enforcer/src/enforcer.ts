/**
 * The stream enforcer: access-events → decisions, exactly once.
 *
 * - Each consumed batch is judged and its decisions, its dead letters and its consumer offset go
 *   out in one Kafka transaction, so a crash anywhere replays the batch and read-committed
 *   consumers never see a decision twice.
 * - Partition ownership and fencing (a transactional producer per input partition, the takeover
 *   that fences the previous owner and restores bulk windows) are in partitions.ts.
 * - Subject state is a global table read in full before judging and followed while running.
 * - The policy can be replaced while running (`@custos/policy/follow`).
 */
import {
  type AvroCodec,
  type Batch,
  DeadLetterEncoder,
  type EachBatchPayload,
  ensureTopics,
  type FailedRecord,
  fetchedOffset,
  isFatal,
  isRetriable,
  type Kafka,
  type KafkaMessage,
  offsetWithMetadata,
  type Producer,
  readTable,
  releaseBatchMessages,
  retryWhileUnavailable,
  type TableReader,
  type Transaction,
  whileTopicsPropagate,
} from '@custos/kafka';
import { PolicyReloader } from '@custos/policy/follow';
import {
  accessEventAvro,
  type Decision,
  decisionAvro,
  fromAvro,
  MAX_ACCESS_EVENT_BYTES,
  parseSubjectStateChange,
  subjectStateChangeAvro,
  type Topics,
  ValidationError,
} from '@custos/schemas';
import { DecisionEncoder } from '@custos/schemas/avro';
import type { Logger } from 'pino';
import { type BatchJudge, type BatchOutput, LocalBatchJudge, type RecordFailure } from './batch-judge.js';
import { BatchRecords } from './batch-records.js';
import { encodeMeta, type PartitionState } from './bulk-state.js';
import { DeadLetterWarnings } from './dead-letter-warnings.js';
import { AccessEventDecoder } from './decode.js';
import { isReloadable, type Judge, PolicyJudge } from './judge.js';
import { WorkerBatchJudge } from './judge-pool.js';
import { EnforcerMetrics } from './metrics.js';
import { PartitionOwnership } from './partitions.js';

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
/** how much of a record beyond MAX_ACCESS_EVENT_BYTES its dead letter keeps */
const LETTER_HEAD_BYTES = 64 * 1024;
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

/** What the judged slices of one batch add up to. */
class BatchOutcome {
  readonly outcomes = { allow: 0, flag: 0, deny: 0 };
  readonly codes = new Map<string, number>();
  readonly failures: RecordFailure[] = [];
  readonly made: Decision[] = [];
  decided = 0;
  decisionBytes = 0;
  replayed = 0;
  maxT = Number.NEGATIVE_INFINITY;
  // Their decisions' bytes are reused once every produce call holding them has settled: after the
  // commit, or an abort that waited for the calls (a still-running call must not see them change).
  private readonly judged: BatchOutput[] = [];

  keep(res: BatchOutput): void {
    this.judged.push(res);
  }

  add(res: BatchOutput, base: number): void {
    this.decided += res.decisions.length;
    this.replayed += res.replayed;
    if (res.maxT > this.maxT) this.maxT = res.maxT;
    for (const o of ['allow', 'flag', 'deny'] as const) this.outcomes[o] += res.outcomes[o];
    for (const [code, n] of res.codes) this.codes.set(code, (this.codes.get(code) ?? 0) + n);
    for (const f of res.failures) this.failures.push({ ...f, index: base + f.index });
    if (res.made) this.made.push(...res.made);
  }

  release(): void {
    for (const r of this.judged) r.release?.();
  }
}

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
  private table?: TableReader;
  private batchJudge?: BatchJudge;
  private dlq?: DeadLetterEncoder;
  private stateDlq?: DeadLetterEncoder;
  private decodeWarnings?: DeadLetterWarnings;
  private sideProducer?: Promise<Producer>;
  private readonly owned: PartitionOwnership;
  private stopping?: Promise<void>;

  constructor(private readonly opts: EnforcerOptions) {
    this.metrics = opts.metrics ?? new EnforcerMetrics();
    this.owned = new PartitionOwnership({
      kafka: opts.kafka,
      logger: opts.logger,
      metrics: this.metrics,
      judge: opts.judge,
      topic: this.topic,
      groupId: this.groupId,
      transactionalIdPrefix: opts.transactionalIdPrefix ?? this.groupId,
      sessionTimeoutMs: opts.sessionTimeoutMs ?? 30_000,
      transactionTimeoutMs: opts.transactionTimeoutMs ?? 60_000,
      dropJudging: (partition) => this.batchJudge?.dropPartition(partition),
      stopping: () => this.stopping !== undefined,
    });
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
    return this.owned.transactionalIdFor(partition);
  }

  async start(): Promise<void> {
    const { kafka, codec, topics, logger } = this.opts;
    const admin = kafka.admin();
    this.owned.admin = admin;
    await admin.connect();
    await ensureTopics(admin, Object.values(topics));
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

    this.stateDlq = await registered('registering the subject-state dead-letter schema')(() =>
      DeadLetterEncoder.create(codec, topics.subjectStateDlq.subject, 'enforcer'),
    );

    // Subject state is a global table: read all of it before judging anything, then keep following it.
    // An invalid change read while following is dead-lettered; one read while catching up at start
    // was dead-lettered when it first arrived (every start re-reads the whole topic), so it is only
    // counted then.
    const changes = this.metrics.subjectStateChanges;
    let following = false;
    const refuse = async (m: KafkaMessage, partition: number, step: string, err: Error) => {
      changes.inc({ result: 'invalid' });
      if (!following) {
        logger.warn({ offset: m.offset, err }, `invalid subject-state change skipped (${step}), read while catching up`);
        return;
      }
      const record = {
        topic: topics.subjectState.name,
        partition,
        offset: m.offset,
        key: m.key,
        value: m.value,
        headers: m.headers,
      };
      try {
        await this.deadLetterAside(record, step, err, 'state');
        logger.warn({ offset: m.offset, err, dlq: topics.subjectStateDlq.name }, 'invalid subject-state change dead-lettered');
      } catch (dlqErr) {
        logger.error({ err: dlqErr, offset: m.offset }, 'could not dead-letter an invalid subject-state change');
      }
    };
    this.table = await readTable(
      kafka,
      topics.subjectState.name,
      async (m, partition) => {
        // A tombstone deletes a key under compaction: no change to apply.
        if (m.value === null) return;
        let value: unknown;
        try {
          // A registry outage is not the record's fault: wait for it rather than dead-letter the change.
          value = (
            await retryWhileUnavailable(
              'decoding a subject-state change',
              () => codec.decode(m.value, subjectSchema),
              logger,
              () => this.stopping !== undefined,
            )
          ).value;
        } catch (err) {
          if (isFatal(err)) {
            // The registry changed its mind about the change's schema id: not a bad record to skip.
            this.fatal(err);
            return;
          }
          if (isRetriable(err)) return; // stopping while the registry is away: the change is read again at the next start
          await refuse(m, partition, 'subject-state-decode', err instanceof Error ? err : new Error(String(err)));
          return;
        }
        const parsed = parseSubjectStateChange(fromAvro(subjectStateChangeAvro, value));
        if (parsed.ok) {
          const fresh = this.judge.applySubjectState(parsed.value);
          // Forwarded even when this judge had it already (a judge shared by two enforcers):
          // the worker's store ignores a change it has.
          this.batchJudge?.subjectStateChanged(parsed.value);
          changes.inc({ result: fresh ? 'applied' : 'duplicate' });
        } else {
          await refuse(m, partition, 'subject-state-validate', new ValidationError('subject-state change', parsed.errors));
        }
      },
      { groupPrefix: `${this.groupId}-subject-state` },
    );
    await this.table.caughtUp;
    following = true;
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
    this.owned.consumer = consumer;
    consumer.on(consumer.events.GROUP_JOIN, (e) => this.owned.onJoin(e.payload.memberId, e.payload.memberAssignment));
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
      eachBatch: (payload) => this.owned.track(payload.batch.partition, this.processBatch(payload)),
    });
  }
  /**
   * Queues the batch's records for judging, in slices (the decisions of one slice are on their way
   * to the broker while the next is judged), keeps what the rest of the batch needs of them, and
   * lets kafkajs' message objects go (kept, they outlive young-generation collections: most of the
   * main thread's GC work).
   */
  private startJudging(batch: Batch, ps: PartitionState): { judging: Promise<BatchOutput>[]; records: BatchRecords } {
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
  /** One batch: admit it, judge it while its decisions go out, commit them with the offset, count it. */
  private async processBatch(payload: EachBatchPayload): Promise<void> {
    const started = performance.now();
    const { batch, resolveOffset, heartbeat } = payload;
    const p = batch.partition;
    const ps = await this.admit(batch);
    if (ps === undefined || !payload.isRunning() || payload.isStale()) return;
    const { judging, records } = this.startJudging(batch, ps);
    const bt = new BatchTransaction(await this.owned.producerFor(p));
    const outcome = await this.sendDecisions(payload, ps, judging, records, bt);
    if (outcome === undefined) return;
    const letters = this.deadLetters(batch, records, outcome.failures);
    const lastOffset = batch.lastOffset();
    const next = BigInt(lastOffset) + 1n;
    ps.tracker.add(BigInt(records.offset(0)), outcome.maxT);
    this.stats.replayed += outcome.replayed;
    if (outcome.replayed > 0) this.metrics.bulkReplayed.inc(outcome.replayed);
    const handled = outcome.decided + letters.length;
    if (handled === 0) {
      await bt.abort();
      outcome.release();
      // Only re-read records: nothing to commit; fetch on from here.
      ps.expectFetch = next;
      resolveOffset(lastOffset);
      this.opts.onBatch?.({ partition: p, events: 0, replayed: outcome.replayed, ms: performance.now() - started });
      await heartbeat();
      return;
    }
    if (!(await this.commit(payload, ps, bt, outcome, letters, next))) return;
    outcome.release();
    if (this.owned.holds(p, ps)) ps.expectFetch = next;
    resolveOffset(lastOffset);
    this.account(batch, records, outcome, letters.length, performance.now() - started);
    await heartbeat();
  }

  /** The partition's state for this batch, or undefined when the batch is not to be judged now. */
  private async admit(batch: Batch): Promise<PartitionState | undefined> {
    const p = batch.partition;
    if (batch.messages.length === 0 || this.stopping) return undefined;
    if (this.owned.isFenced(p)) {
      this.owned.pause(p);
      return undefined;
    }
    return this.owned.stateFor(p, fetchedOffset(batch));
  }

  /**
   * Awaits the judged slices in order and sends their decisions in full produce calls (a call's
   * records may come from two slices). undefined: the batch was given up (aborted, nothing counts).
   */
  private async sendDecisions(
    { batch, isRunning, isStale }: EachBatchPayload,
    ps: PartitionState,
    judging: Promise<BatchOutput>[],
    records: BatchRecords,
    bt: BatchTransaction,
  ): Promise<BatchOutcome | undefined> {
    const p = batch.partition;
    const decisionsTopic = this.opts.topics.decisions.name;
    const outcome = new BatchOutcome();
    let out: Message[] = [];
    let outBytes = 0;
    let decisionBytes = 0;
    for (let s = 0; s < judging.length; s++) {
      let res: BatchOutput;
      try {
        res = await judging[s]!;
      } catch (err) {
        // e.g. the registry is down: nothing of this batch counts; rebuild and retry it.
        await bt.abort();
        outcome.release();
        this.owned.forget(p, ps);
        if (isFatal(err)) {
          // The registry changed its mind about a schema id: stop, commit nothing, dead-letter nothing.
          this.owned.pause();
          this.fatal(err);
          return undefined;
        }
        throw err;
      }
      outcome.keep(res);
      if (!isRunning() || isStale()) {
        await bt.abort();
        outcome.release();
        this.owned.forget(p, ps);
        return undefined;
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
      outcome.add(res, base);
      ps.tracker.setSpan(res.spanMs);
      this.owned.windowStats.set(p, res.window);
    }
    outcome.decisionBytes = decisionBytes;
    return outcome;
  }

  /** The dead letters of the records that could not be judged (they commit with the decisions). */
  private deadLetters(batch: Batch, records: BatchRecords, failures: RecordFailure[]): Message[] {
    const dlq = this.dlq as DeadLetterEncoder;
    return failures.map((f) => {
      const i = f.index;
      // A letter embeds its record: one near the broker's message limit would not fit in a letter
      // (nor let the transaction commit). It keeps the record's head; the source offset names the rest.
      const whole = f.value === null || f.value.length <= MAX_ACCESS_EVENT_BYTES;
      const message = whole ? f.message : `${f.message} (the letter keeps the first ${LETTER_HEAD_BYTES} bytes of the record)`;
      const err = Object.assign(new Error(message), { name: f.name, retriable: f.retriable });
      return dlq.message(
        {
          topic: batch.topic,
          partition: batch.partition,
          offset: records.offset(i),
          key: records.key(i),
          value: whole ? f.value : (f.value as Buffer).subarray(0, LETTER_HEAD_BYTES),
          headers: records.headersOf(i),
        },
        f.step,
        err,
      );
    });
  }

  /**
   * Sends the dead letters and commits the transaction with the offset to resume at (and the
   * lookback offset, in its metadata). false: aborted; the next owner (or the next batch) redoes it.
   */
  private async commit(
    { batch, isRunning }: EachBatchPayload,
    ps: PartitionState,
    bt: BatchTransaction,
    outcome: BatchOutcome,
    letters: Message[],
    next: bigint,
  ): Promise<boolean> {
    const p = batch.partition;
    try {
      // Chunked like the decisions: a letter holds its record's bytes, so two large ones in one
      // produce call could exceed the broker's message limit.
      let chunk: Message[] = [];
      let chunkBytes = 0;
      for (const l of letters) {
        const n = (l.value as Buffer).length + 256;
        if (chunk.length > 0 && (chunkBytes + n > SEND_CHUNK_BYTES || chunk.length >= SEND_CHUNK_RECORDS)) {
          bt.send(this.opts.topics.accessEventsDlq.name, chunk);
          chunk = [];
          chunkBytes = 0;
        }
        chunk.push(l);
        chunkBytes += n;
      }
      if (chunk.length > 0) bt.send(this.opts.topics.accessEventsDlq.name, chunk);
      await bt.commit(
        {
          consumerGroupId: this.groupId,
          topics: [
            { topic: batch.topic, partitions: [offsetWithMetadata(p, next.toString(), encodeMeta(ps.tracker.lookback(next)))] },
          ],
        },
        this.opts.faultInjection?.pauseBeforeCommitMs,
      );
      return true;
    } catch (err) {
      await bt.abort();
      outcome.release();
      this.stats.aborted++;
      this.metrics.transactionsAborted.inc();
      this.owned.forget(p, ps);
      const current = this.owned.isCurrent(p, bt.producer);
      if (isFenced(err)) {
        if (current) this.owned.onFenced(p, err);
        return false;
      }
      if (current) this.owned.retireProducer(p);
      // Revoked or stopping meanwhile: the next owner starts from the last commit.
      if (!current || !isRunning() || this.stopping) return false;
      throw err;
    }
  }

  /** Metrics, stats and callbacks for a committed batch. */
  private account(batch: Batch, records: BatchRecords, outcome: BatchOutcome, letters: number, ms: number): void {
    const p = batch.partition;
    const handled = outcome.decided + letters;
    const m = this.metrics;
    m.events.inc(handled);
    m.batchSeconds.observe(ms / 1000);
    m.batchEvents.observe(handled);
    m.lag.set({ partition: String(p) }, Number(batch.offsetLag()));
    for (const o of ['allow', 'flag', 'deny'] as const) {
      if (outcome.outcomes[o] > 0) {
        m.decisions.inc({ outcome: o }, outcome.outcomes[o]);
        this.stats.decisions[o] += outcome.outcomes[o];
      }
    }
    for (const [code, n] of outcome.codes) m.reasons.inc({ code }, n);
    let decodeFailed = 0;
    let firstDecodeFailure: RecordFailure | undefined;
    for (const f of outcome.failures) {
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
    this.stats.deadLetters += letters;
    this.stats.decisionBytes += outcome.decisionBytes;
    for (const d of outcome.made) this.opts.onDecision?.(d);
    this.opts.onBatch?.({ partition: p, events: handled, replayed: outcome.replayed, ms });
  }

  /** V8 heap in use by the judging worker (undefined when judging on this thread). */
  async judgeHeapUsed(): Promise<number | undefined> {
    return this.batchJudge?.heapUsed?.();
  }

  /** Live bulk-access window state over the partitions this instance holds. */
  bulkStats(): { partitions: number; actors: number; entries: number } {
    let actors = 0;
    let entries = 0;
    for (const s of this.owned.windowStats.values()) {
      actors += s.actors;
      entries += s.entries;
    }
    return { partitions: this.owned.size, actors, entries };
  }

  /** Dead-letters a record outside any transaction (rejected policy bundles). */
  private async deadLetterAside(
    record: FailedRecord,
    step: string,
    err: Error,
    to: 'access' | 'state' = 'access',
  ): Promise<void> {
    const dlq = to === 'state' ? this.stateDlq : this.dlq;
    if (!dlq) return;
    this.sideProducer ??= (async () => {
      const p = this.opts.kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
      await p.connect();
      return p;
    })();
    const producer = await this.sideProducer;
    const topic = to === 'state' ? this.opts.topics.subjectStateDlq.name : this.opts.topics.accessEventsDlq.name;
    await producer.send({ topic, messages: [dlq.message(record, step, err)] });
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
      // The three consumers leave their groups together: each waits for its fetch in flight.
      await Promise.all([
        bounded('policy reloader', this.reloader?.stop()),
        bounded('consumer', this.owned.consumer?.disconnect()),
        bounded('subject-state table', this.table?.stop()),
      ]);
      await bounded(
        'producers',
        Promise.allSettled([this.owned.closeProducers(), this.sideProducer?.then((p) => p.disconnect())]),
      );
      await bounded('judging worker', this.batchJudge?.close());
      await bounded('admin', this.owned.admin?.disconnect());
      this.decodeWarnings?.close();
    })();
    return this.stopping;
  }
}
