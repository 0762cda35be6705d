/**
 * The kafkajs patch's CRC-32C (patches/kafkajs@2.2.4.patch): eight bytes per step instead of one.
 * It must give the checksum a byte at a time gives (the broker rejects a record batch whose CRC is
 * wrong), for every length and alignment.
 */
import { createRequire } from 'node:module';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

const require = createRequire(import.meta.url);
// kafkajs has no "exports" map, so its internals are reachable.
const crc32C = require('kafkajs/src/protocol/recordBatch/crc32C/index.js') as (b: Buffer) => number;

// CRC-32C (Castagnoli, reflected polynomial 0x82f63b78) a bit at a time: the definition.
function reference(b: Uint8Array): number {
  let crc = ~0;
  for (const byte of b) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
  }
  return (crc ^ ~0) >>> 0;
}

describe("kafkajs' CRC-32C (patched)", () => {
  it('gives the check value of the standard', () => {
    expect(crc32C(Buffer.from('123456789'))).toBe(0xe3069283);
    expect(crc32C(Buffer.alloc(0))).toBe(0);
  });

  it('equals the bitwise definition for any bytes, length and offset', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat({ max: 7 }), (bytes, offset) => {
        // a view that does not start at its buffer's start, as kafkajs' slices do
        const backing = Buffer.alloc(bytes.length + offset + 3, 0xff);
        backing.set(bytes, offset);
        const view = backing.subarray(offset, offset + bytes.length);
        expect(crc32C(view)).toBe(reference(bytes));
      }),
      { numRuns: 3000 },
    );
  });
});
