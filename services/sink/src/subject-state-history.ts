/**
 * The subject-state history: every change on the compacted `subject-state` topic → ClickHouse
 * (`subject_state_history`), exactly once, so that a change compaction later removes (an opt-out
 * reversed by an opt-in) stays on record. Runs beside the decision sink, with its own consumer group.
 *
 * Per batch: decode and validate → dead-letter what is invalid or undecodable (subject-state.dlq, with
 * the original bytes) → insert the valid changes → commit the offsets. Offsets are committed only
 * after the insert. After a crash between insert and commit the batch comes again: records at or
 * below the highest offset already stored (read from ClickHouse on every assignment) are skipped,
 * and a re-insert of the same positions collapses in the table anyway (keyed by partition and
 * offset). ClickHouse or the registry unavailable: the same batch is retried with backoff.
 */
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
import { fromAvro, parseSubjectStateChange, subjectStateChangeAvro, type Topics, ValidationError } from '@custos/schemas';
import {
  classifyStoreError,
  insertSubjectStateRows,
  type Store,
  type SubjectStateRow,
  storedSubjectStateOffset,
} from '@custos/store';
import type { Logger } from 'pino';
import { keepAlive } from './heartbeat.js';

export interface SubjectStateHistoryOptions {
  kafka: Kafka;
  codec: AvroCodec;
  store: Store;
  topics: Topics;
  logger: Logger;
  /** default `custos-sink-subject-state` */
  groupId?: string | undefined;
  retryMinMs?: number | undefined;
  retryMaxMs?: number | undefined;
  onFatal?: ((err: unknown) => void) | undefined;
}

export interface SubjectStateHistoryStats {
  stored: number;
  deadLetters: number;
  skipped: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** a tenth of kafkajs' default 30 s session, as the decisions sink does */
const HEARTBEAT_INTERVAL_MS = 3_000;

export class SubjectStateHistory {
  readonly stats: SubjectStateHistoryStats = { stored: 0, deadLetters: 0, skipped: 0 };
  private consumer?: Consumer;
  private producer?: Producer;
  private schema?: RegisteredSchema;
  private dlq?: DeadLetterEncoder;
  private stopping = false;
  /** highest stored offset per partition, valid while this member owns the partition */
  private readonly stored = new Map<number, bigint>();

  constructor(private readonly opts: SubjectStateHistoryOptions) {}

  get groupId(): string {
    return this.opts.groupId ?? 'custos-sink-subject-state';
  }

  async start(): Promise<void> {
    const { kafka, codec, topics, logger } = this.opts;
    const admin = kafka.admin();
    await admin.connect();
    try {
      await ensureTopics(admin, [topics.subjectState, topics.subjectStateDlq]);
    } finally {
      await admin.disconnect();
    }
    const stopping = () => this.stopping;
    this.schema = await retryWhileUnavailable(
      'registering the subject-state schema',
      () => codec.register(topics.subjectState.subject, subjectStateChangeAvro),
      logger,
      stopping,
    );
    this.dlq = await retryWhileUnavailable(
      'registering the subject-state dead-letter schema',
      () => DeadLetterEncoder.create(codec, topics.subjectStateDlq.subject, 'sink'),
      logger,
      stopping,
    );
    this.producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await this.producer.connect();
    const consumer = kafka.consumer({ groupId: this.groupId, maxWaitTimeInMs: 500 });
    this.consumer = consumer;
    await consumer.connect();
    consumer.on(consumer.events.GROUP_JOIN, () => this.stored.clear());
    await whileTopicsPropagate(() => consumer.subscribe({ topic: topics.subjectState.name, fromBeginning: true }));
    await consumer.run({ autoCommit: false, eachBatchAutoResolve: false, eachBatch: (p) => this.onBatch(p) });
  }

  private async onBatch(payload: EachBatchPayload): Promise<void> {
    // a slow store must not get this member dropped while it waits (heartbeat.ts)
    const kept = keepAlive(payload, HEARTBEAT_INTERVAL_MS);
    try {
      await this.processBatch(kept.payload);
    } catch (err) {
      this.stored.delete(payload.batch.partition);
      if (isFatal(err)) {
        this.consumer?.pause([{ topic: this.opts.topics.subjectState.name }]);
        this.opts.logger.error({ err }, 'subject-state history cannot go on');
        this.opts.onFatal?.(err);
        return;
      }
      throw err;
    } finally {
      kept.stop();
    }
  }

  private async processBatch(payload: EachBatchPayload): Promise<void> {
    const { batch, resolveOffset, heartbeat } = payload;
    if (batch.messages.length === 0) return;
    const partition = batch.partition;
    const head = await this.retrying(payload, 'reading the stored subject-state offset', async () => {
      const known = this.stored.get(partition);
      if (known !== undefined) return known;
      const o = await storedSubjectStateOffset(this.opts.store, partition);
      this.stored.set(partition, o);
      return o;
    });
    if (head === undefined) return;
    const rows: SubjectStateRow[] = [];
    const letters = [];
    let skipped = 0;
    for (const m of batch.messages) {
      if (BigInt(m.offset) <= head) {
        skipped += 1;
        continue;
      }
      // A tombstone deletes a key under compaction: nothing happened to the subject.
      if (m.value === null) continue;
      const r = await this.retrying(payload, 'decoding a subject-state change', () => this.decode(m, partition));
      if (r === undefined) return;
      if ('row' in r) rows.push(r.row);
      else letters.push(this.letter(batch.topic, partition, m, r.step, r.err));
    }
    // the group moved on while this batch waited: its next owner stores it
    if (payload.isStale()) return;
    if (letters.length > 0) {
      await this.producer!.send({ topic: this.opts.topics.subjectStateDlq.name, messages: letters });
      this.stats.deadLetters += letters.length;
      this.opts.logger.warn(
        { count: letters.length, dlq: this.opts.topics.subjectStateDlq.name },
        'invalid subject-state changes dead-lettered',
      );
    }
    if (rows.length > 0) {
      const done = await this.retrying(payload, 'storing subject-state changes', () =>
        insertSubjectStateRows(this.opts.store, rows).then(() => true),
      );
      if (!done) return;
      this.stats.stored += rows.length;
    }
    this.stats.skipped += skipped;
    const last = (batch.messages[batch.messages.length - 1] as KafkaMessage).offset;
    this.stored.set(partition, BigInt(last));
    await this.consumer!.commitOffsets([{ topic: batch.topic, partition, offset: (BigInt(last) + 1n).toString() }]);
    resolveOffset(last);
    await heartbeat();
  }

  private async decode(
    m: KafkaMessage,
    partition: number,
  ): Promise<{ row: SubjectStateRow } | { step: 'decode' | 'validate'; err: unknown }> {
    let value: unknown;
    try {
      value = (await this.opts.codec.decode(m.value, this.schema)).value;
    } catch (err) {
      // the registry, not the record: retried (retriable) or the consumer stops (fatal)
      if (isRetriable(err) || isFatal(err)) throw err;
      return { step: 'decode', err };
    }
    const parsed = parseSubjectStateChange(fromAvro(subjectStateChangeAvro, value));
    if (!parsed.ok) return { step: 'validate', err: new ValidationError('subject-state change', parsed.errors) };
    const c = parsed.value;
    return {
      row: {
        tenantId: c.tenantId,
        subjectId: c.subjectId,
        occurredAt: c.occurredAt,
        eventId: c.eventId,
        change: c.change,
        reference: c.reference ?? null,
        partition,
        offset: m.offset,
      },
    };
  }

  private letter(topic: string, partition: number, m: KafkaMessage, step: string, err: unknown) {
    return this.dlq!.message({ topic, partition, offset: m.offset, key: m.key, value: m.value, headers: m.headers }, step, err);
  }

  /** Runs `fn` until it succeeds, backing off while ClickHouse or the registry is unavailable; undefined when abandoned. */
  private async retrying<T>(payload: EachBatchPayload, what: string, fn: () => Promise<T>): Promise<T | undefined> {
    let wait = this.opts.retryMinMs ?? 200;
    for (let attempt = 0; ; attempt++) {
      try {
        return await fn();
      } catch (err) {
        if (isFatal(err)) throw err;
        const retriable = isRetriable(err) || classifyStoreError(err) === 'retriable';
        if (!retriable) throw err;
        if (this.stopping || !payload.isRunning() || payload.isStale()) return undefined;
        if (attempt % 10 === 0) this.opts.logger.warn({ err, attempt }, `${what} failed; retrying`);
        await sleep(wait);
        wait = Math.min(wait * 2, this.opts.retryMaxMs ?? 5000);
        await payload.heartbeat().catch(() => {});
      }
    }
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await this.consumer?.disconnect().catch(() => {});
    await this.producer?.disconnect().catch(() => {});
  }
}
