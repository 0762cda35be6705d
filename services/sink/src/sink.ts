/**
 * The sink: decisions (read committed) → ClickHouse, in batches. Offsets are committed only after
 * the insert succeeded; a re-delivered batch carries the same de-duplication token and is not
 * stored twice. When ClickHouse is unavailable the consumer pauses and retries with backoff.
 */
import {
  type AvroCodec,
  type Consumer,
  DeadLetterEncoder,
  type EachBatchPayload,
  ensureTopics,
  isRetriable,
  type Kafka,
  type Producer,
  type RegisteredSchema,
} from '@custos/kafka';
import { type Decision, decisionAvro, fromAvro, type Topics } from '@custos/schemas';
import { type DecisionRow, insertDecisions, type Store, toRow } from '@custos/store';
import type { Logger } from 'pino';

export interface SinkOptions {
  kafka: Kafka;
  codec: AvroCodec;
  store: Store;
  topics: Topics;
  logger: Logger;
  groupId?: string;
  /** most rows per insert */
  maxBatchRows?: number;
  /** first and largest wait between insert retries */
  retryMinMs?: number;
  retryMaxMs?: number;
}

export interface SinkStats {
  rows: number;
  batches: number;
  deadLetters: number;
  insertFailures: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class Sink {
  readonly stats: SinkStats = { rows: 0, batches: 0, deadLetters: 0, insertFailures: 0 };
  private consumer?: Consumer;
  private producer?: Producer;
  private schema?: RegisteredSchema;
  private dlq?: DeadLetterEncoder;
  private stopping = false;

  constructor(private readonly opts: SinkOptions) {}

  get groupId(): string {
    return this.opts.groupId ?? 'custos-sink';
  }

  async start(): Promise<void> {
    const { kafka, codec, topics } = this.opts;
    const admin = kafka.admin();
    await admin.connect();
    try {
      await ensureTopics(admin, [topics.decisions, topics.decisionsDlq]);
    } finally {
      await admin.disconnect();
    }
    this.schema = await codec.register(topics.decisions.subject, decisionAvro);
    this.dlq = await DeadLetterEncoder.create(codec, topics.decisionsDlq.subject, 'sink');
    this.producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await this.producer.connect();
    this.consumer = kafka.consumer({ groupId: this.groupId, readUncommitted: false, maxBytesPerPartition: 4 * 1024 * 1024 });
    await this.consumer.connect();
    await this.consumer.subscribe({ topic: topics.decisions.name, fromBeginning: true });
    await this.consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      eachBatch: (p) => this.processBatch(p),
    });
  }

  private async processBatch({ batch, heartbeat, resolveOffset, isRunning, isStale }: EachBatchPayload): Promise<void> {
    const { codec, topics, logger } = this.opts;
    const max = this.opts.maxBatchRows ?? 50_000;
    for (let start = 0; start < batch.messages.length; start += max) {
      const chunk = batch.messages.slice(start, start + max);
      const rows: DecisionRow[] = [];
      const letters = [];
      for (const m of chunk) {
        try {
          const { value } = await codec.decode(m.value, this.schema);
          rows.push(toRow(fromAvro<Decision>(decisionAvro, value), batch.partition, m.offset));
        } catch (err) {
          if (isRetriable(err)) throw err;
          letters.push(
            this.dlq!.message(
              {
                topic: batch.topic,
                partition: batch.partition,
                offset: m.offset,
                key: m.key,
                value: m.value,
                headers: m.headers,
              },
              'decode',
              err,
            ),
          );
        }
      }
      const first = chunk[0]!.offset;
      const last = chunk[chunk.length - 1]!.offset;
      // Same batch boundaries on re-delivery are not guaranteed, so the token alone is not the whole
      // story: the table is also a ReplacingMergeTree keyed on event_id.
      const token = `${topics.decisions.name}-${batch.partition}-${first}-${last}`;
      await this.insertWithRetry(rows, token, heartbeat, () => isRunning() && !isStale());
      if (letters.length > 0) {
        await this.producer!.send({ topic: topics.decisionsDlq.name, messages: letters, acks: -1 });
        this.stats.deadLetters += letters.length;
      }
      resolveOffset(last);
      await this.consumer!.commitOffsets([
        { topic: batch.topic, partition: batch.partition, offset: (BigInt(last) + 1n).toString() },
      ]);
      this.stats.rows += rows.length;
      this.stats.batches += 1;
      logger.debug({ partition: batch.partition, rows: rows.length }, 'stored batch');
      await heartbeat();
    }
  }

  private async insertWithRetry(
    rows: DecisionRow[],
    token: string,
    heartbeat: () => Promise<void>,
    alive: () => boolean,
  ): Promise<void> {
    let wait = this.opts.retryMinMs ?? 200;
    for (;;) {
      try {
        await insertDecisions(this.opts.store, rows, token);
        return;
      } catch (err) {
        this.stats.insertFailures += 1;
        if (this.stopping || !alive()) throw err;
        this.opts.logger.warn({ err, waitMs: wait, rows: rows.length }, 'ClickHouse insert failed; retrying');
        await sleep(wait * (0.5 + Math.random()));
        await heartbeat();
        wait = Math.min(wait * 2, this.opts.retryMaxMs ?? 10_000);
      }
    }
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await this.consumer?.disconnect();
    await this.producer?.disconnect();
  }
}
