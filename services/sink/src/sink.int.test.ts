/**
 * The sink on real Kafka, a real registry and real ClickHouse (chDB): decisions produced the way
 * the enforcer does (transactional, keyed by actor) land exactly once and chained, through a crash
 * between insert and commit, a restart, ClickHouse refusing inserts mid-run (table detached), and
 * records that cannot be stored (dead-lettered with the reason). The stored chains then verify,
 * also against the topic — which is what catches the newest rows deleted after the last checkpoint.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '@custos/config';
import { AvroCodec, createKafka, ensureTopics, type Kafka } from '@custos/kafka';
import { type DeadLetter, type Decision, deadLetterAvro, decisionAvro, fromAvro, type Topics, toAvro } from '@custos/schemas';
import {
  createStore,
  formatReport,
  migrate,
  queryRows,
  READ_MODEL_TABLE,
  readWitnessDir,
  SEARCH_TABLE,
  type Store,
  sampleDecisions,
  verifyRange,
  withDatabase,
} from '@custos/store';
import { infraEnv, testStore, testTopics, waitFor } from '@custos/test/support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSinkMetrics } from './metrics.js';
import { topicReference } from './reference.js';
import { Sink, type SinkOptions } from './sink.js';
import { readWitnessTopic } from './witness.js';

const { brokers, registryUrl } = infraEnv();
const logger = createLogger('sink-test', 'warn');
const kafka: Kafka = createKafka({ brokers, clientId: 'sink-test', logger });
const codec = AvroCodec.connect(registryUrl);
const { privateKey } = generateKeyPairSync('ed25519');
const trusted = [privateKey];
let root: Store;
let dbs = 0;
const sinks: Sink[] = [];

async function setup(label: string): Promise<{ topics: Topics; store: Store }> {
  const topics = testTopics(label, 3);
  const admin = kafka.admin();
  await admin.connect();
  await ensureTopics(admin, Object.values(topics));
  await admin.disconnect();
  const store = withDatabase(root, `${root.database}_${dbs++}`);
  await migrate(store);
  return { topics, store };
}

/** Produces decisions as the enforcer does: in transactions, keyed by actor. */
async function produce(topics: Topics, ds: Decision[], extra: { key: string; value: Buffer }[] = []): Promise<void> {
  const schema = await codec.register(topics.decisions.subject, decisionAvro);
  const producer = kafka.producer({
    transactionalId: `${topics.decisions.name}-test-${Math.random()}`,
    maxInFlightRequests: 1,
    idempotent: true,
  });
  await producer.connect();
  const messages = [...ds.map((d) => ({ key: d.event.actor.id, value: schema.encode(toAvro(decisionAvro, d)) })), ...extra];
  for (let i = 0; i < messages.length; i += 200) {
    const txn = await producer.transaction();
    await txn.send({ topic: topics.decisions.name, messages: messages.slice(i, i + 200) });
    await txn.commit();
  }
  await producer.disconnect();
}

function sink(topics: Topics, store: Store, over: Partial<SinkOptions> = {}): Sink {
  const s = new Sink({
    kafka,
    codec,
    store,
    topics,
    logger,
    groupId: `${topics.decisions.name}-sink`,
    maxBatchRows: 150,
    maxBatchWaitMs: 100,
    minBatchBytes: 1,
    retryMinMs: 50,
    retryMaxMs: 400,
    checkpointKey: privateKey,
    checkpointIntervalMs: 500,
    checkpointMaxRows: 120,
    metrics: createSinkMetrics(),
    ...over,
  });
  sinks.push(s);
  return s;
}

async function counts(store: Store): Promise<{ n: number; distinct: number }> {
  const [r] = await queryRows<{ n: number; distinct: number }>(
    store,
    `SELECT count() AS n, uniqExact(event_id) AS distinct FROM ${store.table('decisions')}`,
  );
  return { n: Number(r?.n), distinct: Number(r?.distinct) };
}

async function deadLetters(topics: Topics, n: number): Promise<DeadLetter[]> {
  const out: DeadLetter[] = [];
  const consumer = kafka.consumer({ groupId: `${topics.decisionsDlq.name}-reader-${Math.random()}` });
  await consumer.connect();
  await consumer.subscribe({ topic: topics.decisionsDlq.name, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message }) => {
      out.push(fromAvro<DeadLetter>(deadLetterAvro, (await codec.decode(message.value)).value));
    },
  });
  await waitFor(async () => out.length >= n, { what: `${n} dead letters`, timeoutMs: 60_000, everyMs: 250 });
  await consumer.disconnect();
  return out;
}

const ds = (n: number, seed: number) =>
  sampleDecisions(
    n,
    { start: Date.parse('2026-10-01T00:00:00Z'), spanMs: 10 * 86_400_000, actors: 40, subjects: 2000 },
    (() => {
      let a = seed;
      return () => {
        a = (a * 16807) % 2147483647;
        return a / 2147483647;
      };
    })(),
  );

describe('sink on real Kafka and ClickHouse', () => {
  beforeAll(async () => {
    const { database, chdbPath } = testStore('sink');
    root = createStore({ url: infraEnv().clickhouseUrl, database, chdbPath });
  });
  afterAll(async () => {
    for (const s of sinks) await s.stop().catch(() => undefined);
    for (let i = 0; i < dbs; i++) await root.client.command({ query: `DROP DATABASE IF EXISTS ${root.database}_${i}` });
    await root.close();
  });

  it('stores every decision once through a crash between insert and commit and a restart, and the chains verify', async () => {
    const { topics, store } = await setup('sink-crash');
    const decisions = ds(1500, 7);
    await produce(topics, decisions.slice(0, 900));
    let crashes = 0;
    const first = sink(topics, store, {
      hooks: {
        afterInsert: () => {
          // Twice: the rows are in ClickHouse, the offsets are not committed.
          if (crashes < 2 && first.stats.batches >= 1) {
            crashes += 1;
            throw new Error('simulated crash between insert and offset commit');
          }
        },
      },
    });
    await first.start();
    await waitFor(async () => (await counts(store)).n >= 900, { what: '900 rows', timeoutMs: 90_000, everyMs: 250 });
    expect(crashes).toBe(2);
    expect(first.stats.skipped).toBeGreaterThan(0); // the re-delivered rows were recognised
    await first.stop();
    // A new process: everything from the chains' heads in ClickHouse.
    await produce(topics, decisions.slice(900));
    const second = sink(topics, store);
    await second.start();
    await waitFor(async () => (await counts(store)).n >= 1500, { what: '1500 rows', timeoutMs: 90_000, everyMs: 250 });
    await second.stop();
    expect(await counts(store)).toEqual({ n: 1500, distinct: 1500 });
    const ref = await topicReference({ kafka, codec, topics, sinkGroupId: `${topics.decisions.name}-sink` });
    try {
      const report = await verifyRange(store, { trusted, reference: ref });
      expect(report.findings.filter((f) => f.severity !== 'info')).toEqual([]);
      expect(report.ok).toBe(true);
      expect(report.rows).toBe(1500);
      expect(report.checkpoints.valid).toBeGreaterThanOrEqual(3);
      // Now delete the two newest rows of one chain, after its last checkpoint: only the topic knows.
      const [head] = await queryRows<{ c: number; s: number }>(
        store,
        `SELECT kafka_partition AS c, toUInt64(max(chain_seq)) AS s FROM ${store.table('decisions')} GROUP BY c ORDER BY c LIMIT 1`,
      );
      await store.client.command({
        query: `ALTER TABLE ${store.table('checkpoints')} DELETE WHERE chain = ${head?.c} AND last_seq > ${Number(head?.s) - 2}`,
        clickhouse_settings: { mutations_sync: '2' },
      });
      // …and their copies in the two read models, which verify compares with decisions
      const newest = await queryRows<{ e: string }>(
        store,
        `SELECT toString(event_id) AS e FROM ${store.table('decisions')} WHERE kafka_partition = ${head?.c} AND chain_seq > ${Number(head?.s) - 2}`,
      );
      for (const model of [READ_MODEL_TABLE, SEARCH_TABLE]) {
        await store.client.command({
          query: `ALTER TABLE ${store.table(model)} DELETE WHERE event_id IN (${newest.map((r) => `'${r.e}'`).join(', ')})`,
          clickhouse_settings: { mutations_sync: '2' },
        });
      }
      await store.client.command({
        query: `ALTER TABLE ${store.table('decisions')} DELETE WHERE kafka_partition = ${head?.c} AND chain_seq > ${Number(head?.s) - 2}`,
        clickhouse_settings: { mutations_sync: '2' },
      });
      // The heads stored in ClickHouse still name the deleted checkpoint…
      const byHeads = await verifyRange(store, { trusted });
      expect(byHeads.findings.filter((f) => f.severity === 'error').map((f) => [f.kind, f.detectedBy])).toContainEqual([
        'checkpoint_missing',
        'head',
      ]);
      // …so a careful attacker deletes them too: then ClickHouse alone cannot tell,
      await store.client.command({
        query: `ALTER TABLE ${store.table('heads')} DELETE WHERE 1`,
        clickhouse_settings: { mutations_sync: '2' },
      });
      expect((await verifyRange(store, { trusted })).ok).toBe(true);
      // the witness topic can (the checkpoint, the heads and the rows it covered),
      const witness = await readWitnessTopic(kafka, topics);
      const byWitness = await verifyRange(store, { trusted, witness });
      expect(byWitness.ok).toBe(false);
      const kinds = new Set(byWitness.findings.filter((f) => f.severity === 'error').map((f) => `${f.kind}/${f.detectedBy}`));
      expect([...kinds].sort()).toEqual(['checkpoint_missing/witness', 'deleted/witness', 'head_missing/witness']);
      // and so can the topic, record by record.
      const against = await verifyRange(store, { trusted, reference: ref });
      const errs = against.findings.filter((f) => f.severity === 'error');
      expect(errs).toHaveLength(2);
      expect(
        errs.every((f) => f.kind === 'deleted' && f.detectedBy === 'topic' && /newest rows was deleted/.test(f.message)),
      ).toBe(true);
    } finally {
      await ref.close();
    }
  });

  it('witnesses every checkpoint and head on the topic and in a witness directory, and closes its chains at a stop', async () => {
    const { topics, store } = await setup('sink-witness');
    const dir = mkdtempSync(join(tmpdir(), 'custos-witness-'));
    const s = sink(topics, store, { witnessDir: dir });
    await s.start();
    await produce(topics, ds(600, 5));
    await waitFor(async () => (await counts(store)).n >= 600, { what: '600 rows', timeoutMs: 90_000, everyMs: 250 });
    await s.stop();
    expect(s.stats.checkpoints).toBeGreaterThanOrEqual(3);
    expect(s.stats.witnessed).toBe(s.stats.checkpoints + s.stats.heads);
    const fromTopic = await readWitnessTopic(kafka, topics);
    const fromDir = readWitnessDir(dir);
    // The same records in both (checkpoints of different chains are written concurrently, so the
    // two may list them in another order; each record names its chain and predecessor).
    const payloads = (log: typeof fromDir) => log.records.map((r) => r.payload).sort();
    expect(payloads(fromDir)).toEqual(payloads(fromTopic));
    expect(fromDir.records).toHaveLength(s.stats.witnessed);
    // the last record is the head of the stop, closing every chain the sink held
    const last = JSON.parse(fromTopic.records.at(-1)?.payload ?? '{}') as { kind: string; closed: number[]; open: number[] };
    expect(last).toMatchObject({ kind: 'custos.decisions.head', closed: [0, 1, 2], open: [] });
    for (const witness of [fromTopic, fromDir]) {
      const r = await verifyRange(store, { trusted, witness });
      expect(r.findings, formatReport(r)).toEqual([]);
      expect(r.rows).toBe(600);
    }
  });

  it('pauses while ClickHouse refuses inserts (table detached), then stores everything once', async () => {
    const { topics, store } = await setup('sink-outage');
    const decisions = ds(1200, 11);
    const s = sink(topics, store);
    await s.start();
    await produce(topics, decisions.slice(0, 300));
    await waitFor(async () => (await counts(store)).n >= 300, { what: '300 rows', timeoutMs: 90_000, everyMs: 250 });
    await store.client.command({ query: `DETACH TABLE ${store.table('decisions')}` });
    await produce(topics, decisions.slice(300));
    await waitFor(async () => s.stats.insertFailures >= 3, { what: 'insert failures', timeoutMs: 30_000, everyMs: 250 });
    expect((await s.metrics.paused.get()).values[0]?.value).toBe(1);
    await store.client.command({ query: `ATTACH TABLE ${store.table('decisions')}` });
    await waitFor(async () => (await counts(store)).n >= 1200, { what: '1200 rows', timeoutMs: 90_000, everyMs: 250 });
    expect((await s.metrics.paused.get()).values[0]?.value).toBe(0);
    await s.stop();
    expect(await counts(store)).toEqual({ n: 1200, distinct: 1200 });
    expect((await verifyRange(store, { trusted })).ok).toBe(true);
    const failures = (await s.metrics.insertFailures.get()).values.find((v) => v.labels.kind === 'retriable');
    expect(failures?.value).toBeGreaterThanOrEqual(3);
  });

  it('dead-letters what cannot be stored, with the reason, and stores the rest', async () => {
    const { topics, store } = await setup('sink-dlq');
    const decisions = ds(400, 13);
    const notUuid = { ...decisions[100]!, eventId: 'not-a-uuid', event: { ...decisions[100]!.event, eventId: 'not-a-uuid' } };
    const negative = { ...decisions[250]!, event: { ...decisions[250]!.event, recordCount: -5 } };
    const duplicate = { ...decisions[10]!, decidedAt: '2026-10-02T00:00:00.000Z' };
    const bad = [...decisions.slice(0, 100), notUuid, ...decisions.slice(101, 250), negative, ...decisions.slice(251), duplicate];
    await produce(topics, bad, [{ key: 's-1', value: Buffer.from('{"not":"avro"}') }]);
    const s = sink(topics, store);
    await s.start();
    await waitFor(async () => (await counts(store)).n >= 398, { what: '398 rows', timeoutMs: 90_000, everyMs: 250 });
    const letters = await deadLetters(topics, 4);
    await s.stop();
    expect(await counts(store)).toEqual({ n: 398, distinct: 398 });
    const byStep = Object.fromEntries(letters.map((l) => [l.step, l]));
    expect(Object.keys(byStep).sort()).toEqual(['decode', 'dedup', 'store']);
    expect(letters.filter((l) => l.step === 'store').map((l) => l.reason)).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/Cannot parse UUID/),
        expect.stringMatching(/Unsigned type must not contain '-'/),
      ]),
    );
    expect(byStep.dedup?.reason).toMatch(/duplicate eventId .*already stored at seq/);
    expect(letters.every((l) => l.sourceTopic === topics.decisions.name && l.value !== null)).toBe(true);
    expect((await s.metrics.insertFailures.get()).values.find((v) => v.labels.kind === 'record')?.value).toBeGreaterThanOrEqual(
      2,
    );
    const ref = await topicReference({ kafka, codec, topics, sinkGroupId: `${topics.decisions.name}-sink` });
    try {
      const report = await verifyRange(store, { trusted, reference: ref });
      expect(report.findings.filter((f) => f.severity !== 'info')).toEqual([]);
    } finally {
      await ref.close();
    }
  });
});
