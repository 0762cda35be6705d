/**
 * The only broker of a Kafka of the test's own stops for longer than kafkajs' retries (45 s; 60 s with
 * CUSTOS_LONG_FAULTS=1) while `custos start --services enforcer,sink` runs against it and an SDK
 * client keeps recording; a second SDK client is started while the broker is away. Then the broker
 * starts again. No service process may exit; every recorded event must be decided once (read by an
 * independent read-committed consumer) and stored once; both clients must deliver everything. The
 * registry is the shared one: schemas are registered by subject, the ids are the shared registry's.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createKafka, ensureTopics } from '@custos/kafka';
import { topics } from '@custos/schemas';
import { type AuditClient, createAuditClient } from '@custos/sdk';
import { createStore } from '@custos/store';
import { type KafkaInstance, kafkaInstance } from '@custos/test/kafka-instance';
import { infraEnv, uniquePrefix, waitFor } from '@custos/test/support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const tsx = join(root, 'node_modules', '.bin', 'tsx');
const OUTAGE_MS = process.env.CUSTOS_LONG_FAULTS === '1' ? 60_000 : 45_000;
const BEFORE = 300;
const DURING = 300;
const LATE = 200;

describe('the only Kafka broker goes away for longer than the client retries', () => {
  const { registryUrl } = infraEnv();
  const prefix = uniquePrefix('outage');
  const t = topics({ prefix, partitions: 3 });
  const work = mkdtempSync(join(tmpdir(), 'custos-broker-outage-'));
  const chdbPath = join(work, 'chdb');
  let kafka: KafkaInstance;
  let proc: ChildProcess;
  let log = '';
  const logs = () => `--- custos start (tail) ---\n${log.slice(-8000)}`;
  const clients: AuditClient[] = [];

  beforeAll(async () => {
    kafka = await kafkaInstance('outage', { brokers: 1 });
    await kafka.start();
    const admin = createKafka({ brokers: kafka.brokers, clientId: 'outage-admin' }).admin();
    await admin.connect();
    await ensureTopics(admin, Object.values(t));
    await admin.disconnect();
    proc = spawn(tsx, ['packages/cli/src/bin.ts', 'start', '--services', 'enforcer,sink'], {
      cwd: root,
      env: {
        ...process.env,
        KAFKA_BROKERS: kafka.brokers.join(','),
        SCHEMA_REGISTRY_URL: registryUrl,
        TOPIC_PREFIX: prefix,
        TOPIC_PARTITIONS: '3',
        ENFORCER_GROUP_ID: `${prefix}enforcer`,
        SINK_GROUP_ID: `${prefix}sink`,
        CHDB_PATH: chdbPath,
        CHECKPOINT_KEY_AUTOGEN: 'true',
        CHECKPOINT_KEY_FILE: join(work, 'checkpoint.pem'),
        LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    // kafkajs logs every refused connection while the broker is away: kept out of the tail
    const noise = /Connection error: connect ECONNREFUSED|Failed to connect to seed broker/;
    const keep = (chunk: Buffer) => {
      const lines = chunk
        .toString()
        .split('\n')
        .filter((l) => l !== '' && !noise.test(l));
      if (lines.length > 0) log = `${log}${lines.join('\n')}\n`.slice(-200_000);
    };
    proc.stdout?.on('data', keep);
    proc.stderr?.on('data', keep);
  });

  afterAll(async () => {
    for (const c of clients) await c.close().catch(() => {});
    if (proc && proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGTERM');
      await new Promise((r) => proc.once('exit', r));
    }
    if (process.env.CUSTOS_OUTAGE_LOG) (await import('node:fs')).writeFileSync(process.env.CUSTOS_OUTAGE_LOG, log);
    await kafka?.destroy();
    rmSync(work, { recursive: true, force: true });
  });

  it('no process exits; everything recorded is decided once and stored once, also from a client started during the outage', async () => {
    const client = (name: string) => {
      const c = createAuditClient({
        brokers: kafka.brokers,
        schemaRegistryUrl: registryUrl,
        service: 'outage-test',
        clientId: `outage-${name}`,
        topicPrefix: prefix,
        spool: { dir: join(work, `spool-${name}`) },
        retry: { initialMs: 100, maxMs: 2000 },
        requestTimeoutMs: 5000,
      });
      clients.push(c);
      return c;
    };
    const eventId = (i: number) => `0190b0a0-0000-7000-8000-${String(i).padStart(12, '0')}`;
    const event = (i: number) => ({
      eventId: eventId(i),
      tenantId: 'spera',
      actor: { id: `s-${i % 20}`, type: 'staff' as const },
      subject: { id: `cust-${i}`, type: 'customer' as const },
      categories: ['personal.contact'],
      action: 'read' as const,
      purpose: 'service.support',
    });

    // An independent read-committed reader of the decisions; offsets dedupe its own re-reads.
    const reader = createKafka({ brokers: kafka.brokers, clientId: 'outage-reader' }).consumer({
      groupId: `${prefix}reader`,
      readUncommitted: false,
    });
    const decidedAt = new Map<string, string>();
    const doubled: string[] = [];
    /** per partition, the offset after the last decision read (control records of transactions aside) */
    const readTo = new Map<number, number>();
    await reader.connect();
    await reader.subscribe({ topics: [t.decisions.name], fromBeginning: true });
    void reader.run({
      eachBatch: async ({ batch }) => {
        for (const m of batch.messages) {
          // Decision: Confluent header (5 bytes), then eventId (length byte, 36 characters)
          const id = m.value!.subarray(6, 42).toString('latin1');
          const at = `${batch.partition}/${m.offset}`;
          readTo.set(batch.partition, Math.max(readTo.get(batch.partition) ?? 0, Number(m.offset) + 1));
          const before = decidedAt.get(id);
          if (before === undefined) decidedAt.set(id, at);
          else if (before !== at) doubled.push(`${id} at ${before} and ${at}`);
        }
      },
    });

    try {
      const a = client('a');
      await a.start();
      for (let i = 0; i < BEFORE; i++) a.record(event(i));
      await waitFor(() => decidedAt.size >= BEFORE, {
        what: 'the events before the outage to be decided',
        timeoutMs: 120_000,
        detail: logs,
      });

      await kafka.stop();
      const down = Date.now();
      for (let i = BEFORE; i < BEFORE + DURING; i++) a.record(event(i));
      // A client that starts while Kafka is away: start() needs the registry only.
      const b = client('b');
      const bStart = Date.now();
      await b.start();
      const bStartS = (Date.now() - bStart) / 1000;
      for (let i = BEFORE + DURING; i < BEFORE + DURING + LATE; i++) b.record(event(i));
      await waitFor(() => Date.now() - down >= OUTAGE_MS, { what: 'the outage to last', timeoutMs: OUTAGE_MS + 5000 });
      expect(proc.exitCode, logs()).toBeNull();
      const restartAt = Date.now();
      await kafka.start();
      const up = Date.now();
      const total = BEFORE + DURING + LATE;
      await waitFor(() => decidedAt.size >= total, {
        what: 'every event to be decided after the broker came back',
        timeoutMs: 180_000,
        everyMs: 200,
        detail: () => `${decidedAt.size}/${total} decided\n${logs()}`,
      });
      const resumeS = (Date.now() - restartAt) / 1000;
      console.log(
        `broker stopped ${((restartAt - down) / 1000).toFixed(1)} s; started again, ready after ${((up - restartAt) / 1000).toFixed(1)} s; ` +
          `client b started in ${bStartS.toFixed(1)} s while it was away; all ${total} decided ${resumeS.toFixed(1)} s after the broker was started`,
      );
      expect(await a.close()).toMatchObject({ delivered: true, unsent: 0 });
      expect(await b.close()).toMatchObject({ delivered: true, unsent: 0 });
      expect(proc.exitCode, logs()).toBeNull();
      expect(doubled, logs()).toEqual([]);
      for (let i = 0; i < total; i++) expect(decidedAt.has(eventId(i))).toBe(true);

      // Stored once: the sink commits its offsets after the rows; wait until all are there, then stop.
      const countStored = async () => {
        const store = createStore({ database: 'custos', chdbPath });
        try {
          const rows = await store.client.query({
            query: `SELECT count() AS rows, uniqExact(event_id) AS ids FROM ${store.table('decisions')} WHERE source_service = 'outage-test'`,
            format: 'JSONEachRow',
          });
          const [r] = (await rows.json()) as { rows: string; ids: string }[];
          return { rows: Number(r?.rows ?? 0), ids: Number(r?.ids ?? 0) };
        } finally {
          await store.close();
        }
      };
      // The sink commits its offsets after its rows are in: no lag left means everything is stored.
      const admin = createKafka({ brokers: kafka.brokers, clientId: 'outage-lag' }).admin();
      await admin.connect();
      try {
        await waitFor(
          async () => {
            const [committed] = await admin.fetchOffsets({ groupId: `${prefix}sink`, topics: [t.decisions.name] });
            const at = new Map(committed?.partitions.map((p) => [p.partition, Number(p.offset)]));
            return [...readTo].every(([partition, end]) => (at.get(partition) ?? -1) >= end);
          },
          { what: 'the sink to commit every decision', timeoutMs: 120_000, everyMs: 500, retryErrors: true, detail: logs },
        );
      } finally {
        await admin.disconnect();
      }
      proc.kill('SIGTERM');
      const code = await new Promise<number | null>((r) => proc.once('exit', (c) => r(c)));
      expect(code, logs()).toBe(0);
      expect(await countStored()).toEqual({ rows: total, ids: total });
    } finally {
      await reader.disconnect().catch(() => {});
    }
  }, 600_000);
});
