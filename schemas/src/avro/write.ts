/**
 * Avro primitives written by hand, byte for byte as avsc writes them, for the writers beside them
 * that encode records without avsc (access-event-writer.ts, decision-writer.ts).
 * differential.test.ts checks them, and each writer's whole output, against avsc.
 */

/**
 * avsc's Tap#writeLong: zig-zag varint, with float arithmetic outside ±2^30 (same bytes). Returns the
 * position after it; the caller makes sure of 10 bytes of room.
 */
export function writeAvroLong(b: Buffer, p: number, n: number): number {
  if (n >= -1073741824 && n < 1073741824) {
    let m = n >= 0 ? n << 1 : (~n << 1) | 1;
    while (m > 0x7f) {
      b[p++] = (m & 0x7f) | 0x80;
      m >>>= 7;
    }
    b[p++] = m;
    return p;
  }
  let f = n >= 0 ? n * 2 : -n * 2 - 1;
  while (f >= 128) {
    b[p++] = (f & 0x7f) | 0x80;
    f /= 128;
  }
  b[p++] = f & 0x7f;
  return p;
}

/**
 * The UTF-8 loop avsc's Tap#writeString uses for strings of ≤ 64 bytes (above that it uses
 * utf8Write, which differs for lone surrogates: this loop writes them as 3 raw bytes). Writes the
 * bytes of `s` (no length) at `p` and returns the end; needs room for 3 × s.length bytes.
 */
export function writeAvroUtf8Short(b: Buffer, p: number, s: string): number {
  const n = s.length;
  for (let i = 0; i < n; i++) {
    let c = s.charCodeAt(i);
    if (c < 0x80) b[p++] = c;
    else if (c < 0x800) {
      b[p++] = (c >> 6) | 0xc0;
      b[p++] = (c & 0x3f) | 0x80;
    } else {
      // charCodeAt past the end is NaN, which is not a low surrogate either
      const c2 = (c & 0xfc00) === 0xd800 ? s.charCodeAt(i + 1) : 0;
      if ((c2 & 0xfc00) === 0xdc00) {
        c = 0x10000 + ((c & 0x03ff) << 10) + (c2 & 0x03ff);
        i++;
        b[p++] = (c >> 18) | 0xf0;
        b[p++] = ((c >> 12) & 0x3f) | 0x80;
        b[p++] = ((c >> 6) & 0x3f) | 0x80;
        b[p++] = (c & 0x3f) | 0x80;
      } else {
        b[p++] = (c >> 12) | 0xe0;
        b[p++] = ((c >> 6) & 0x3f) | 0x80;
        b[p++] = (c & 0x3f) | 0x80;
      }
    }
  }
  return p;
}

/**
 * avsc's Tap#writeString: the varint byte length (Buffer.byteLength), then utf8Write (Buffer#write,
 * the same bytes) above 64 bytes, its own loop (`writeAvroUtf8Short`) up to 64. Returns the end;
 * needs room for 10 + 3 × s.length bytes.
 */
export function writeAvroString(b: Buffer, p: number, s: string): number {
  const len = Buffer.byteLength(s, 'utf8');
  p = writeAvroLong(b, p, len);
  return len > 64 ? p + b.write(s, p, len, 'utf8') : writeAvroUtf8Short(b, p, s);
}
