/**
 * The sender thread's two ways of handing records to kafkajs, against the real broker and registry:
 * ranges of a shared buffer (only with the patched kafkajs, proved by a probe) and ordinary messages
 * (any kafkajs; forced here with `kafkaFastPath: 'off'`, taken on its own with stock kafkajs, which
 * test/sdk-install.test.ts installs from the registry). Either way every record has its key and
 * value, and each value decodes to the event recorded. The thread says which path it took.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createKafka, ensureTopics, kafkajsPatch } from '@custos/kafka';
import { accessEventAvro, fromAvro } from '@custos/schemas';
import { infraEnv, testTopics } from '@custos/test/support';
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import { Kafka, logLevel } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { createAuditClient } from './index.js';
import type { LoggerLike } from './logger.js';

const env = infraEnv();
const N = 2_000;

async function readAll(topic: string, n: number): Promise<{ key: Buffer | null; value: Buffer | null }[]> {
  const kafka = new Kafka({ brokers: env.brokers, clientId: 'send-path-reader', logLevel: logLevel.NOTHING });
  const consumer = kafka.consumer({ groupId: `${topic}-reader` });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const out: { key: Buffer | null; value: Buffer | null }[] = [];
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`read ${out.length} of ${n}`)), 60_000);
    void consumer.run({
      eachMessage: async ({ message }) => {
        out.push({ key: message.key, value: message.value });
        if (out.length >= n) {
          clearTimeout(timer);
          resolve();
        }
      },
    });
  });
  await consumer.disconnect();
  return out;
}

describe('the sender thread hands kafkajs records it can write', () => {
  for (const path of ['auto', 'off'] as const) {
    it(`kafkaFastPath '${path}': every record keyed, with its event as value`, async () => {
      const t = testTopics(`sdk-send-path-${path}`);
      const admin = createKafka({ brokers: env.brokers, clientId: 'send-path-admin' }).admin();
      await admin.connect();
      await ensureTopics(admin, [t.accessEvents, t.subjectState]);
      const logged: { obj: Record<string, unknown>; msg: string | undefined }[] = [];
      const log = (obj: object, msg?: string) => {
        logged.push({ obj: obj as Record<string, unknown>, msg });
      };
      const logger: LoggerLike = { debug: log, info: log, warn: log, error: log };
      const spoolDir = mkdtempSync(join(tmpdir(), 'custos-send-path-'));
      const client = createAuditClient({
        brokers: env.brokers,
        schemaRegistryUrl: env.registryUrl,
        service: 'send-path-test',
        topics: { accessEvents: t.accessEvents.name, subjectState: t.subjectState.name },
        spool: { dir: spoolDir },
        kafkaFastPath: path,
        logger,
      });
      const sent = new Map<string, { actor: string; subject: string }>();
      for (let i = 0; i < N; i++) {
        const eventId = `0190b0a0-0000-7000-8000-${String(i).padStart(12, '0')}`;
        const actor = `s-${i % 17}`;
        const subject = `cust-${i}`;
        sent.set(eventId, { actor, subject });
        client.record({
          eventId,
          tenantId: 'spera',
          actor: { id: actor, type: 'staff' },
          subject: { id: subject, type: 'customer' },
          categories: ['personal.contact'],
          action: 'read',
          purpose: 'service.support',
        });
      }
      expect(await client.close()).toEqual({ delivered: true, unsent: 0 });
      rmSync(spoolDir, { recursive: true, force: true });

      const patched = (await kafkajsPatch()).rangedMessages;
      const expected = path === 'auto' && patched ? 'ranged' : 'plain';
      expect(logged.find((l) => l.obj.sendPath !== undefined)?.obj.sendPath).toBe(expected);

      const records = await readAll(t.accessEvents.name, N);
      const registry = new SchemaRegistry({ host: env.registryUrl });
      const seen = new Set<string>();
      for (const r of records) {
        expect(r.key).not.toBeNull();
        expect(r.value).not.toBeNull();
        const e = fromAvro<{ eventId: string; actor: { id: string }; subject: { id: string } }>(
          accessEventAvro,
          await registry.decode(r.value!),
        );
        expect(r.key!.toString()).toBe(e.actor.id);
        expect(sent.get(e.eventId)).toEqual({ actor: e.actor.id, subject: e.subject.id });
        seen.add(e.eventId);
      }
      expect(seen.size).toBe(N);
      await admin.deleteTopics({ topics: [t.accessEvents.name, t.subjectState.name] }).catch(() => {});
      await admin.disconnect();
    });
  }
});
