/**
 * A store too slow for the sink's insert size (real chDB, a real `max_execution_time` on the large
 * inserts): the sink stores the timed-out insert in halves instead of retrying it whole, cuts later
 * inserts smaller, and grows them back once they are fast. Every decision is stored once and the
 * chain verifies — also when the timed-out insert was committed after all (as a ClickHouse server's
 * may be), which only leaves byte-identical copies.
 */
import { generateKeyPairSync } from 'node:crypto';
import { createLogger } from '@custos/config';
import { AvroCodec, createKafka, ensureTopics } from '@custos/kafka';
import { decisionAvro, toAvro } from '@custos/schemas';
import { createStore, migrate, queryRows, type Store, sampleDecisions, verifyRange, withDatabase } from '@custos/store';
import { infraEnv, testStore, testTopics, waitFor } from '@custos/test/support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSinkMetrics } from './metrics.js';
import { Sink } from './sink.js';

const { brokers, registryUrl } = infraEnv();
const logger = createLogger('sink-slow-test', 'error');
const kafka = createKafka({ brokers, clientId: 'sink-slow-test', logger });
const codec = AvroCodec.connect(registryUrl);
const { privateKey } = generateKeyPairSync('ed25519');
const N = 1200;
const MAX = 400;
let root: Store;
let dbs = 0;

/** The store, but the first insert of more than MAX / 2 rows runs out of time. */
function slowStore(store: Store, committedAnyway: boolean) {
  const log = { timeouts: 0, inserts: [] as number[], written: 0 };
  const wrapped: Store = {
    ...store,
    async insertRaw(i) {
      let rows = 1;
      for (const b of i.body) if (b === 0x0a) rows++;
      if (rows > MAX / 2 && log.timeouts === 0) {
        log.timeouts++;
        if (!committedAnyway) {
          // ClickHouse's own limit, at a size it cannot meet: chDB raises TIMEOUT_EXCEEDED, stores nothing.
          return store.insertRaw({ ...i, settings: { ...i.settings, max_execution_time: 0.000001 } });
        }
        // The insert lands, then the answer is a genuine TIMEOUT_EXCEEDED: the outcome a server can give.
        await store.insertRaw(i);
        log.written += rows;
        await store.client
          .query({ query: 'SELECT sleep(1) SETTINGS max_execution_time = 0.1', format: 'JSONEachRow' })
          .then((r) => r.json());
      }
      await store.insertRaw(i);
      log.inserts.push(rows);
      log.written += rows;
    },
  };
  return { wrapped, log };
}

describe('sink on a store too slow for its insert size', () => {
  beforeAll(() => {
    const { database, chdbPath } = testStore('sink-slow');
    root = createStore({ url: infraEnv().clickhouseUrl, database, chdbPath });
  });
  afterAll(async () => {
    for (let i = 0; i < dbs; i++) await root.client.command({ query: `DROP DATABASE IF EXISTS ${root.database}_${i}` });
    await root.close();
  });

  it.each([
    ['not stored (chDB)', false],
    ['stored anyway (a server)', true],
  ])('splits a timed-out insert (%s), shrinks then grows the insert size, stores each decision once', async (_, committed) => {
    const topics = testTopics(`sink-slow-${committed}`, 1);
    const admin = kafka.admin();
    await admin.connect();
    await ensureTopics(admin, Object.values(topics));
    await admin.disconnect();
    const store = withDatabase(root, `${root.database}_${dbs++}`);
    await migrate(store);
    const schema = await codec.register(topics.decisions.subject, decisionAvro);
    const producer = kafka.producer({ transactionalId: `${topics.decisions.name}-p`, maxInFlightRequests: 1, idempotent: true });
    await producer.connect();
    const decisions = sampleDecisions(N, {
      start: Date.parse('2026-10-01T00:00:00Z'),
      spanMs: 86_400_000,
      actors: 20,
      subjects: 500,
    });
    const txn = await producer.transaction();
    await txn.send({
      topic: topics.decisions.name,
      messages: decisions.map((d) => ({ key: d.event.actor.id, value: schema.encode(toAvro(decisionAvro, d)) })),
    });
    await txn.commit();
    await producer.disconnect();

    const { wrapped, log } = slowStore(store, committed);
    const caps: number[] = [];
    const metrics = createSinkMetrics();
    const sink: Sink = new Sink({
      kafka,
      codec,
      store: wrapped,
      topics,
      logger,
      groupId: `${topics.decisions.name}-sink`,
      maxBatchRows: MAX,
      minSplitRows: 50,
      minBatchBytes: 1,
      maxBatchWaitMs: 100,
      retryMinMs: 50,
      checkpointKey: privateKey,
      checkpointMaxRows: 500,
      metrics,
      subjectStateHistory: false,
      hooks: { afterInsert: () => void caps.push(sink.insertCap) },
    });
    await sink.start();
    try {
      await waitFor(async () => sink.stats.rows >= N, { what: `${N} rows`, timeoutMs: 60_000, everyMs: 100 });
    } finally {
      await sink.stop();
    }
    expect(log.timeouts).toBe(1);
    // the timed-out 400 stored as two halves, the next chunk cut at 200, then the cap grows back
    expect(log.inserts.slice(0, 3)).toEqual([MAX / 2, MAX / 2, MAX / 2]);
    expect(caps.slice(0, 2)).toEqual([MAX / 2, MAX / 2]);
    expect(Math.max(...log.inserts.slice(3))).toBe(MAX);
    expect(sink.insertCap).toBe(MAX);
    expect((await metrics.insertCap.get()).values[0]?.value).toBe(MAX);
    expect(log.inserts.reduce((a, b) => a + b, 0)).toBe(N);
    expect(log.written).toBe(committed ? N + MAX : N);
    // every seq holds one content (copies of a committed timeout are byte-identical), every decision once
    const [c] = await queryRows<{ seqs: number; contents: number; events: number }>(
      store,
      `SELECT uniqExact(chain_seq) AS seqs, uniqExact(chain_seq, chain_hash) AS contents, uniqExact(event_id) AS events
       FROM ${store.table('decisions')}`,
    );
    expect(c).toEqual({ seqs: N, contents: N, events: N });
    const report = await verifyRange(store, { trusted: [privateKey] });
    expect(report.findings.filter((f) => f.severity !== 'info')).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.rows).toBe(N);
  });
});
