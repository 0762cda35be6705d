/**
 * The sink as a real process, killed with SIGKILL right after an insert (rows stored, offsets not
 * committed), then started again on the same chDB directory: every decision is stored exactly once
 * and the chains verify. The test process never opens the chDB directory itself (chDB binds one
 * directory per process); a last child inspects it.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AvroCodec, createKafka, ensureTopics } from '@custos/kafka';
import { decisionAvro, toAvro } from '@custos/schemas';
import { sampleDecisions, type VerifyReport } from '@custos/store';
import { infraEnv, testStore, testTopics } from '@custos/test/support';
import { describe, expect, it } from 'vitest';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..', '..');
const N = 3000;

describe('sink killed (SIGKILL) between insert and commit', () => {
  it('stores every decision once after a restart, and the chains verify', async () => {
    const { brokers, registryUrl } = infraEnv();
    const topics = testTopics('sink-kill', 3);
    const prefix = topics.decisions.name.slice(0, -'decisions'.length);
    const { database, chdbPath } = testStore('sink-kill');
    const key = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const group = `${prefix}sink`;
    const kafka = createKafka({ brokers, clientId: 'sink-kill-test' });
    const admin = kafka.admin();
    await admin.connect();
    await ensureTopics(admin, Object.values(topics));
    const codec = AvroCodec.connect(registryUrl);
    const schema = await codec.register(topics.decisions.subject, decisionAvro);
    const producer = kafka.producer({ idempotent: true });
    await producer.connect();
    const ds = sampleDecisions(N, { start: Date.parse('2026-10-01T00:00:00Z'), spanMs: 86_400_000 * 5, actors: 30 });
    for (let i = 0; i < N; i += 500) {
      await producer.send({
        topic: topics.decisions.name,
        messages: ds.slice(i, i + 500).map((d) => ({ key: d.event.actor.id, value: schema.encode(toAvro(decisionAvro, d)) })),
      });
    }
    await producer.disconnect();

    const env = {
      ...process.env,
      KAFKA_BROKERS: brokers.join(','),
      SCHEMA_REGISTRY_URL: registryUrl,
      TOPIC_PREFIX: prefix,
      TOPIC_PARTITIONS: '3',
      CLICKHOUSE_DATABASE: database,
      CHDB_PATH: chdbPath,
      CHECKPOINT_PRIVATE_KEY: key,
      CHECKPOINT_INTERVAL_MS: '200',
      CHECKPOINT_MAX_ROWS: '250',
      SINK_GROUP_ID: group,
      SINK_MAX_BATCH_ROWS: '200',
      SINK_MIN_BATCH_BYTES: '1',
      SINK_MAX_BATCH_WAIT_MS: '50',
      LOG_LEVEL: 'warn',
    };
    const run = (script: string, args: string[] = []): ChildProcess =>
      spawn(process.execPath, ['--import', 'tsx', join(here, script), ...args], {
        env,
        cwd: root,
        stdio: ['ignore', 'pipe', 'inherit'],
      });
    const exit = (c: ChildProcess) =>
      new Promise<NodeJS.Signals | number | null>((r) => c.once('exit', (code, sig) => r(sig ?? code)));
    const committed = async () => {
      const [t] = await admin.fetchOffsets({ groupId: group, topics: [topics.decisions.name] });
      return (t?.partitions ?? []).reduce((a, p) => a + Math.max(0, Number(p.offset)), 0);
    };

    // 1. Killed right after its 4th insert.
    const first = run('testing/kill-child.ts', ['4']);
    expect(await exit(first)).toBe('SIGKILL');
    const before = await committed();
    expect(before).toBeLessThan(N);

    // 2. The real sink on the same directory, until everything is committed; then a clean stop.
    const second = run('main.ts');
    const secondExit = exit(second);
    const until = Date.now() + 120_000;
    while ((await committed()) < N && Date.now() < until) await new Promise((r) => setTimeout(r, 300));
    expect(await committed()).toBe(N);
    second.kill('SIGTERM');
    expect(await secondExit).toBe(0);
    await admin.disconnect();

    // 3. Inspect: count = distinct = N, and the chains verify.
    const inspect = run('testing/inspect-child.ts');
    let out = '';
    inspect.stdout?.on('data', (b) => {
      out += String(b);
    });
    expect(await exit(inspect)).toBe(0);
    const { n, distinct, report } = JSON.parse(out.trim().split('\n').at(-1) as string) as {
      n: number;
      distinct: number;
      report: VerifyReport;
    };
    expect({ n, distinct }).toEqual({ n: N, distinct: N });
    expect(report.findings.filter((f) => f.severity !== 'info')).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.checkpoints.valid).toBeGreaterThan(3);
  });
});
