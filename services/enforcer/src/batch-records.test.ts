import type { KafkaMessage } from '@custos/kafka';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BatchRecords } from './batch-records.js';

const message = (offset: string, key: Buffer | null, headers: KafkaMessage['headers'] = {}): KafkaMessage =>
  ({ offset, key, value: Buffer.from('v'), headers, timestamp: '0', attributes: 0 }) satisfies KafkaMessage;

describe('BatchRecords', () => {
  it('gives back each record key, offset and headers as consumed', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            delta: fc.integer({ min: 1, max: 3 }),
            key: fc.option(fc.uint8Array({ maxLength: 40 }), { nil: null }),
            trace: fc.option(fc.string({ maxLength: 5 }), { nil: undefined }),
          }),
          { maxLength: 60 },
        ),
        fc.integer({ min: 0, max: 2 ** 40 }),
        (recs, base) => {
          let offset = base;
          const messages = recs.map((r) => {
            offset += r.delta;
            return message(
              String(offset),
              r.key === null ? null : Buffer.from(r.key),
              r.trace === undefined ? {} : { trace: r.trace },
            );
          });
          const b = BatchRecords.of(messages);
          expect(b.length).toBe(messages.length);
          messages.forEach((m, i) => {
            expect(b.offset(i)).toBe(m.offset);
            expect(b.key(i)).toEqual(m.key);
            expect(b.headersOf(i)).toEqual(m.headers);
          });
        },
      ),
    );
  });

  it('keeps offsets past 2^53 exactly', () => {
    const big = ['9007199254740993', '9007199254740995'];
    const b = BatchRecords.of(big.map((o) => message(o, Buffer.from('k'))));
    expect([b.offset(0), b.offset(1)]).toEqual(big);
  });

  it('owns its key bytes: later changes to the consumed buffers do not reach them', () => {
    const key = Buffer.from('s-asha');
    const b = BatchRecords.of([message('5', key)]);
    key.fill(0);
    expect(b.key(0)?.toString()).toBe('s-asha');
  });
});
