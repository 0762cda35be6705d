/**
 * A backlog on six partitions stored six at a time while the store holds the first (joint) insert
 * for longer than the group's session timeout: the sink heartbeats throughout, so the coordinator
 * never drops it — one group generation, no batch delivered twice — and every decision is stored
 * once. A member joining meanwhile gets its partitions once the held insert returned, with the
 * first member still the same member.
 */
import { createLogger } from '@custos/config';
import { AvroCodec, createKafka, ensureTopics } from '@custos/kafka';
import { decisionAvro, toAvro } from '@custos/schemas';
import { createStore, migrate, queryRows, type Store, sampleDecisions, withDatabase } from '@custos/store';
import { infraEnv, testStore, testTopics, waitFor } from '@custos/test/support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSinkMetrics } from './metrics.js';
import { Sink } from './sink.js';

const { brokers, registryUrl } = infraEnv();
const logger = createLogger('sink-slow-joint-test', 'error');
const kafka = createKafka({ brokers, clientId: 'sink-slow-joint-test', logger });
const codec = AvroCodec.connect(registryUrl);
const PARTITIONS = 6;
const N = 6000;
/** the broker's smallest allowed session timeout (group.min.session.timeout.ms) */
const SESSION_MS = 6000;
/** how long the store takes for the first insert: well past the session timeout */
const HOLD_MS = 2.5 * SESSION_MS;
let root: Store;
let dbs = 0;

describe('sink on a store holding a joint insert past the session timeout', () => {
  beforeAll(() => {
    const { database, chdbPath } = testStore('sink-slow-joint');
    root = createStore({ url: infraEnv().clickhouseUrl, database, chdbPath });
  });
  afterAll(async () => {
    for (let i = 0; i < dbs; i++) await root.client.command({ query: `DROP DATABASE IF EXISTS ${root.database}_${i}` });
    await root.close();
  });

  /** N decisions on six partitions (a backlog), a store of their own, and one whose first insert takes HOLD_MS. */
  async function backlog(label: string) {
    const topics = testTopics(label, PARTITIONS);
    const admin = kafka.admin();
    await admin.connect();
    await ensureTopics(admin, Object.values(topics));
    const store = withDatabase(root, `${root.database}_${dbs++}`);
    await migrate(store);
    const schema = await codec.register(topics.decisions.subject, decisionAvro);
    const producer = kafka.producer({ transactionalId: `${topics.decisions.name}-p`, maxInFlightRequests: 1, idempotent: true });
    await producer.connect();
    const decisions = sampleDecisions(N, {
      start: Date.parse('2026-10-01T00:00:00Z'),
      spanMs: 86_400_000,
      actors: 60,
      subjects: 500,
    });
    const txn = await producer.transaction();
    await txn.send({
      topic: topics.decisions.name,
      messages: decisions.map((d, i) => ({
        key: d.event.actor.id,
        partition: i % PARTITIONS,
        value: schema.encode(toAvro(decisionAvro, d)),
      })),
    });
    await txn.commit();
    await producer.disconnect();

    // The first insert takes HOLD_MS (a store busy merging, a server under load): the fault injected.
    const held = { rows: 0, joint: false, released: false };
    const slow: Store = {
      ...store,
      async insertRaw(i) {
        if (held.rows === 0) {
          let rows = 1;
          for (const b of i.body) if (b === 0x0a) rows++;
          held.rows = rows;
          held.joint = String(i.settings?.insert_deduplication_token ?? '').startsWith('custos-j-');
          await new Promise((r) => setTimeout(r, HOLD_MS));
          held.released = true;
        }
        await store.insertRaw(i);
      },
    };
    const groupId = `${topics.decisions.name}-sink`;
    const members = async () => {
      const [g] = (await admin.describeGroups([groupId])).groups;
      return { state: g?.state, ids: g?.members.map((m) => m.memberId).sort() ?? [] };
    };
    const sink = (s: Store, metrics = createSinkMetrics()) =>
      new Sink({
        kafka,
        codec,
        store: s,
        topics,
        logger,
        groupId,
        partitionsConcurrently: PARTITIONS,
        sessionTimeoutMs: SESSION_MS,
        minBatchBytes: 1,
        maxBatchWaitMs: 100,
        metrics,
        subjectStateHistory: false,
      });
    const stored = async () =>
      (
        await queryRows<{ rows: number; events: number }>(
          store,
          `SELECT count() AS rows, uniqExact(event_id) AS events FROM ${store.table('decisions')}`,
        )
      )[0];
    return { admin, store, slow, held, members, sink, stored };
  }

  it('stays in its group and stores each decision once', async () => {
    const { admin, slow, held, members, sink: newSink, stored } = await backlog('sink-slow-joint');
    const metrics = createSinkMetrics();
    const sink = newSink(slow, metrics);
    await sink.start();
    try {
      await waitFor(() => sink.stats.joins >= 1, { what: 'the sink joined its group', timeoutMs: 30_000 });
      await waitFor(async () => (await members()).ids.length === 1, { what: 'one member in the group', timeoutMs: 30_000 });
      const first = (await members()).ids;
      await waitFor(() => held.released, { what: 'the held insert returned', timeoutMs: HOLD_MS + 30_000, everyMs: 200 });
      // Past the session timeout without a batch finishing: the coordinator still knows the member.
      expect((await members()).ids).toEqual(first);
      await waitFor(() => sink.stats.rows >= N, { what: `${N} rows`, timeoutMs: 60_000, everyMs: 100 });
      expect((await members()).ids).toEqual(first);
    } finally {
      await sink.stop();
      await admin.disconnect();
    }
    expect(held.joint).toBe(true);
    expect(held.rows).toBeGreaterThan(N / PARTITIONS);
    expect(sink.stats.joins).toBe(1);
    expect((await metrics.groupJoins.get()).values[0]?.value).toBe(1);
    expect(sink.stats.skipped).toBe(0);
    expect(sink.stats.rows).toBe(N);
    expect(await stored()).toEqual({ rows: N, events: N });
  });

  it('a member joining during the held insert shares the partitions once it returned; each decision stored once', async () => {
    const { admin, store, slow, held, members, sink: newSink, stored } = await backlog('sink-slow-joint-join');
    const a = newSink(slow);
    const b = newSink(store);
    await a.start();
    try {
      await waitFor(async () => held.rows > 0 && (await members()).ids.length === 1, {
        what: 'the first member holding an insert',
        timeoutMs: 30_000,
      });
      const first = (await members()).ids;
      await b.start();
      await waitFor(
        async () => {
          const m = await members();
          return held.released && m.state === 'Stable' && m.ids.length === 2;
        },
        { what: 'two members, the held insert returned', timeoutMs: HOLD_MS + 60_000, everyMs: 200 },
      );
      // The first member rejoined as itself: it was never dropped, only rebalanced.
      expect((await members()).ids).toEqual(expect.arrayContaining(first));
      await waitFor(async () => (await stored())?.events === N, { what: `${N} decisions stored`, timeoutMs: 60_000 });
    } finally {
      await b.stop();
      await a.stop();
      await admin.disconnect();
    }
    expect(a.stats.joins).toBe(2);
    expect(await stored()).toEqual({ rows: N, events: N });
  });
});
