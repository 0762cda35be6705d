/**
 * The subject-state history on real Kafka, a real registry and chDB: every change stored once
 * through a re-delivery of everything (a new member without committed offsets, as after a crash
 * between insert and commit) and a batch inserted twice; invalid changes dead-lettered.
 */
import { createLogger } from '@custos/config';
import { AvroCodec, createKafka, ensureTopics, type Kafka } from '@custos/kafka';
import { type DeadLetter, deadLetterAvro, fromAvro, subjectStateChangeAvro, toAvro } from '@custos/schemas';
import { createStore, insertSubjectStateRows, migrate, queryRows, type Store, subjectStateHistory } from '@custos/store';
import { infraEnv, testStore, testTopics, waitFor } from '@custos/test/support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SubjectStateHistory } from './subject-state-history.js';

const { brokers, registryUrl } = infraEnv();
const logger = createLogger('subject-state-history-test', 'warn');
const kafka: Kafka = createKafka({ brokers, clientId: 'subject-state-history-test', logger });
const codec = AvroCodec.connect(registryUrl);
const topics = testTopics('ss-history', 3);
const running: SubjectStateHistory[] = [];
let store: Store;

const N = 60;
const CHANGES = ['promotional_opt_out', 'promotional_opt_in', 'erasure_completed', 'legal_hold_placed', 'legal_hold_released'];

function history(groupId: string): SubjectStateHistory {
  const h = new SubjectStateHistory({ kafka, codec, store, topics, logger, groupId, retryMinMs: 50, retryMaxMs: 400 });
  running.push(h);
  return h;
}

async function stored(): Promise<{ rows: number; positions: number }> {
  const [r] = await queryRows<{ rows: number; positions: number }>(
    store,
    `SELECT count() AS rows, uniqExact(kafka_partition, kafka_offset) AS positions FROM ${store.table('subject_state_history')}`,
  );
  return { rows: Number(r?.rows), positions: Number(r?.positions) };
}

describe('SubjectStateHistory', () => {
  beforeAll(async () => {
    const { database, chdbPath } = testStore('ss-history');
    store = createStore({ url: infraEnv().clickhouseUrl, database, chdbPath });
    await migrate(store);
    const admin = kafka.admin();
    await admin.connect();
    await ensureTopics(admin, Object.values(topics));
    await admin.disconnect();
  });
  afterAll(async () => {
    for (const h of running) await h.stop();
    await store.close();
  });

  it('stores every change once, re-delivered or inserted twice, and dead-letters invalid ones', async () => {
    const schema = await codec.register(topics.subjectState.subject, subjectStateChangeAvro);
    const change = (i: number, tenantId = 'spera') =>
      schema.encode(
        toAvro(subjectStateChangeAvro, {
          eventId: `0190a000-0000-7000-8000-${String(i).padStart(12, '0')}`,
          occurredAt: new Date(Date.UTC(2026, 9, 1) + i * 60_000).toISOString(),
          tenantId,
          subjectId: `cust-${i % 4}`,
          change: CHANGES[i % CHANGES.length],
          reference: i % 2 ? `ticket ${i}` : null,
        }),
      );
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({
      topic: topics.subjectState.name,
      messages: [
        ...Array.from({ length: N }, (_, i) => ({ key: `k${i}`, value: change(i) })),
        { key: 'blank', value: change(N, ''), headers: { from: 'elsewhere' } },
        { key: 'garbage', value: Buffer.from([0, 0, 0, 0]) },
        { key: 'tombstone', value: null },
      ],
    });
    await producer.disconnect();

    const first = history(`${topics.subjectState.name}-history`);
    await first.start();
    await waitFor(async () => (await stored()).rows >= N && first.stats.deadLetters >= 2, { what: 'every change stored' });
    expect(await stored()).toEqual({ rows: N, positions: N });

    // Everything delivered again to a member that knows of no committed offset: nothing is stored twice.
    const again = history(`${topics.subjectState.name}-history-again`);
    await again.start();
    await waitFor(() => again.stats.skipped + again.stats.deadLetters >= N, { what: 'the re-delivery to be skipped' });
    expect(again.stats.stored).toBe(0);
    expect((await stored()).positions).toBe(N);

    // A batch inserted twice (a retry after an answer lost): the reader still sees each change once.
    const cust0 = await subjectStateHistory(store, { subjectId: 'cust-0', tenants: ['spera'] });
    await insertSubjectStateRows(store, cust0);
    const twice = await subjectStateHistory(store, { subjectId: 'cust-0', tenants: ['spera'] });
    expect(twice.map((r) => r.offset)).toEqual(cust0.map((r) => r.offset));
    expect(twice).toHaveLength(N / 4);
    expect(twice.map((r) => r.occurredAt)).toEqual([...twice.map((r) => r.occurredAt)].sort());

    // The invalid ones, with their bytes, key and headers (the tombstone is not a change).
    const letters: DeadLetter[] = [];
    const consumer = kafka.consumer({ groupId: `${topics.subjectStateDlq.name}-reader` });
    await consumer.connect();
    await consumer.subscribe({ topic: topics.subjectStateDlq.name, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        letters.push(fromAvro(deadLetterAvro, (await codec.decode(message.value)).value) as DeadLetter);
      },
    });
    await waitFor(() => letters.length >= 2, { what: 'the dead letters' });
    await consumer.disconnect();
    // (the second member dead-letters them again: they lie beyond the last stored change, and a
    // letter is sent before the offsets are committed — repeated, never lost)
    const byOffset = new Map(letters.filter((l) => l.service === 'sink').map((l) => [l.offset, l]));
    const first2 = [...byOffset.values()].sort((a, b) => Number(a.offset) - Number(b.offset));
    expect(first2.map((l) => [l.step, Buffer.from(l.key ?? []).toString(), l.offset])).toEqual([
      ['validate', 'blank', String(N)],
      ['decode', 'garbage', String(N + 1)],
    ]);
    expect(first2[0]?.reason).toMatch(/tenantId/);
    expect(Buffer.from(first2[0]?.value ?? []).equals(change(N, ''))).toBe(true);
    expect((first2[0]?.headers ?? []).map((h) => [h.key, Buffer.from(h.value ?? []).toString()])).toEqual([
      ['from', 'elsewhere'],
    ]);
  });
});
