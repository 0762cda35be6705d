/**
 * The watchers are watched, through real parts: reads through the API are recorded by the real SDK
 * on real Kafka (Avro via the registry), land on the access-events topic as `audit.trail` accesses
 * by the staff member behind the credential, and the enforcer — a real process — judges them like
 * any other access: an auditor reading for legal compliance is allowed, a security engineer reading
 * for a purpose the policy does not grant them is denied.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type LiveApi, SAMPLE_REQUESTS, silentLogger, startFixtureApi, TEST_KEYS } from '@custos/api/testing';
import { AvroCodec, type Consumer, createKafka } from '@custos/kafka';
import { type AccessEvent, accessEventAvro, type Decision, decisionAvro, fromAvro } from '@custos/schemas';
import { type AuditClient, createAuditClient } from '@custos/sdk';
import { assertInfraReachable, infraEnv, uniquePrefix, waitFor } from '@custos/test/support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const tsx = join(root, 'node_modules', '.bin', 'tsx');

describe('reads of the audit trail are access events, judged by the enforcer', () => {
  const { brokers, registryUrl, clickhouseUrl } = infraEnv();
  const prefix = uniquePrefix('api-audit');
  const kafka = createKafka({ brokers, clientId: 'api-e2e', logger: silentLogger() });
  const codec = AvroCodec.connect(registryUrl);
  let sdk: AuditClient;
  let api: LiveApi;
  let enforcer: ChildProcess | undefined;
  let output = '';
  const consumers: Consumer[] = [];

  beforeAll(async () => {
    await assertInfraReachable(brokers, registryUrl);
    sdk = createAuditClient({
      brokers,
      schemaRegistryUrl: registryUrl,
      service: 'custos-api',
      topicPrefix: prefix,
      createTopics: true,
      spool: { dir: mkdtempSync(join(tmpdir(), 'custos-api-spool-')) },
      logger: silentLogger(),
    });
    await sdk.start();
    api = await startFixtureApi('api_e2e', { recorder: sdk }, clickhouseUrl);
    enforcer = spawn(tsx, ['services/enforcer/src/main.ts'], {
      cwd: root,
      env: {
        ...process.env,
        KAFKA_BROKERS: brokers.join(','),
        SCHEMA_REGISTRY_URL: registryUrl,
        TOPIC_PREFIX: prefix,
        TOPIC_PARTITIONS: '3',
        ENFORCER_GROUP_ID: `${prefix}enforcer`,
        ENFORCER_INSTANCE_ID: `${prefix.replace(/\W/g, '')}-0`,
        LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const keep = (chunk: Buffer) => {
      output = `${output}${chunk}`.slice(-10_000);
    };
    enforcer.stdout?.on('data', keep);
    enforcer.stderr?.on('data', keep);
  });

  afterAll(async () => {
    for (const c of consumers) await c.disconnect().catch(() => {});
    await api?.close();
    await sdk?.close();
    if (enforcer && enforcer.exitCode === null) {
      enforcer.kill('SIGTERM');
      await new Promise((r) => enforcer?.once('exit', r));
    }
  });

  async function readUntil<T>(
    topic: string,
    decode: (v: Buffer | null) => Promise<T>,
    done: (got: T[]) => boolean,
    timeoutMs = 120_000,
  ): Promise<T[]> {
    const consumer = kafka.consumer({ groupId: `${topic}-reader-${Date.now()}`, readUncommitted: false });
    consumers.push(consumer);
    await consumer.connect();
    // the topic may not exist yet (the enforcer creates its output topics when it starts)
    await waitFor(() => consumer.subscribe({ topic, fromBeginning: true }).then(() => true), {
      what: `topic ${topic} to exist`,
      everyMs: 1000,
      retryErrors: true,
    });
    const out: T[] = [];
    await consumer.run({
      eachMessage: async ({ message }) => {
        out.push(await decode(message.value));
      },
    });
    await waitFor(() => done(out), {
      what: `the records expected on ${topic}`,
      timeoutMs,
      detail: () => `${out.length} records read\n--- enforcer ---\n${output}`,
    });
    return out;
  }

  it('records each read on the topic and the enforcer judges it', async () => {
    const read = async (path: string, role: keyof typeof TEST_KEYS, purpose: string) => {
      const res = await fetch(`${api.url}${path}`, {
        headers: { authorization: `Bearer ${TEST_KEYS[role].key}`, 'x-purpose': purpose },
      });
      expect(res.status, await res.clone().text()).toBe(200);
      return res.headers.get('x-request-id');
    };
    const allowedReq = await read(SAMPLE_REQUESTS.periodicReport as string, 'auditor', 'legal.compliance');
    const deniedReq = await read(
      `${SAMPLE_REQUESTS.searchAccesses}&subjectId=cust-1001&tenantId=spera`,
      'admin',
      'rights.request',
    );
    await sdk.flush(30_000);

    const events = await readUntil(
      `${prefix}access-events`,
      async (v) => fromAvro<AccessEvent>(accessEventAvro, (await codec.decode(v)).value),
      (got) => got.length >= 2,
    );
    const byReq = new Map(events.map((e) => [e.source.requestId, e]));
    const allowed = byReq.get(allowedReq);
    const denied = byReq.get(deniedReq);
    expect(allowed).toMatchObject({
      tenantId: '*',
      actor: { id: 's-ira', type: 'staff' },
      categories: ['audit.trail'],
      action: 'read',
      purpose: 'legal.compliance',
      source: { service: 'custos-api' },
    });
    expect(allowed?.attributes?.period).toBe('2026-10');
    expect(denied).toMatchObject({
      tenantId: 'spera',
      actor: { id: 's-kavya', type: 'staff' },
      subject: { id: 'cust-1001', type: 'customer' },
      categories: ['audit.trail'],
      purpose: 'rights.request',
    });

    const decisions = await readUntil(
      `${prefix}decisions`,
      async (v) => fromAvro<Decision>(decisionAvro, (await codec.decode(v)).value),
      (got) => [allowed?.eventId, denied?.eventId].every((id) => got.some((d) => d.eventId === id)),
    );
    const judged = new Map(decisions.map((d) => [d.eventId, d]));
    expect(judged.get(allowed?.eventId as string)?.outcome).toBe('allow');
    expect(judged.get(allowed?.eventId as string)?.basis).toContain('G-AUD-1');
    expect(judged.get(denied?.eventId as string)?.outcome).toBe('deny');
    expect(judged.get(denied?.eventId as string)?.reasons.map((r) => r.code)).toEqual(['PURPOSE_NOT_PERMITTED']);
  });
});
