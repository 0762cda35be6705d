import { crc32 } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CORRUPT, checkFrame, crc32Range, encodeFrame, FRAME_HEADER, KIND_ACCESS, sealFrames } from './frame.js';

describe('frames', () => {
  it("crc32Range is zlib's crc32 of the range, for any bytes, offsets and lengths (both sides of the native switch)", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 3000 }), fc.nat(), fc.nat(), (bytes, a, b) => {
        const buf = Buffer.from(bytes);
        const start = bytes.length === 0 ? 0 : a % (bytes.length + 1);
        const end = start + (b % (bytes.length - start + 1));
        expect(crc32Range(buf, start, end)).toBe(crc32(buf.subarray(start, end)));
      }),
      { numRuns: 3000 },
    );
  });

  it('sealFrames fills in each CRC, which checkFrame verifies', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ minLength: 5, maxLength: 1500 }), { minLength: 1, maxLength: 6 }), (values) => {
        const frames = values.map((v) =>
          encodeFrame(KIND_ACCESS, Buffer.alloc(8, 7), Buffer.from('k'), Buffer.concat([Buffer.from([0, 0, 0, 0, 0]), v])),
        );
        const buf = Buffer.concat(frames);
        const blank = Buffer.from(buf);
        let p = 0;
        for (const f of frames) {
          blank.writeUInt32BE(0, p + 4);
          p += f.length;
        }
        sealFrames(blank, 0, blank.length);
        expect(blank.equals(buf)).toBe(true);
        p = 0;
        for (const f of frames) {
          expect(checkFrame(buf, p, buf.length)).toBe(f.length - FRAME_HEADER);
          p += f.length;
        }
        buf[buf.length - 1]! ^= 1;
        expect(checkFrame(buf, buf.length - frames.at(-1)!.length, buf.length)).toBe(CORRUPT);
      }),
      { numRuns: 300 },
    );
  });
});
