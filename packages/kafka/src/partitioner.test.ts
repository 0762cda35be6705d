import fc from 'fast-check';
import { Partitioners } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { createKeyPartitioner, murmur2 } from './partitioner.js';

const metadata = (n: number, down: number[] = []) =>
  Array.from({ length: n }, (_, i) => ({
    partitionErrorCode: 0,
    partitionId: i,
    leader: down.includes(i) ? -1 : 0,
    replicas: [0],
    isr: [0],
    offlineReplicas: [],
  }));

describe('createKeyPartitioner', () => {
  it("puts every keyed message on kafkajs' DefaultPartitioner's partition", () => {
    const theirs = Partitioners.DefaultPartitioner();
    const ours = createKeyPartitioner();
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), fc.integer({ min: 1, max: 64 }), (bytes, n) => {
        const key = Buffer.from(bytes);
        const partitionMetadata = metadata(n, [0]);
        const message = { key, value: null };
        expect(ours({ topic: 't', partitionMetadata, message })).toBe(theirs({ topic: 't', partitionMetadata, message }));
      }),
      { numRuns: 5000 },
    );
    for (const key of ['s-1', 's-asha', '["spera","cust-1","promotional"]', 'ключ', '']) {
      const partitionMetadata = metadata(6);
      expect(ours({ topic: 't', partitionMetadata, message: { key } })).toBe(
        theirs({ topic: 't', partitionMetadata, message: { key, value: null } }),
      );
    }
  });

  it('puts a key given as a range of a shared buffer (the sender thread) where the key alone goes', () => {
    const ours = createKeyPartitioner();
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 32 }),
        fc.uint8Array({ maxLength: 64 }),
        fc.uint8Array({ maxLength: 16 }),
        fc.integer({ min: 1, max: 64 }),
        (before, key, after, n) => {
          const bytes = Buffer.concat([before, key, after]);
          const partitionMetadata = metadata(n);
          const ranged = { key: null, bytes, keyStart: before.length, keyEnd: before.length + key.length };
          expect(ours({ topic: 't', partitionMetadata, message: ranged })).toBe(
            ours({ topic: 't', partitionMetadata, message: { key: Buffer.from(key) } }),
          );
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('hashes a slice of a larger buffer like the bytes alone', () => {
    const buf = Buffer.from('xxs-asha-42yy');
    expect(murmur2(buf, 2, 11)).toBe(murmur2(Buffer.from('s-asha-42')));
  });

  it('keeps an explicit partition and spreads keyless messages over available partitions', () => {
    const p = createKeyPartitioner();
    expect(p({ topic: 't', partitionMetadata: metadata(6), message: { key: 'k', partition: 4 } })).toBe(4);
    const seen = new Set<number>();
    for (let i = 0; i < 30; i++) seen.add(p({ topic: 't', partitionMetadata: metadata(3, [1]), message: {} }));
    expect([...seen].sort()).toEqual([0, 2]);
  });
});
