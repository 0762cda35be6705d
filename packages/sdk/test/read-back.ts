/**
 * Reads an access-events topic back for the SDK's integration tests: everything from the beginning
 * until `n` distinct eventIds were seen, then, after de-duplication by eventId (first occurrence
 * kept), checks that each actor's events arrived in recording order (`attributes.seq` counting up
 * from 0 per actor).
 */
import { accessEventAvro, fromAvro } from '@custos/schemas';
import { waitFor } from '@custos/test/support';
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import { Kafka, logLevel } from 'kafkajs';
import { expect } from 'vitest';

export async function readBackInOrder(
  brokers: string[],
  registryUrl: string,
  topic: string,
  n: number,
): Promise<{ distinct: number; total: number }> {
  const kafka = new Kafka({ brokers, clientId: 'sdk-test-reader', logLevel: logLevel.NOTHING });
  const consumer = kafka.consumer({ groupId: `${topic}-reader-${Date.now()}` });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const perPartition = new Map<number, Buffer[]>();
  let total = 0;
  const seen = new Set<string>();
  await consumer.run({
    eachBatch: async ({ batch }) => {
      const list = perPartition.get(batch.partition) ?? [];
      perPartition.set(batch.partition, list);
      for (const message of batch.messages) {
        list.push(message.value!);
        total++;
        // cheap id peek for the stop condition: the eventId is the first Avro field after the
        // 5-byte header (one length byte, 36 characters)
        seen.add(message.value!.subarray(6, 42).toString('latin1'));
      }
    },
  });
  await waitFor(() => seen.size >= n, {
    what: `${n} distinct events on ${topic}`,
    timeoutMs: 90_000,
    detail: () => `read ${seen.size} distinct`,
  });
  await consumer.disconnect();

  const registry = new SchemaRegistry({ host: registryUrl });
  const firstSeen = new Set<string>();
  const lastSeq = new Map<string, number>();
  for (const values of perPartition.values()) {
    for (const v of values) {
      const e = fromAvro<{ eventId: string; actor: { id: string }; attributes: { seq: string } }>(
        accessEventAvro,
        await registry.decode(v),
      );
      if (firstSeen.has(e.eventId)) continue;
      firstSeen.add(e.eventId);
      const s = Number(e.attributes.seq);
      expect(s).toBe((lastSeq.get(e.actor.id) ?? -1) + 1);
      lastSeq.set(e.actor.id, s);
    }
  }
  expect([...lastSeq.values()].reduce((a, b) => a + b + 1, 0)).toBe(firstSeen.size);
  return { distinct: firstSeen.size, total };
}
