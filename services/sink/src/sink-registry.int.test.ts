/**
 * The sink against a schema registry that changes its mind (real Kafka, real ClickHouse, a registry
 * of the test's own with in-memory storage, so a restart makes it forget every id):
 * - hostile records (bytes that are no Avro, an unknown schema id, a broken body under the
 *   decisions' own id, a valid record of another schema under its correct id) are dead-lettered with
 *   their reasons and the good decisions are stored;
 * - after the registry forgot its ids, the decisions' schema is registered again and gets an id the
 *   sink knows as another schema: the sink stops and says so, stores, commits and dead-letters
 *   nothing of those records;
 * - the sink's process (main.ts) in that situation exits non-zero after a graceful stop.
 */
import { spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLogger } from '@custos/config';
import { AvroCodec, createKafka, ensureTopics, frame } from '@custos/kafka';
import {
  accessEventAvro,
  type DeadLetter,
  deadLetterAvro,
  decisionAvro,
  fromAvro,
  toAvro,
  topics as topicsOf,
} from '@custos/schemas';
import { createStore, migrate, queryRows, type Store, sampleDecisions, withDatabase } from '@custos/store';
import { registryInstance } from '@custos/test/registry-instance';
import { infraEnv, testStore, testTopics, uniquePrefix, waitFor } from '@custos/test/support';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSinkMetrics } from './metrics.js';
import { Sink } from './sink.js';

const repoRoot = fileURLToPath(new URL('../../..', import.meta.url));

interface LogLine {
  level: number;
  msg: string;
  err?: { name?: string; message?: string };
}

const decisions = (n: number) =>
  sampleDecisions(n, { start: Date.parse('2026-10-01T00:00:00Z'), spanMs: 86_400_000, actors: 5, subjects: 100 });

describe('sink when the schema registry changes its mind', () => {
  const { brokers, clickhouseUrl } = infraEnv();
  const topics = testTopics('sink-registry', 1);
  const groupId = `${topics.decisions.name}-sink`;
  const logs: LogLine[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void logs.push(JSON.parse(line) as LogLine) });
  const kafka = createKafka({ brokers, clientId: 'sink-registry-test', logger: createLogger('sink-registry-kafka', 'warn') });
  let registry: Awaited<ReturnType<typeof registryInstance>>;
  let root: Store;
  let store: Store;
  let sink: Sink | undefined;
  let fatal: unknown;
  /** the id the registry gave the dead-letter schema before it forgot (the sink registered it) */
  let deadLetterId = 0;

  const committed = async () => {
    const admin = kafka.admin();
    await admin.connect();
    try {
      const [t] = await admin.fetchOffsets({ groupId, topics: [topics.decisions.name] });
      return (t?.partitions ?? []).map((p) => `${p.partition}:${p.offset}`).sort();
    } finally {
      await admin.disconnect();
    }
  };
  const rows = async () => {
    const [r] = await queryRows<{ n: number }>(store, `SELECT count() AS n FROM ${store.table('decisions')}`);
    return Number(r?.n);
  };

  beforeAll(async () => {
    registry = await registryInstance('sink', brokers, 'mem');
    await registry.start();
    const admin = kafka.admin();
    await admin.connect();
    await ensureTopics(admin, Object.values(topics));
    await admin.disconnect();
    const { database, chdbPath } = testStore('sink-registry');
    root = createStore({ url: clickhouseUrl, database, chdbPath });
    store = withDatabase(root, `${root.database}_0`);
    await migrate(store);
    const s: Sink = new Sink({
      kafka,
      codec: AvroCodec.connect(registry.url),
      store,
      topics,
      logger,
      groupId,
      maxBatchWaitMs: 100,
      minBatchBytes: 1,
      checkpointKey: generateKeyPairSync('ed25519').privateKey,
      metrics: createSinkMetrics(),
      onFatal: (err) => {
        fatal = err;
        void s.stop();
      },
    });
    sink = s;
    await s.start();
  });

  afterAll(async () => {
    await sink?.stop().catch(() => undefined);
    if (root) {
      await root.client.command({ query: `DROP DATABASE IF EXISTS ${root.database}_0` });
      await root.close();
    }
    await registry?.destroy();
  });

  it('dead-letters hostile records with their reasons and stores the good decisions', async () => {
    // Another process producing: a client of its own.
    const producerCodec = AvroCodec.connect(registry.url);
    const decision = await producerCodec.register(topics.decisions.subject, decisionAvro);
    const access = await producerCodec.register(topics.accessEvents.subject, accessEventAvro);
    deadLetterId = (await producerCodec.register(topics.decisionsDlq.subject, deadLetterAvro)).id;
    const good = decisions(5);
    const unknownId = 987_654;
    const hostile = [
      { label: 'garbage', value: Buffer.from('not avro at all'), reason: /magic byte/ },
      { label: 'unknown id', value: frame(unknownId, Buffer.from([2, 4, 6])), reason: new RegExp(`schema ${unknownId}`) },
      {
        label: 'broken body',
        value: frame(decision.id, Buffer.from([0xff, 0xff, 0xff])),
        reason: new RegExp(`cannot decode Avro body with schema ${decision.id}`),
      },
      {
        label: 'another schema',
        value: access.encode(toAvro(accessEventAvro, good[0]!.event)),
        reason: new RegExp(`cannot decode Avro body with schema ${access.id}`),
      },
    ];
    const producer = kafka.producer({ idempotent: true });
    await producer.connect();
    await producer.send({
      topic: topics.decisions.name,
      messages: [
        ...good.map((d) => ({ key: d.event.actor.id, value: decision.encode(toAvro(decisionAvro, d)) })),
        ...hostile.map((h) => ({ key: h.label, value: h.value })),
      ],
    });
    await producer.disconnect();

    await waitFor(async () => (await rows()) >= good.length, { what: 'the good decisions stored', timeoutMs: 90_000 });
    await waitFor(() => sink!.stats.deadLetters >= hostile.length, { what: 'the dead letters sent' });
    expect(sink!.stats.deadLetters).toBe(hostile.length);
    expect(fatal).toBeUndefined();

    const reader = AvroCodec.connect(registry.url);
    const consumer = kafka.consumer({ groupId: `${topics.decisionsDlq.name}-reader`, maxWaitTimeInMs: 200 });
    await consumer.connect();
    await consumer.subscribe({ topic: topics.decisionsDlq.name, fromBeginning: true });
    const letters: DeadLetter[] = [];
    void consumer.run({
      eachMessage: async ({ message }) => {
        letters.push(fromAvro<DeadLetter>(deadLetterAvro, (await reader.decode(message.value)).value));
      },
    });
    await waitFor(() => letters.length >= hostile.length, { what: 'the dead letters' });
    await consumer.disconnect();
    for (const h of hostile) {
      const letter = letters.find((l) => Buffer.from(l.key ?? []).toString() === h.label);
      expect(letter, h.label).toBeDefined();
      expect(letter?.step).toBe('decode');
      expect(letter?.reason, h.label).toMatch(h.reason);
    }
  });

  it('stops without storing, committing or dead-lettering when the registry forgot its ids', async () => {
    expect(deadLetterId).toBeGreaterThan(0);
    const offsetsBefore = await committed();
    const stored = await rows();
    const { deadLetters } = sink!.stats;

    await registry.restart(); // in memory: every schema is forgotten

    // Registered again in another order, the decisions' schema gets the id the sink still has
    // cached as the dead-letter schema.
    const outside = AvroCodec.connect(registry.url);
    await outside.register(topics.accessEvents.subject, accessEventAvro);
    const decision = await outside.register(topics.decisions.subject, decisionAvro);
    expect(decision.id).toBe(deadLetterId);
    const producer = kafka.producer({ idempotent: true });
    await producer.connect();
    await producer.send({
      topic: topics.decisions.name,
      messages: decisions(100).map((d) => ({ key: d.event.actor.id, value: decision.encode(toAvro(decisionAvro, d)) })),
    });
    await producer.disconnect();

    const err = (await waitFor(() => fatal, { what: 'the sink to stop' })) as Error;
    expect(err.name).toBe('RegistryChangedError');
    expect(err.message).toContain(`schema id ${deadLetterId}`);
    expect(err.message).toMatch(/was io\.custos\.v1\.DeadLetter \(sha256 [0-9a-f]{16}\) and is now io\.custos\.v1\.Decision/);
    await sink!.stop();

    expect(sink!.stats.deadLetters).toBe(deadLetters);
    expect(await rows()).toBe(stored);
    expect(await committed()).toEqual(offsetsBefore);
    const line = logs.find((l) => l.level === 50 && l.err?.name === 'RegistryChangedError');
    expect(line?.err?.message).toContain(`schema id ${deadLetterId}`);
  });

  it('exits its process non-zero when the registry forgot the ids it had cached', async () => {
    const prefix = uniquePrefix('sink-registry-proc');
    const { database, chdbPath } = testStore('sink-registry-proc');
    const procTopics = topicsOf({ prefix, partitions: 1 });
    let output = '';
    const child = spawn(join(repoRoot, 'node_modules', '.bin', 'tsx'), ['services/sink/src/main.ts'], {
      cwd: repoRoot,
      env: {
        ...process.env,
        KAFKA_BROKERS: brokers.join(','),
        SCHEMA_REGISTRY_URL: registry.url,
        TOPIC_PREFIX: prefix,
        TOPIC_PARTITIONS: '1',
        SINK_GROUP_ID: `${prefix}sink`,
        CLICKHOUSE_DATABASE: database,
        CHDB_PATH: chdbPath,
        CHECKPOINT_KEY_AUTOGEN: 'true',
        CHECKPOINT_KEY_FILE: join(chdbPath, 'checkpoint-ed25519.pem'),
        LOG_LEVEL: 'info',
        ...(clickhouseUrl ? { CLICKHOUSE_URL: clickhouseUrl } : {}),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const keep = (chunk: Buffer) => {
      output = `${output}${chunk.toString()}`.slice(-50_000);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    try {
      await waitFor(() => output.includes('sink started'), { what: 'the sink process to start', timeoutMs: 120_000 });
      // What the process has cached: the ids its registrations got.
      const before = AvroCodec.connect(registry.url);
      const dlqId = (await before.register(procTopics.decisionsDlq.subject, deadLetterAvro)).id;

      await registry.restart(); // in memory: every schema is forgotten

      // Registered again after other schemas, the decisions' schema gets the id the process has
      // cached as the dead-letter schema.
      const outside = AvroCodec.connect(registry.url);
      for (let i = 1; i < dlqId; i++) {
        const filler = { type: 'record', name: `Filler${i}`, namespace: 'io.custos.test', fields: [{ name: 'n', type: 'int' }] };
        await outside.register(`${prefix}filler${i}-value`, filler);
      }
      const decision = await outside.register(procTopics.decisions.subject, decisionAvro);
      expect(decision.id).toBe(dlqId);
      const producer = kafka.producer({ idempotent: true });
      await producer.connect();
      await producer.send({
        topic: procTopics.decisions.name,
        messages: decisions(10).map((d) => ({ key: d.event.actor.id, value: decision.encode(toAvro(decisionAvro, d)) })),
      });
      await producer.disconnect();

      const code = await Promise.race([
        exited,
        new Promise<string>((resolve) => setTimeout(() => resolve('still running after 90 s'), 90_000).unref()),
      ]);
      expect(code, output.slice(-5000)).toBe(1);
      expect(output).toContain('RegistryChangedError');
      expect(output).toContain(`schema id ${dlqId}`);
      expect(output).toContain('sink stopped by a fatal error');
    } finally {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
      await root.client.command({ query: `DROP DATABASE IF EXISTS ${database}` });
    }
  });
});
