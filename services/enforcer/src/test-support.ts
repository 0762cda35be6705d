/**
 * Helpers for the enforcer's integration tests (real Kafka, real registry): building events,
 * producing them as Avro, reading decisions back (waiting is `waitFor` of @custos/test/support).
 */
import { randomUUID } from 'node:crypto';
import type { AvroCodec, Consumer, Kafka, Producer } from '@custos/kafka';
import { accessEventAvro, type Decision, decisionAvro, fromAvro, type Topics, toAvro } from '@custos/schemas';
import { trackProgress } from '@custos/test/support';

export type EventInput = Record<string, unknown> & { actor: { id: string; type: string } };

/** A valid AccessEvent JSON form: s-asha reading a customer's contact data for support, now. */
export function makeEvent(over: Partial<EventInput> = {}): EventInput {
  return {
    eventId: randomUUID(),
    occurredAt: new Date().toISOString(),
    tenantId: 'spera',
    actor: { id: 's-asha', type: 'staff' },
    subject: { id: `cust-${randomUUID().slice(0, 8)}`, type: 'customer' },
    categories: ['personal.contact'],
    action: 'read',
    purpose: 'service.support',
    recordCount: 1,
    source: { service: 'test' },
    ...over,
  };
}

/** Produces events as Avro, keyed by actor.id, as the SDK does. */
export async function eventProducer(kafka: Kafka, codec: AvroCodec, topics: Topics) {
  const schema = await codec.register(topics.accessEvents.subject, accessEventAvro);
  const producer: Producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  return {
    async send(events: EventInput[]): Promise<void> {
      await producer.send({
        topic: topics.accessEvents.name,
        messages: events.map((e) => ({ key: e.actor.id, value: schema.encode(toAvro(accessEventAvro, e)) })),
      });
    },
    /** raw bytes, e.g. an undecodable record */
    async sendRaw(key: string, value: Buffer): Promise<void> {
      await producer.send({ topic: topics.accessEvents.name, messages: [{ key, value }] });
    },
    close: () => producer.disconnect(),
  };
}

export interface DecisionReader {
  readonly decisions: Decision[];
  /** raw record count (with read_uncommitted this includes records of aborted transactions) */
  readonly records: number;
  /**
   * Whether the reader has read every partition up to the topic's last stable offset as of now
   * (for a read-committed reader: every committed decision). With nothing more to come, that is
   * the positive way to know that no duplicate is still on its way.
   */
  caughtUp(): Promise<boolean>;
  stop(): Promise<void>;
}

/** Follows the decisions topic from the beginning with a group of its own. */
export async function readDecisions(
  kafka: Kafka,
  codec: AvroCodec,
  topic: string,
  opts: { readUncommitted?: boolean; decode?: boolean } = {},
): Promise<DecisionReader> {
  const consumer: Consumer = kafka.consumer({
    groupId: `${topic}-reader-${randomUUID().slice(0, 8)}`,
    readUncommitted: opts.readUncommitted ?? false,
    maxWaitTimeInMs: 200,
  });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const state = { decisions: [] as Decision[], records: 0 };
  const progress = trackProgress(consumer);
  const admin = kafka.admin();
  await admin.connect();
  await consumer.run({
    eachBatch: async ({ batch }) => {
      state.records += batch.messages.length;
      if (opts.decode === false) return;
      for (const m of batch.messages) state.decisions.push(fromAvro<Decision>(decisionAvro, (await codec.decode(m.value)).value));
    },
  });
  return {
    get decisions() {
      return state.decisions;
    },
    get records() {
      return state.records;
    },
    async caughtUp() {
      return progress.reached(await admin.fetchTopicOffsets(topic));
    },
    async stop() {
      await admin.disconnect();
      await consumer.disconnect();
    },
  };
}

/** eventId → how many times it was decided */
export function countIds(decisions: readonly Decision[]): Map<string, number> {
  const seen = new Map<string, number>();
  for (const d of decisions) seen.set(d.eventId, (seen.get(d.eventId) ?? 0) + 1);
  return seen;
}
