/**
 * The kafkajs patch's `Batch.releaseMessages()` (patches/kafkajs@2.2.4.patch): after it, the batch
 * holds none of its messages, and every question kafkajs (or a handler) asks of it — first and last
 * offset, lag, emptiness — gets the answer it got before. Checked on random batches: records before
 * the fetched offset (compressed sets), control records, aborted transactions, log-compacted and
 * empty batches.
 */
import { createRequire } from 'node:module';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

const require = createRequire(import.meta.url);
interface Msg {
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  isControlRecord: boolean;
  batchContext: { producerId: string; inTransaction: boolean };
}
interface BatchLike {
  messages: Msg[];
  rawMessages: Msg[];
  messagesWithinOffset: Msg[];
  releaseMessages(): void;
  isEmpty(): boolean;
  isEmptyIncludingFiltered(): boolean;
  isEmptyDueToFiltering(): boolean;
  isEmptyControlRecord(): boolean;
  isEmptyDueToLogCompactedMessages(): boolean;
  firstOffset(): string | null;
  lastOffset(): string;
  offsetLag(): string;
  offsetLagLow(): string;
}
// kafkajs has no "exports" map, so its internals are reachable.
const Batch = require('kafkajs/src/consumer/batch.js') as new (
  topic: string,
  fetchedOffset: string,
  partitionData: {
    partition: number;
    highWatermark: string;
    messages: Msg[];
    abortedTransactions: { firstOffset: string; producerId: string }[];
  },
) => BatchLike;

const answers = (b: BatchLike) => ({
  isEmpty: b.isEmpty(),
  isEmptyIncludingFiltered: b.isEmptyIncludingFiltered(),
  isEmptyDueToFiltering: b.isEmptyDueToFiltering(),
  isEmptyControlRecord: b.isEmptyControlRecord(),
  isEmptyDueToLogCompactedMessages: b.isEmptyDueToLogCompactedMessages(),
  firstOffset: b.firstOffset(),
  lastOffset: b.lastOffset(),
  offsetLag: b.offsetLag(),
  offsetLagLow: b.offsetLagLow(),
});

const ABORT_MARKER = Buffer.from([0, 0, 0, 0]);

const batchArb = fc
  .record({
    base: fc.integer({ min: 0, max: 1_000_000 }),
    kinds: fc.array(fc.constantFrom('data', 'data', 'data', 'txn', 'control', 'abort-marker'), { maxLength: 12 }),
    // records before the fetched offset (kafkajs drops them: compressed record sets start earlier)
    before: fc.integer({ min: 0, max: 3 }),
    aborted: fc.boolean(),
    tail: fc.integer({ min: 0, max: 5 }),
  })
  .map(({ base, kinds, before, aborted, tail }) => {
    const messages: Msg[] = kinds.map((kind, i) => ({
      offset: String(base + i),
      key: kind === 'abort-marker' ? ABORT_MARKER : Buffer.from(`k${i}`),
      value: kind === 'control' || kind === 'abort-marker' ? null : Buffer.from(`v${i}`),
      isControlRecord: kind === 'control' || kind === 'abort-marker',
      batchContext: { producerId: kind === 'txn' || kind === 'abort-marker' ? '7' : '1', inTransaction: kind === 'txn' },
    }));
    const fetchedOffset = String(base + Math.min(before, kinds.length));
    return {
      fetchedOffset,
      partitionData: {
        partition: 3,
        highWatermark: String(base + kinds.length + tail),
        messages,
        abortedTransactions: aborted && kinds.length > 0 ? [{ firstOffset: String(base), producerId: '7' }] : [],
      },
    };
  });

describe('kafkajs patch: Batch.releaseMessages', () => {
  it('drops every message reference and answers as before', () => {
    fc.assert(
      fc.property(batchArb, ({ fetchedOffset, partitionData }) => {
        const b = new Batch('t', fetchedOffset, partitionData);
        const before = answers(b);
        b.releaseMessages();
        expect(b.messages).toEqual([]);
        expect(b.rawMessages).toEqual([]);
        expect(b.messagesWithinOffset).toEqual([]);
        expect(answers(b)).toEqual(before);
        b.releaseMessages(); // twice is harmless
        expect(answers(b)).toEqual(before);
      }),
      { numRuns: 500 },
    );
  });

  it('covers the cases that matter', () => {
    // a batch whose only record is a commit marker: empty due to filtering, last offset the marker's
    const marker = new Batch('t', '10', {
      partition: 0,
      highWatermark: '11',
      messages: [
        { offset: '10', key: null, value: null, isControlRecord: true, batchContext: { producerId: '1', inTransaction: true } },
      ],
      abortedTransactions: [],
    });
    marker.releaseMessages();
    expect(marker.isEmptyDueToFiltering()).toBe(true);
    expect(marker.lastOffset()).toBe('10');
    // records only before the fetched offset: the fetched offset is the last
    const compacted = new Batch('t', '20', {
      partition: 0,
      highWatermark: '30',
      messages: [
        {
          offset: '18',
          key: null,
          value: Buffer.from('x'),
          isControlRecord: false,
          batchContext: { producerId: '1', inTransaction: false },
        },
      ],
      abortedTransactions: [],
    });
    compacted.releaseMessages();
    expect(compacted.isEmptyDueToLogCompactedMessages()).toBe(true);
    expect(compacted.lastOffset()).toBe('20');
  });
});
