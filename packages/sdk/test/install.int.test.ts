/**
 * The SDK as another team installs it: packed as a registry would serve it (scripts/pack.sh),
 * installed with plain npm into a project outside the workspace (the example in
 * examples/crm-service, copied to a temporary directory), so kafkajs and every other dependency come
 * from the registry, unpatched. From there it records 20 000 access events and some subject-state
 * changes, and the example Express service records one event per request. An independent consumer
 * (plain kafkajs and the registry client, none of the SDK's code) reads every record back: each
 * event present once, equal to what was recorded, none without key or value.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { AvroCodec, createKafka, ensureTopics } from '@custos/kafka';
import { accessEventAvro, fromAvro, subjectStateChangeAvro } from '@custos/schemas';
import { infraEnv, testTopics } from '@custos/test/support';
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const env = infraEnv();
const N = 20_000;
const STATE_CHANGES = 50;
const REQUESTS = 200;
const CHANGES = ['promotional_opt_out', 'promotional_opt_in', 'legal_hold_placed', 'legal_hold_released'] as const;

interface Consumed {
  key: Buffer | null;
  value: Buffer | null;
}

let readers = 0;
/** Every record of `topic` from the beginning, until `n` were read. */
async function readTopic(topic: string, n: number): Promise<Consumed[]> {
  const kafka = new Kafka({ brokers: env.brokers, clientId: 'install-test-reader', logLevel: logLevel.NOTHING });
  const consumer = kafka.consumer({ groupId: `${topic}-reader-${readers++}` });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const out: Consumed[] = [];
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`read ${out.length} of ${n} records of ${topic}`)), 120_000);
      void consumer.run({
        eachBatch: async ({ batch }) => {
          for (const m of batch.messages) out.push({ key: m.key, value: m.value });
          if (out.length >= n) {
            clearTimeout(timer);
            resolve();
          }
        },
      });
    });
  } finally {
    await consumer.disconnect();
  }
  return out;
}

function accessEvent(i: number) {
  return {
    eventId: `0190b0a0-0000-7000-8000-${String(i).padStart(12, '0')}`,
    occurredAt: new Date(Date.UTC(2026, 10, 1) + i * 1000).toISOString(),
    tenantId: i % 5 === 0 ? 'acme' : 'spera',
    actor: { id: `s-${i % 23}`, type: 'staff' },
    subject: { id: `cust-${i}`, type: 'customer' },
    categories: i % 3 === 0 ? ['personal.contact', 'financial.payment'] : ['personal.contact'],
    action: 'read',
    purpose: 'service.support',
    recordCount: 1 + (i % 4),
    attributes: { n: String(i) },
    source: { service: 'crm-batch' },
  };
}

function stateChange(i: number) {
  return {
    eventId: `0190b0a0-0000-7000-9000-${String(i).padStart(12, '0')}`,
    occurredAt: new Date(Date.UTC(2026, 10, 2) + i * 1000).toISOString(),
    tenantId: 'spera',
    subjectId: `cust-${i}`,
    change: CHANGES[i % CHANGES.length]!,
    reference: `DSR-${i}`,
  };
}

describe('the SDK installed with npm outside the workspace, on stock kafkajs', () => {
  const work = mkdtempSync(join(tmpdir(), 'custos-sdk-install-'));
  const project = join(work, 'crm-service');
  const t = testTopics('sdk-install');
  const web = testTopics('sdk-install-web');
  const topicEnv = (topics: typeof t) => ({
    KAFKA_BROKERS: env.brokers.join(','),
    SCHEMA_REGISTRY_URL: env.registryUrl,
    TOPIC_PREFIX: topics.accessEvents.name.slice(0, -'access-events'.length),
  });
  const procs: ChildProcess[] = [];

  beforeAll(async () => {
    const admin = createKafka({ brokers: env.brokers, clientId: 'install-test-admin' }).admin();
    await admin.connect();
    await ensureTopics(admin, [t.accessEvents, t.subjectState, web.accessEvents, web.subjectState]);
    await admin.disconnect();

    const packed = join(work, 'packed');
    const { stdout } = await run('bash', [join(root, 'scripts', 'pack.sh'), packed], { cwd: root, maxBuffer: 1 << 24 });
    const tarballs = stdout.split('\n').filter((l) => l.endsWith('.tgz'));
    expect(tarballs.map((f) => f.replace(/.*\//, '').replace(/-\d+\.\d+\.\d+.*$/, '')).sort()).toEqual([
      'custos-config',
      'custos-kafka',
      'custos-schemas',
      'custos-sdk',
    ]);
    cpSync(join(root, 'examples', 'crm-service'), project, { recursive: true });
    // a clean project of its own: no lockfile or node_modules of the workspace above it
    await run('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', ...tarballs], {
      cwd: project,
      maxBuffer: 1 << 24,
    });
  }, 600_000);

  afterAll(async () => {
    for (const p of procs) p.kill('SIGKILL');
    const admin = createKafka({ brokers: env.brokers, clientId: 'install-test-admin' }).admin();
    await admin.connect();
    await admin
      .deleteTopics({ topics: [t.accessEvents.name, t.subjectState.name, web.accessEvents.name, web.subjectState.name] })
      .catch(() => {});
    await admin.disconnect();
    rmSync(work, { recursive: true, force: true });
  });

  it('installed stock kafkajs from the registry, not the workspace copy', async () => {
    const { stdout } = await run(
      'node',
      [
        '--input-type=module',
        '-e',
        "import { kafkajsPatch } from '@custos/kafka'; console.log(JSON.stringify(await kafkajsPatch()))",
      ],
      { cwd: project },
    );
    expect(JSON.parse(stdout)).toEqual({
      version: '2.2.4',
      rangedMessages: false,
      releaseMessages: false,
      movedPartitions: false,
      stableOffsets: false,
    });
    expect(readdirSync(join(project, 'node_modules', '@custos')).sort()).toEqual(['config', 'kafka', 'schemas', 'sdk']);
  });

  it(`records ${N} access events and ${STATE_CHANGES} subject-state changes; all read back once, equal, keyed`, async () => {
    const input = join(project, 'input.ndjson');
    const lines: string[] = [];
    for (let i = 0; i < N; i++) {
      lines.push(JSON.stringify({ access: accessEvent(i) }));
      if (i % (N / STATE_CHANGES) === 0) lines.push(JSON.stringify({ subjectState: stateChange(i / (N / STATE_CHANGES)) }));
    }
    writeFileSync(input, `${lines.join('\n')}\n`);
    const { stdout, stderr } = await run('node', ['record.mjs', input], {
      cwd: project,
      env: { ...process.env, ...topicEnv(t), AUDIT_SPOOL_DIR: join(work, 'spool-batch') },
      maxBuffer: 1 << 26,
    });
    expect(JSON.parse(stdout)).toEqual({ access: N, subjectState: STATE_CHANGES, delivered: true, unsent: 0 });
    // the SDK said which path it took: stock kafkajs, so ordinary messages
    expect(stderr).toMatch(/without the Custos patch \(stock[^)]*\); sending ordinary messages/);
    // stock kafkajs's negative throttle-check timer stays inside the sender thread
    expect(stderr).not.toMatch(/TimeoutNegativeWarning/);

    const registry = new SchemaRegistry({ host: env.registryUrl });
    const events = await readTopic(t.accessEvents.name, N);
    expect(events).toHaveLength(N);
    const seen = new Set<string>();
    for (const r of events) {
      expect(r.key).not.toBeNull();
      expect(r.value).not.toBeNull();
      const e = fromAvro<ReturnType<typeof accessEvent>>(accessEventAvro, await registry.decode(r.value!));
      const i = Number(e.attributes.n);
      expect(seen.has(e.eventId)).toBe(false);
      seen.add(e.eventId);
      expect(e).toMatchObject(accessEvent(i));
      expect(r.key!.toString()).toBe(e.actor.id);
    }
    expect(seen.size).toBe(N);
    // The schemas shipped in the packages are the workspace's: registering the workspace's schema
    // under the same subject gives the very id the outside producer framed its records with.
    const workspaceId = (await AvroCodec.connect(env.registryUrl).register(t.accessEvents.subject, accessEventAvro)).id;
    expect(new Set(events.map((r) => r.value!.readUInt32BE(1)))).toEqual(new Set([workspaceId]));

    const changes = await readTopic(t.subjectState.name, STATE_CHANGES);
    expect(changes).toHaveLength(STATE_CHANGES);
    const seenChanges = new Set<string>();
    for (const r of changes) {
      expect(r.key).not.toBeNull();
      expect(r.value).not.toBeNull();
      const c = fromAvro<ReturnType<typeof stateChange>>(subjectStateChangeAvro, await registry.decode(r.value!));
      seenChanges.add(c.eventId);
      expect(c).toMatchObject(stateChange(Number(c.subjectId.slice('cust-'.length))));
      // keyed by tenant, subject and the change's family (the compacted topic keeps one per family)
      expect(JSON.parse(r.key!.toString())).toEqual([
        c.tenantId,
        c.subjectId,
        c.change.startsWith('promotional') ? 'promotional' : 'legal_hold',
      ]);
    }
    expect(seenChanges.size).toBe(STATE_CHANGES);
  });

  it(`the example Express service records one event per request (${REQUESTS} requests)`, async () => {
    const server = spawn('node', ['server.mjs'], {
      cwd: project,
      env: { ...process.env, ...topicEnv(web), PORT: '0', AUDIT_SPOOL_DIR: join(work, 'spool-server') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    procs.push(server);
    let logs = '';
    server.stderr.on('data', (c: Buffer) => {
      logs += c.toString();
    });
    const port = await new Promise<number>((resolve, reject) => {
      server.stdout.on('data', (c: Buffer) => {
        const m = /listening on (\d+)/.exec(c.toString());
        if (m) resolve(Number(m[1]));
      });
      server.once('exit', (code) => reject(new Error(`server exited with ${code}: ${logs}`)));
    });
    for (let i = 0; i < REQUESTS; i++) {
      const res = await fetch(`http://127.0.0.1:${port}/customers/web-${i}`, { headers: { 'x-staff': `s-web-${i % 7}` } });
      expect(res.status).toBe(200);
      await res.arrayBuffer();
    }
    // a request without a caller is refused and records nothing
    expect((await fetch(`http://127.0.0.1:${port}/customers/nobody`)).status).toBe(401);
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    expect(metrics).toMatch(/custos_sdk_recorded_total\{service="crm"\} 200/);
    const exited = new Promise<number | null>((resolve) => server.once('exit', resolve));
    server.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(logs).toMatch(/sending ordinary messages/);

    const registry = new SchemaRegistry({ host: env.registryUrl });
    const all = await readTopic(web.accessEvents.name, REQUESTS);
    expect(all).toHaveLength(REQUESTS);
    const seen = new Map<string, { actor: string; fields: string[] | undefined }>();
    for (const r of all) {
      expect(r.key).not.toBeNull();
      expect(r.value).not.toBeNull();
      const e = fromAvro<{
        eventId: string;
        subject: { id: string };
        actor: { id: string };
        fields?: string[];
        source: { service: string };
      }>(accessEventAvro, await registry.decode(r.value!));
      expect(e.source.service).toBe('crm');
      expect(seen.has(e.subject.id)).toBe(false);
      seen.set(e.subject.id, { actor: e.actor.id, fields: e.fields });
    }
    expect(seen.size).toBe(REQUESTS);
    for (let i = 0; i < REQUESTS; i++)
      expect(seen.get(`web-${i}`)).toEqual({ actor: `s-web-${i % 7}`, fields: ['name', 'email'] });
  });
});
