/**
 * The stream enforcer: access-events → decisions, exactly once. Each batch is judged and its
 * decisions, its dead letters and its consumer offsets go out in one Kafka transaction, so a crash
 * anywhere replays the batch and read-committed consumers never see a decision twice.
 */
import {
  type AvroCodec,
  type Consumer,
  DeadLetterEncoder,
  type EachBatchPayload,
  ensureTopics,
  type Kafka,
  type KafkaMessage,
  type Producer,
  type RegisteredSchema,
  readTable,
  type TableReader,
} from '@custos/kafka';
import {
  type AccessEvent,
  accessEventAvro,
  type Decision,
  decisionAvro,
  fromAvro,
  parseAccessEvent,
  parseSubjectStateChange,
  subjectStateChangeAvro,
  type Topics,
  toAvro,
  ValidationError,
} from '@custos/schemas';
import type { Logger } from 'pino';
import type { Judge } from './judge.js';

export interface EnforcerOptions {
  kafka: Kafka;
  codec: AvroCodec;
  topics: Topics;
  judge: Judge;
  logger: Logger;
  groupId?: string;
  /** unique per instance: fences a previous incarnation of the same instance */
  transactionalId: string;
  onDecision?: (d: Decision) => void;
}

export interface EnforcerStats {
  events: number;
  decisions: Record<Decision['outcome'], number>;
  deadLetters: number;
  batches: number;
}

export class Enforcer {
  readonly stats: EnforcerStats = { events: 0, decisions: { allow: 0, flag: 0, deny: 0 }, deadLetters: 0, batches: 0 };
  private consumer?: Consumer;
  private producer?: Producer;
  private table?: TableReader;
  private decisionSchema?: RegisteredSchema;
  private accessSchema?: RegisteredSchema;
  private dlq?: DeadLetterEncoder;

  constructor(private readonly opts: EnforcerOptions) {}

  get groupId(): string {
    return this.opts.groupId ?? 'custos-enforcer';
  }

  async start(): Promise<void> {
    const { kafka, codec, topics, logger } = this.opts;
    const admin = kafka.admin();
    await admin.connect();
    try {
      await ensureTopics(admin, Object.values(topics));
    } finally {
      await admin.disconnect();
    }
    this.decisionSchema = await codec.register(topics.decisions.subject, decisionAvro);
    this.accessSchema = await codec.register(topics.accessEvents.subject, accessEventAvro);
    const subjectSchema = await codec.register(topics.subjectState.subject, subjectStateChangeAvro);
    this.dlq = await DeadLetterEncoder.create(codec, topics.accessEventsDlq.subject, 'enforcer');

    // Subject state is a global table: read all of it before judging anything.
    this.table = await readTable(
      kafka,
      topics.subjectState.name,
      async (m) => {
        try {
          const { value } = await codec.decode(m.value, subjectSchema);
          const parsed = parseSubjectStateChange(fromAvro(subjectStateChangeAvro, value));
          if (parsed.ok) this.opts.judge.applySubjectState(parsed.value);
          else logger.warn({ offset: m.offset, errors: parsed.errors }, 'invalid subject-state change skipped');
        } catch (err) {
          logger.warn({ err, offset: m.offset }, 'undecodable subject-state change skipped');
        }
      },
      { groupPrefix: `${this.groupId}-subject-state` },
    );
    await this.table.caughtUp;
    logger.info('subject state loaded');

    this.producer = kafka.producer({
      transactionalId: this.opts.transactionalId,
      idempotent: true,
      maxInFlightRequests: 1,
    });
    await this.producer.connect();
    this.consumer = kafka.consumer({
      groupId: this.groupId,
      readUncommitted: false,
      sessionTimeout: 30_000,
      heartbeatInterval: 3000,
    });
    await this.consumer.connect();
    await this.consumer.subscribe({ topic: topics.accessEvents.name, fromBeginning: true });
    await this.consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      eachBatch: (payload) => this.processBatch(payload),
    });
  }

  private async decide(m: KafkaMessage): Promise<{ decision: Decision } | { error: unknown; step: string }> {
    let json: unknown;
    try {
      const { value } = await this.opts.codec.decode(m.value, this.accessSchema);
      json = fromAvro(accessEventAvro, value);
    } catch (err) {
      // A registry outage is not the record's fault: let the batch fail and be retried.
      if (err instanceof Error && 'retriable' in err && err.retriable === true) throw err;
      return { error: err, step: 'decode' };
    }
    const parsed = parseAccessEvent(json);
    if (!parsed.ok) return { error: new ValidationError('access event', parsed.errors), step: 'validate' };
    const j = this.opts.judge.judge(parsed.value);
    return { decision: { eventId: parsed.value.eventId, decidedAt: new Date().toISOString(), ...j, event: parsed.value } };
  }

  private async processBatch({ batch, isRunning, isStale, heartbeat, resolveOffset }: EachBatchPayload): Promise<void> {
    const { topics } = this.opts;
    const producer = this.producer;
    const decisionSchema = this.decisionSchema;
    const dlq = this.dlq;
    if (!producer || !decisionSchema || !dlq || batch.messages.length === 0) return;
    const decisions: { key: Buffer | null; value: Buffer; headers: Record<string, string> }[] = [];
    const letters: ReturnType<DeadLetterEncoder['message']>[] = [];
    const made: Decision[] = [];
    for (const m of batch.messages) {
      if (!isRunning() || isStale()) return;
      const r = await this.decide(m);
      if ('decision' in r) {
        made.push(r.decision);
        decisions.push({
          key: m.key,
          value: decisionSchema.encode(toAvro(decisionAvro, r.decision)),
          headers: { 'custos.event-id': r.decision.eventId },
        });
      } else {
        letters.push(
          dlq.message(
            { topic: batch.topic, partition: batch.partition, offset: m.offset, key: m.key, value: m.value, headers: m.headers },
            r.step,
            r.error,
          ),
        );
      }
    }
    const next = (BigInt(batch.lastOffset()) + 1n).toString();
    const txn = await producer.transaction();
    try {
      const sends = [];
      if (decisions.length > 0) sends.push({ topic: topics.decisions.name, messages: decisions });
      if (letters.length > 0) sends.push({ topic: topics.accessEventsDlq.name, messages: letters });
      if (sends.length > 0) await txn.sendBatch({ topicMessages: sends });
      await txn.sendOffsets({
        consumerGroupId: this.groupId,
        topics: [{ topic: batch.topic, partitions: [{ partition: batch.partition, offset: next }] }],
      });
      await txn.commit();
    } catch (err) {
      await txn.abort().catch(() => undefined);
      throw err;
    }
    this.stats.batches += 1;
    this.stats.events += batch.messages.length;
    this.stats.deadLetters += letters.length;
    for (const d of made) {
      this.stats.decisions[d.outcome] += 1;
      this.opts.onDecision?.(d);
    }
    // Offsets were committed in the transaction; this only tells kafkajs where to fetch next.
    resolveOffset(batch.lastOffset());
    await heartbeat();
  }

  async stop(): Promise<void> {
    await this.consumer?.disconnect();
    await this.producer?.disconnect();
    await this.table?.stop();
  }
}
