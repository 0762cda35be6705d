/**
 * The kafkajs patch's ranged messages (patches/kafkajs@2.2.4.patch; the sender thread's records,
 * whose key and value are ranges of the batch's shared buffer): the produce request written for them
 * is byte for byte the one written for the same keys and values as Buffers, and any other encoding
 * path refuses them instead of writing something else.
 */
import { createRequire } from 'node:module';
import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';

const require = createRequire(import.meta.url);
// kafkajs' own produce request (v3), as the producer builds it; no "exports" map, so reachable.
const ProduceV3 = require('kafkajs/src/protocol/requests/produce/v3/request.js') as (args: object) => {
  encode(opts?: { headroom?: number }): Promise<{ buf: Buffer; offset: number; buffer: Buffer }>;
};
const { Types } = require('kafkajs/src/protocol/message/compression/index.js') as { Types: { None: number; GZIP: number } };
const Long = require('kafkajs/src/utils/long.js') as { fromInt(n: number): unknown; fromNumber(n: number): unknown };

interface Plain {
  key: Buffer | null;
  value: Buffer;
  timestamp?: string;
}

function request(messagesPerPartition: object[][], compression = Types.None, transactionalId: string | null = null) {
  return ProduceV3({
    acks: -1,
    timeout: 30000,
    transactionalId,
    producerId: Long.fromNumber(4242),
    producerEpoch: 3,
    compression,
    topicData: [
      {
        topic: 'access-events',
        partitions: messagesPerPartition.map((messages, partition) => ({ partition, firstSequence: 7 * partition, messages })),
      },
    ],
  });
}

/** The same messages as ranges of one buffer (with bytes before, between and after them). */
function ranged(parts: Plain[][]): object[][] {
  const chunks: Buffer[] = [Buffer.from('head')];
  let pos = 4;
  const out = parts.map((messages) =>
    messages.map((m) => {
      const key = m.key ?? Buffer.alloc(0);
      const r = {
        key: null,
        value: null,
        keyStart: pos,
        keyEnd: pos + key.length,
        valueStart: 0,
        valueEnd: 0,
        timestamp: m.timestamp,
      };
      chunks.push(key, Buffer.from('~'));
      pos += key.length + 1;
      r.valueStart = pos;
      r.valueEnd = pos + m.value.length;
      chunks.push(m.value);
      pos += m.value.length;
      return r;
    }),
  );
  const bytes = Buffer.concat([...chunks, Buffer.from('tail')]);
  for (const list of out) for (const r of list) Object.assign(r, { bytes });
  return out;
}

const message = fc.record({
  key: fc.uint8Array({ minLength: 1, maxLength: 40 }).map((a) => Buffer.from(a)),
  value: fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)),
  timestamp: fc.option(fc.integer({ min: 1_700_000_000_000, max: 1_900_000_000_000 }).map(String), { nil: undefined }),
});

describe('ranged messages (kafkajs patch)', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('encode to the same produce request as the same keys and values as buffers', async () => {
    // messages without a timestamp get the request's Date.now(): the same for both encodings
    vi.spyOn(Date, 'now').mockReturnValue(1_795_000_000_123);
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(message, { minLength: 1, maxLength: 20 }), { minLength: 1, maxLength: 4 }),
        fc.option(fc.constant('custos-enforcer-0'), { nil: null }),
        async (parts, txId) => {
          // the request's bytes: after the headroom left for the frame, up to the end written
          const bytes = (e: { buf: Buffer; offset: number }) => e.buf.subarray(12, e.offset);
          const plain = bytes(await request(parts, Types.None, txId).encode({ headroom: 12 }));
          const got = bytes(await request(ranged(parts), Types.None, txId).encode({ headroom: 12 }));
          expect(got.equals(plain)).toBe(true);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('are refused by any other encoding path (compressed, or without the one-pass framing)', async () => {
    const parts = ranged([[{ key: Buffer.from('s-1'), value: Buffer.from('v') }]]);
    await expect(request(parts, Types.GZIP).encode({ headroom: 12 })).rejects.toThrow(/byte ranges/);
    await expect(request(parts).encode()).rejects.toThrow(/byte ranges/);
  });
});
