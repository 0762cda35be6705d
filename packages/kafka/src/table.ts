/**
 * Reads a (compacted) topic in full, like a global table: every instance sees every record, from the
 * beginning, and `caughtUp` resolves once everything up to the high watermarks present at start
 * has been handed to `onMessage`. It keeps following the topic afterwards until stopped.
 */
import { randomUUID } from 'node:crypto';
import type { Kafka, KafkaMessage } from 'kafkajs';
import { whileTopicsPropagate } from './client.js';

export interface TableReader {
  caughtUp: Promise<void>;
  stop(): Promise<void>;
}

export async function readTable(
  kafka: Kafka,
  topic: string,
  onMessage: (m: KafkaMessage, partition: number) => Promise<void> | void,
  opts: { groupPrefix?: string; timeoutMs?: number } = {},
): Promise<TableReader> {
  const admin = kafka.admin();
  await admin.connect();
  const ends = await whileTopicsPropagate(() => admin.fetchTopicOffsets(topic)).finally(() => admin.disconnect());
  // Partitions still to reach their start-time high watermark.
  const pending = new Map(ends.filter((e) => BigInt(e.high) > BigInt(e.low)).map((e) => [e.partition, BigInt(e.high)]));
  let resolve!: () => void;
  let reject!: (err: unknown) => void;
  const caughtUp = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  if (pending.size === 0) resolve();
  // A fresh group each time: nothing is committed, the table is rebuilt from offset 0 on every start.
  // kafkajs' disconnect waits for the fetch in flight, which the broker holds for up to
  // maxWaitTimeInMs when there is nothing new (the usual case for a table): a short wait keeps a
  // stop quick, at the cost of two empty fetches a second.
  const consumer = kafka.consumer({
    groupId: `${opts.groupPrefix ?? 'custos-table'}-${randomUUID()}`,
    sessionTimeout: 30_000,
    maxWaitTimeInMs: 500,
  });
  await consumer.connect();
  await whileTopicsPropagate(() => consumer.subscribe({ topic, fromBeginning: true }));
  const timer =
    pending.size > 0
      ? setTimeout(() => reject(new Error(`timed out reading ${topic} to its end`)), opts.timeoutMs ?? 60_000)
      : undefined;
  timer?.unref();
  await consumer.run({
    autoCommit: false,
    eachMessage: async ({ message, partition }) => {
      await onMessage(message, partition);
      const end = pending.get(partition);
      if (end !== undefined && BigInt(message.offset) + 1n >= end) {
        pending.delete(partition);
        if (pending.size === 0) {
          if (timer) clearTimeout(timer);
          resolve();
        }
      }
    },
  });
  return { caughtUp, stop: () => consumer.disconnect() };
}
