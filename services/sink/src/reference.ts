/**
 * The decisions topic as the record kept outside ClickHouse, for `verifyRange(…, { reference })`:
 * every decision as the sink received it (read committed, within the topic's retention), what the
 * sink committed as stored (its consumer group's offsets), and what it dead-lettered.
 */
import { randomUUID } from 'node:crypto';
import type { AvroCodec, Kafka, KafkaMessage } from '@custos/kafka';
import { type DeadLetter, deadLetterAvro, decisionAvro, fromAvro, type Topics } from '@custos/schemas';
import { type AvroDecision, type DecisionContent, type ReferenceRecord, type ReferenceSource, rowFromAvro } from '@custos/store';

export interface TopicReferenceOptions {
  kafka: Kafka;
  codec: AvroCodec;
  topics: Topics;
  /** the sink's consumer group, whose committed offsets say what was stored */
  sinkGroupId: string;
  /** a partition read ends after this long without a record (read committed hides markers) */
  idleMs?: number;
}

export interface TopicReference extends ReferenceSource {
  close(): Promise<void>;
}

export async function topicReference(opts: TopicReferenceOptions): Promise<TopicReference> {
  const { kafka, codec, topics } = opts;
  const topic = topics.decisions.name;
  const admin = kafka.admin();
  await admin.connect();
  const schema = await codec.register(topics.decisions.subject, decisionAvro);
  let dead: Map<number, Set<string>> | undefined;

  const offsets = async () => {
    const ends = await admin.fetchTopicOffsets(topic);
    const [committed] = await admin.fetchOffsets({ groupId: opts.sinkGroupId, topics: [topic] });
    return { ends, committed: committed?.partitions ?? [] };
  };

  return {
    name: `topic ${topic}`,
    async bounds(chain) {
      const { ends, committed } = await offsets();
      const e = ends.find((x) => x.partition === chain);
      const c = committed.find((x) => x.partition === chain);
      return {
        low: BigInt(e?.low ?? '0'),
        high: BigInt(e?.high ?? '0'),
        committed: c && BigInt(c.offset) >= 0n ? BigInt(c.offset) : null,
      };
    },
    async deadLettered(chain) {
      if (!dead) {
        const found = new Map<number, Set<string>>();
        await readPartitions(kafka, topics.decisionsDlq.name, null, async (m) => {
          try {
            const { value } = await codec.decode(m.value);
            const letter = fromAvro<DeadLetter>(deadLetterAvro, value);
            if (letter.sourceTopic !== topic) return;
            const set = found.get(letter.partition) ?? new Set<string>();
            set.add(letter.offset);
            found.set(letter.partition, set);
          } catch {
            // not a dead letter we can read: it cannot account for a record either
          }
        });
        dead = found;
      }
      return dead.get(chain) ?? new Set();
    },
    async *read(chain, from, to) {
      const queue: ReferenceRecord[] = [];
      let done = false;
      let wake: (() => void) | undefined;
      const reader = readPartitions(
        kafka,
        topic,
        { partition: chain, from, to },
        async (m) => {
          let content: DecisionContent | undefined;
          try {
            const { value } = await codec.decode<AvroDecision>(m.value, schema);
            content = rowFromAvro(value, chain, m.offset);
          } catch {
            content = undefined;
          }
          queue.push(content ? { offset: m.offset, content } : { offset: m.offset });
          wake?.();
        },
        opts.idleMs,
      ).finally(() => {
        done = true;
        wake?.();
      });
      try {
        for (;;) {
          const next = queue.shift();
          if (next) {
            yield next;
            continue;
          }
          if (done) break;
          await new Promise<void>((r) => {
            wake = r;
          });
          wake = undefined;
        }
      } finally {
        await reader;
      }
    },
    close: () => admin.disconnect(),
  };
}

/**
 * Reads one partition from `from` until `to` (or every partition from the start), read committed,
 * with a throwaway consumer group; returns when the end was reached or nothing came for `idleMs`.
 */
export async function readPartitions(
  kafka: Kafka,
  topic: string,
  only: { partition: number; from: bigint; to: bigint } | null,
  onMessage: (m: KafkaMessage, partition: number) => Promise<void>,
  idleMs = 3000,
): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  const ends = await admin.fetchTopicOffsets(topic).finally(() => admin.disconnect());
  const pending = new Map(
    ends
      .filter((e) => (only ? e.partition === only.partition : true))
      .map((e) => [e.partition, only ? (only.to < BigInt(e.high) ? only.to : BigInt(e.high)) : BigInt(e.high)] as const)
      .filter(([p, end]) => end > (only ? only.from : BigInt(ends.find((e) => e.partition === p)?.low ?? '0'))),
  );
  if (pending.size === 0) return;
  const consumer = kafka.consumer({ groupId: `custos-verify-${randomUUID()}`, readUncommitted: false, maxWaitTimeInMs: 200 });
  await consumer.connect();
  const began = Date.now();
  let last = 0;
  let resolve!: () => void;
  const finished = new Promise<void>((r) => {
    resolve = r;
  });
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch, resolveOffset, heartbeat }) => {
        last = Date.now();
        const end = pending.get(batch.partition);
        if (end === undefined) return;
        for (const m of batch.messages) {
          if (only && BigInt(m.offset) < only.from) continue;
          if (BigInt(m.offset) >= end) {
            pending.delete(batch.partition);
            break;
          }
          await onMessage(m, batch.partition);
          resolveOffset(m.offset);
          last = Date.now();
          if (BigInt(m.offset) + 1n >= end) pending.delete(batch.partition);
        }
        await heartbeat();
        if (pending.size === 0) resolve();
      },
    });
    if (only) consumer.seek({ topic, partition: only.partition, offset: only.from.toString() });
    // Joining the group takes a few seconds; after that, silence means the end was reached (read
    // committed skips transaction markers and aborted records, so `end` itself may never be seen).
    const idle = setInterval(() => {
      const now = Date.now();
      if (last ? now - last > idleMs : now - began > 60_000) resolve();
    }, 100);
    try {
      await finished;
    } finally {
      clearInterval(idle);
    }
  } finally {
    await consumer.disconnect();
  }
}
