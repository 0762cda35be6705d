/**
 * Schema ids survive a registry restart (KafkaSQL storage, infra/infra.sh): the project's schemas,
 * registered before, have the same ids under the same subjects after, and a consumer that starts
 * after the restart (nothing cached) decodes the records written before it. Runs a registry of its
 * own (other ports, its own journal topic) so the shared one is never restarted.
 */
import { randomUUID } from 'node:crypto';
import { createLogger } from '@custos/config';
import { accessEventAvro, deadLetterAvro, decisionAvro, subjectStateChangeAvro } from '@custos/schemas';
import { registryInstance } from '@custos/test/registry-instance';
import { infraEnv, testTopics } from '@custos/test/support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKafka, ensureTopics } from './client.js';
import { AvroCodec } from './registry.js';

describe('schema ids across a registry restart', () => {
  const { brokers } = infraEnv();
  const topics = testTopics('registry-restart', 1);
  const kafka = createKafka({ brokers, clientId: 'registry-restart-test', logger: createLogger('registry-restart', 'warn') });
  const schemas = [
    [topics.accessEvents.subject, accessEventAvro],
    [topics.decisions.subject, decisionAvro],
    [topics.subjectState.subject, subjectStateChangeAvro],
    [topics.accessEventsDlq.subject, deadLetterAvro],
  ] as const;
  let registry: Awaited<ReturnType<typeof registryInstance>>;

  beforeAll(async () => {
    registry = await registryInstance('restart', brokers, 'kafkasql');
    await registry.start();
    const admin = kafka.admin();
    await admin.connect();
    await ensureTopics(admin, [topics.accessEvents]);
    await admin.disconnect();
  });

  afterAll(async () => {
    await registry?.destroy();
  });

  it('keeps every subject on its id, and records written before decode after', async () => {
    const before = AvroCodec.connect(registry.url);
    const ids = new Map<string, number>();
    for (const [subject, schema] of schemas) ids.set(subject, (await before.register(subject, schema)).id);
    expect(new Set(ids.values()).size).toBe(schemas.length);

    // Records of two schemas, written before the restart.
    const access = await before.register(topics.accessEvents.subject, accessEventAvro);
    const state = await before.register(topics.subjectState.subject, subjectStateChangeAvro);
    const events = Array.from({ length: 20 }, (_, i) => ({
      eventId: randomUUID(),
      occurredAt: 1_770_000_000_000 + i,
      tenantId: 'spera',
      actor: { id: 's-asha', type: 'staff' },
      subject: { id: `c${i}`, type: 'customer' },
      categories: ['personal.contact'],
      fields: null,
      action: 'read',
      purpose: 'service.support',
      recipient: null,
      legalBasis: null,
      dataCollectedAt: null,
      recordCount: 1,
      source: { service: 'test', requestId: null, traceId: null, ip: null },
      attributes: null,
    }));
    const change = {
      eventId: randomUUID(),
      occurredAt: 1_770_000_000_000,
      tenantId: 'spera',
      subjectId: 'c1',
      change: 'promotional_opt_out',
      reference: null,
    };
    const producer = kafka.producer({ idempotent: true });
    await producer.connect();
    await producer.send({
      topic: topics.accessEvents.name,
      messages: [...events.map((e) => ({ value: access.encode(e) })), { value: state.encode(change) }],
    });
    await producer.disconnect();

    await registry.restart();

    // A fresh client, as a process started after the restart: nothing cached.
    const after = AvroCodec.connect(registry.url);
    for (const [subject] of schemas) expect(await after.registry.getLatestSchemaId(subject)).toBe(ids.get(subject));
    // Registering again (what every service does at start) answers the same ids.
    for (const [subject, schema] of schemas) expect((await after.register(subject, schema)).id).toBe(ids.get(subject));
    // A schema registered after the restart gets an id of its own, not one handed out before.
    const extra = { type: 'record', name: 'Extra', namespace: 'io.custos.test', fields: [{ name: 'n', type: 'int' }] };
    const extraId = (await after.register(`${topics.accessEvents.name}-extra-value`, extra)).id;
    expect([...ids.values()]).not.toContain(extraId);

    // A consumer with another fresh client decodes what was written before the restart.
    const reader = AvroCodec.connect(registry.url);
    const consumer = kafka.consumer({ groupId: `${topics.accessEvents.name}-reader`, maxWaitTimeInMs: 200 });
    await consumer.connect();
    await consumer.subscribe({ topic: topics.accessEvents.name, fromBeginning: true });
    const decoded: unknown[] = [];
    const done = new Promise<void>((resolve, reject) => {
      void consumer
        .run({
          eachMessage: async ({ message }) => {
            decoded.push((await reader.decode(message.value)).value);
            if (decoded.length === events.length + 1) resolve();
          },
        })
        .catch(reject);
    });
    await done;
    await consumer.disconnect();
    expect(decoded.slice(0, events.length).map((v) => JSON.parse(JSON.stringify(v)))).toEqual(events);
    expect(JSON.parse(JSON.stringify(decoded[events.length]))).toEqual(change);
  });
});
