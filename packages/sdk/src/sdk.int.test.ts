/**
 * Against the real Kafka and registry: what the SDK writes, a plain kafkajs consumer plus the
 * registry client (@kafkajs/confluent-schema-registry) reads back equal to the input.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createKafka, ensureTopics } from '@custos/kafka';
import {
  accessEventAvro,
  fromAvro,
  parseAccessEvent,
  parseSubjectStateChange,
  subjectStateChangeAvro,
  ValidationError,
} from '@custos/schemas';
import { infraEnv, testTopics, waitFor } from '@custos/test/support';
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AccessEventInput, createAuditClient, type SubjectStateInput } from '../src/index.js';

const env = infraEnv();

async function readAll(topic: string, count: number): Promise<{ key: string; value: Buffer; partition: number }[]> {
  const kafka = new Kafka({ brokers: env.brokers, clientId: 'sdk-int-reader', logLevel: logLevel.NOTHING });
  const consumer = kafka.consumer({ groupId: `${topic}-reader-${Date.now()}` });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const out: { key: string; value: Buffer; partition: number }[] = [];
  await consumer.run({
    eachMessage: async ({ message, partition }) => {
      out.push({ key: message.key!.toString(), value: message.value!, partition });
    },
  });
  await waitFor(() => out.length >= count, { what: `${count} records on ${topic}`, detail: () => `read ${out.length}` });
  await consumer.disconnect();
  return out;
}

// Both places the producer can run: the sender thread (default) and the caller's thread.
describe.each([
  { mode: 'sender thread', senderThread: true },
  { mode: 'inline producer', senderThread: false },
])('SDK against real Kafka and registry ($mode)', ({ senderThread }) => {
  const t = testTopics(senderThread ? 'sdk-thread' : 'sdk-inline');
  beforeAll(async () => {
    const admin = createKafka({ brokers: env.brokers, clientId: 'sdk-int-admin' }).admin();
    await admin.connect();
    await ensureTopics(admin, [t.accessEvents, t.subjectState]);
    await admin.disconnect();
  });
  afterAll(async () => {
    const admin = createKafka({ brokers: env.brokers, clientId: 'sdk-int-admin' }).admin();
    await admin.connect();
    await admin.deleteTopics({ topics: [t.accessEvents.name, t.subjectState.name] }).catch(() => {});
    await admin.disconnect();
  });

  it('events read back with kafkajs + the registry client equal the input (with the SDK fills)', async () => {
    const spoolDir = mkdtempSync(join(tmpdir(), 'custos-sdk-int-'));
    const client = createAuditClient({
      brokers: env.brokers,
      schemaRegistryUrl: env.registryUrl,
      service: 'crm',
      topics: { accessEvents: t.accessEvents.name, subjectState: t.subjectState.name },
      spool: { dir: spoolDir },
      senderThread,
    });
    const base = {
      tenantId: 'spera',
      actor: { id: 's-asha', type: 'staff' },
      subject: { id: 'cust-1001', type: 'customer' },
      categories: ['personal.contact'],
      action: 'read',
      purpose: 'service.support',
    } satisfies AccessEventInput;
    const inputs: AccessEventInput[] = [
      { ...base, eventId: '0190b0a0-0000-7000-8000-000000000001', occurredAt: '2026-03-02T10:00:00Z' },
      {
        ...base,
        eventId: '0190b0a0-0000-7000-8000-000000000002',
        occurredAt: '2026-03-02T15:30:00.250+05:30',
        actor: { id: 'p-mailer', type: 'processor' },
        subject: { id: 'u-7', type: 'user' },
        categories: ['personal.contact', 'personal.identity'],
        fields: ['email', 'name'],
        action: 'disclose',
        purpose: 'legal.compliance',
        recipient: { id: 'police', type: 'authority' },
        legalBasis: 'court-order:KOL-2026-0042',
        dataCollectedAt: '2020-01-01T00:00:00Z',
        recordCount: 40,
        source: { service: 'export-job', requestId: 'r-1', traceId: 'tr-1', ip: '10.0.0.1' },
        attributes: { ticket: 'T-9', ü: 'ö' },
      },
      { ...base, occurredAt: new Date('2026-03-03T00:00:00Z'), source: { requestId: 'r-2' } },
    ];
    for (let i = 0; i < 200; i++) {
      inputs.push({
        ...base,
        eventId: `0190b0a0-0000-7000-8000-${String(1000 + i).padStart(12, '0')}`,
        actor: { id: `s-${i % 9}`, type: 'staff' },
      });
    }
    const states: SubjectStateInput[] = [
      {
        tenantId: 'spera',
        subjectId: 'cust-1001',
        change: 'promotional_opt_out',
        eventId: '0190b0a0-0000-7000-8000-00000000f001',
        occurredAt: '2026-03-01T00:00:00Z',
      },
      { tenantId: 'client-acme', subjectId: 'cc-1', change: 'legal_hold_placed', reference: 'LH-1' },
    ];
    expect(() => client.record({ ...base, action: 'share' })).toThrow(ValidationError);
    expect(() => client.record({ ...base, action: 'share' })).toThrow(/recipient: required when action is share/);
    const before = Date.now();
    for (const e of inputs) client.record(e);
    for (const s of states) client.recordSubjectState(s);
    expect(await client.flush(60_000)).toEqual({ delivered: true, unsent: 0 });
    expect(await client.close()).toEqual({ delivered: true, unsent: 0 });
    rmSync(spoolDir, { recursive: true, force: true });

    const registry = new SchemaRegistry({ host: env.registryUrl });
    const got = await readAll(t.accessEvents.name, inputs.length);
    const decoded = await Promise.all(
      got.map(async (m) => ({
        key: m.key,
        value: fromAvro<Record<string, unknown>>(accessEventAvro, await registry.decode(m.value)),
      })),
    );
    const byId = new Map(decoded.map((d) => [d.value.eventId as string, d]));
    expect(byId.size).toBe(inputs.length);
    for (const input of inputs) {
      const filled = input.eventId
        ? byId.get(input.eventId)
        : decoded.find((d) => (d.value.source as { requestId?: string }).requestId === input.source?.requestId);
      expect(filled).toBeDefined();
      const v = filled!.value;
      expect(filled!.key).toBe(input.actor.id);
      // the expectation: the contract's canonical form of the input with the SDK's fills
      const expected = parseAccessEvent({
        ...input,
        eventId: input.eventId ?? v.eventId,
        occurredAt: input.occurredAt instanceof Date ? input.occurredAt.toISOString() : (input.occurredAt ?? v.occurredAt),
        source: { service: 'crm', ...input.source },
      });
      expect(expected.ok).toBe(true);
      if (expected.ok) expect(v).toEqual(JSON.parse(JSON.stringify(expected.value)));
    }
    // the one without eventId/occurredAt got a UUIDv7 and "now"
    const third = decoded.find((d) => (d.value.source as { requestId?: string }).requestId === 'r-2')!.value;
    expect(third.eventId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7/);
    expect(third.occurredAt).toBe('2026-03-03T00:00:00.000Z');
    // per-actor order: one actor's events sit in one partition in recording order
    const s3 = got.filter((m) => m.key === 's-3');
    expect(new Set(s3.map((m) => m.partition)).size).toBe(1);
    const s3ids = await Promise.all(
      s3.map(async (m) => fromAvro<{ eventId: string }>(accessEventAvro, await registry.decode(m.value)).eventId),
    );
    expect(s3ids).toEqual([...s3ids].sort());

    const gotStates = await readAll(t.subjectState.name, states.length);
    const stateValues = await Promise.all(
      gotStates.map(async (m) => ({
        key: m.key,
        value: fromAvro<Record<string, unknown>>(subjectStateChangeAvro, await registry.decode(m.value)),
      })),
    );
    const first = stateValues.find((s) => s.value.eventId === states[0]!.eventId)!;
    expect(JSON.parse(first.key)).toEqual(['spera', 'cust-1001', 'promotional']);
    const exp = parseSubjectStateChange(states[0]);
    expect(exp.ok && first.value).toEqual(exp.ok && JSON.parse(JSON.stringify(exp.value)));
    const second = stateValues.find((s) => s.value.subjectId === 'cc-1')!;
    expect(second.value).toMatchObject({ tenantId: 'client-acme', change: 'legal_hold_placed', reference: 'LH-1' });
    expect(Date.parse(second.value.occurredAt as string)).toBeGreaterThanOrEqual(before);
  });
});
