/**
 * Ordinary messages go to kafkajs in parts (batch-messages.js): every message exactly once, in
 * order, each part within the size, and a retry of the same batch starts at the first part Kafka did
 * not acknowledge, so nothing acknowledged is appended twice.
 */
import type { Producer } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { BatchMessages, PLAIN_PART_MESSAGES, type SendProgress, sendInParts, sendParts } from './batch-messages.js';
import type { PackedBatch } from './transport.js';

/** a packed batch of `counts[t]` records for topic t, each key `k<t>-<i>` and value `v<t>-<i>` */
function packed(counts: number[]): PackedBatch {
  const chunks: Buffer[] = [];
  let at = 0;
  const topics = counts.map((n, t) => {
    const index = new Int32Array(4 * n);
    for (let i = 0; i < n; i++) {
      const k = Buffer.from(`k${t}-${i}`);
      const v = Buffer.from(`v${t}-${i}`);
      index.set([at, k.length, at + k.length, v.length], 4 * i);
      chunks.push(k, v);
      at += k.length + v.length;
    }
    return { topic: `t${t}`, index };
  });
  const buf = new SharedArrayBuffer(at);
  Buffer.concat(chunks).copy(Buffer.from(buf));
  return { buf, topics };
}

type Sent = { topic: string; messages: { key: Buffer | null; value: Buffer | null }[] }[];

/** a producer whose sendBatch records what it was given and fails the calls listed in `failAt` */
function producer(failAt: Set<number>) {
  const calls: Sent[] = [];
  let n = 0;
  const p = {
    async sendBatch({ topicMessages }: { topicMessages: Sent }) {
      const call = n++;
      if (failAt.has(call)) throw Object.assign(new Error('leader not available'), { retriable: true });
      // copies: the message objects are reused from batch to batch
      calls.push(topicMessages.map(({ topic, messages }) => ({ topic, messages: messages.map((m) => ({ ...m })) })));
    },
  };
  return { p: p as unknown as Producer, calls };
}

const flat = (calls: Sent[]) =>
  calls.flatMap((c) => c.flatMap(({ topic, messages }) => messages.map((m) => `${topic}:${m.key}:${m.value}`)));
const expected = (counts: number[]) =>
  counts.flatMap((n, t) => Array.from({ length: n }, (_, i) => `t${t}:k${t}-${i}:v${t}-${i}`));

describe('ordinary messages in parts', () => {
  it('carries every message once, in order, in parts of at most PLAIN_PART_MESSAGES', async () => {
    for (const counts of [[1], [PLAIN_PART_MESSAGES], [PLAIN_PART_MESSAGES + 1], [3 * PLAIN_PART_MESSAGES - 7, 40], [0, 5]]) {
      const messages = new BatchMessages(0);
      const parts = sendParts(messages.build(packed(counts), false), false);
      const { p, calls } = producer(new Set());
      await sendInParts(p, parts, -1, 1000, { parts: 0, acknowledged: new Set() });
      messages.release();
      expect(flat(calls)).toEqual(expected(counts));
      for (const c of calls) expect(c.reduce((s, t) => s + t.messages.length, 0)).toBeLessThanOrEqual(PLAIN_PART_MESSAGES);
      expect(calls.length).toBe(Math.ceil(counts.reduce((a, b) => a + b, 0) / PLAIN_PART_MESSAGES));
    }
  });

  it('sends ranged messages in one call', () => {
    const messages = new BatchMessages(0);
    expect(sendParts(messages.build(packed([3 * PLAIN_PART_MESSAGES]), true), true)).toHaveLength(1);
    messages.release();
  });

  it('a retry of the same batch skips the parts Kafka acknowledged', async () => {
    const counts = [2 * PLAIN_PART_MESSAGES + 10];
    const messages = new BatchMessages(0);
    const parts = sendParts(messages.build(packed(counts), false), false);
    // the second call (the second part) fails once
    const { p, calls } = producer(new Set([1]));
    const progress: SendProgress = { parts: 0, acknowledged: new Set() };
    await expect(sendInParts(p, parts, -1, 1000, progress)).rejects.toThrow('leader not available');
    expect(progress.parts).toBe(1);
    await sendInParts(p, parts, -1, 1000, progress);
    messages.release();
    expect(progress.parts).toBe(3);
    expect(flat(calls)).toEqual(expected(counts));
  });
});
