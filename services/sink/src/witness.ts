/**
 * Reading the witness topic back (for `custos verify`): every checkpoint and head the sinks wrote,
 * in order. The topic keeps them forever (see schemas/ topics), so what ClickHouse lost is still
 * there; see @custos/store heads.ts for what the verifier does with them.
 */
import type { Kafka } from '@custos/kafka';
import type { Topics } from '@custos/schemas';
import { decodeWitness, type WitnessLog, type WitnessRecord } from '@custos/store';
import { readPartitions } from './reference.js';

export class WitnessUnavailable extends Error {
  readonly retriable = true;
}

export async function readWitnessTopic(kafka: Kafka, topics: Topics, idleMs = 1500): Promise<WitnessLog> {
  const topic = topics.witness.name;
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = await admin.listTopics();
    if (!existing.includes(topic)) {
      throw new WitnessUnavailable(`the witness topic ${topic} does not exist (no sink with a checkpoint key has run here)`);
    }
  } finally {
    await admin.disconnect();
  }
  const byOffset: { offset: bigint; r: WitnessRecord }[] = [];
  await readPartitions(
    kafka,
    topic,
    null,
    async (m) => {
      const r = decodeWitness(m.value);
      if (r) byOffset.push({ offset: BigInt(m.offset), r });
    },
    idleMs,
  );
  byOffset.sort((a, b) => (a.offset < b.offset ? -1 : a.offset > b.offset ? 1 : 0));
  return { name: `witness topic ${topic}`, records: byOffset.map((x) => x.r) };
}
