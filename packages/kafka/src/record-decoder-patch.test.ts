/**
 * The kafkajs patch's record decoding (patches/kafkajs@2.2.4.patch): a record's offset and timestamp
 * are summed as numbers when the batch's first offset and timestamp are at most 2^52 in magnitude
 * and the timestamp delta is a varlong of at most 7 bytes, and a record without headers skips the
 * array and the reduce. Every consumer's records must come out as 64-bit arithmetic gives them:
 * checked against BigInt sums on random batches (first offsets and timestamps on both sides of the
 * cut-off, negative and long deltas, headers with repeated keys), plain and compressed.
 */
import { createRequire } from 'node:module';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

const require = createRequire(import.meta.url);
// kafkajs has no "exports" map, so its internals are reachable.
type Headers = Record<string, Buffer | Buffer[]>;
const Record = require('kafkajs/src/protocol/recordBatch/record/v0/index.js') as (r: {
  offsetDelta: number;
  timestampDelta: number;
  key: Buffer | null;
  value: Buffer | null;
  headers?: Headers;
}) => unknown;
const { RecordBatch } = require('kafkajs/src/protocol/recordBatch/v0/index.js') as {
  RecordBatch: (b: object) => Promise<{ buffer: Buffer }>;
};
const decodeBatch = require('kafkajs/src/protocol/recordBatch/v0/decoder.js') as (d: unknown) => Promise<{
  records: { offset: string; timestamp: string; key: Buffer | null; value: Buffer | null; headers: Headers }[];
}>;
const Decoder = require('kafkajs/src/protocol/decoder.js') as new (b: Buffer) => unknown;
const Long = require('kafkajs/src/utils/long.js') as { fromValue(v: string): unknown };
const { Types } = require('kafkajs/src/protocol/message/compression/index.js') as { Types: { None: number; GZIP: number } };

const int64 = fc.oneof(
  fc.bigInt({ min: -(2n ** 52n) - 5n, max: 2n ** 52n + 5n }),
  fc.constantFrom(-1n, 0n, 2n ** 52n, 2n ** 52n + 1n, -(2n ** 52n), 2n ** 53n + 1n, 2n ** 62n, -(2n ** 62n)),
  fc.bigInt({ min: 0n, max: 2n ** 62n }),
);
const header = fc.tuple(fc.constantFrom('a', 'b', 'trace'), fc.uint8Array({ maxLength: 4 }));
const record = fc.record({
  offsetDelta: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
  // up to 7 bytes as a varlong (|d| < 2^48) takes the patch's path, longer ones the Long path
  timestampDelta: fc.oneof(
    fc.integer({ min: -1000, max: 1000 }),
    fc.integer({ min: -(2 ** 48), max: 2 ** 48 }),
    fc.constantFrom(2 ** 48 - 1, -(2 ** 48), 2 ** 48, -(2 ** 48) - 1, 2 ** 50, -(2 ** 53) + 1, 2 ** 53 - 1),
  ),
  key: fc.option(fc.uint8Array({ maxLength: 8 }), { nil: null }),
  value: fc.option(fc.uint8Array({ maxLength: 16 }), { nil: null }),
  headers: fc.array(header, { maxLength: 3 }),
});

/** kafkajs' own folding of headers: one value, or an array for a repeated key */
function fold(pairs: [string, Uint8Array][]): Headers {
  const out: Headers = {};
  for (const [k, v] of pairs) {
    const b = Buffer.from(v);
    const had = out[k];
    out[k] = had === undefined ? b : Array.isArray(had) ? [...had, b] : [had, b];
  }
  return out;
}

describe('kafkajs record decoding (patched)', () => {
  it('gives the offsets, timestamps, keys, values and headers 64-bit arithmetic gives', async () => {
    await fc.assert(
      fc.asyncProperty(
        int64,
        int64,
        fc.array(record, { minLength: 1, maxLength: 6 }),
        fc.boolean(),
        async (firstOffset, firstTimestamp, records, gzip) => {
          const batch = await RecordBatch({
            compression: gzip ? Types.GZIP : Types.None,
            firstOffset: Long.fromValue(firstOffset.toString()),
            firstTimestamp: Long.fromValue(firstTimestamp.toString()),
            maxTimestamp: Long.fromValue(firstTimestamp.toString()),
            lastOffsetDelta: records.length - 1,
            records: records.map((r) =>
              Record({
                offsetDelta: r.offsetDelta,
                timestampDelta: r.timestampDelta,
                key: r.key === null ? null : Buffer.from(r.key),
                value: r.value === null ? null : Buffer.from(r.value),
                headers: fold(r.headers),
              }),
            ),
          });
          const decoded = await decodeBatch(new Decoder(batch.buffer));
          expect(decoded.records.length).toBe(records.length);
          decoded.records.forEach((got, i) => {
            const r = records[i]!;
            expect(got.offset).toBe((firstOffset + BigInt(r.offsetDelta)).toString());
            expect(got.timestamp).toBe((firstTimestamp + BigInt(r.timestampDelta)).toString());
            expect(got.key).toEqual(r.key === null ? null : Buffer.from(r.key));
            expect(got.value).toEqual(r.value === null ? null : Buffer.from(r.value));
            expect(got.headers).toEqual(fold(r.headers));
          });
        },
      ),
      { numRuns: 1500 },
    );
  });
});
