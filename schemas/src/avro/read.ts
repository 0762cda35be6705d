/**
 * Avro primitives read by hand, value for value as avsc's Tap reads them, for the readers beside
 * them that read records without avsc (access-event-reader.ts, decision-reader.ts). Whatever they
 * cannot read exactly as avsc does throws AVRO_UNSURE: the reader then hands the record to avsc,
 * which decides and words the error. differential.test.ts checks them, through each reader, against avsc.
 */

const EMPTY = Buffer.alloc(0);

/** Thrown (preallocated, no stack) when the bytes are for avsc to judge. */
export const AVRO_UNSURE: unknown = Symbol('avro-unsure');

/** avsc's long type refuses values beyond these (its float arithmetic loses precision there). */
const MAX_SAFE_LONG = 9007199254740990;

/** A position in Avro bytes, reading forwards and never past `end` (throws AVRO_UNSURE instead). */
export class AvroReadTap {
  buf: Buffer = EMPTY;
  pos = 0;
  end = 0;

  /** Reads `buf` from `start` to its end. */
  reset(buf: Buffer, start: number): void {
    this.buf = buf;
    this.pos = start;
    this.end = buf.length;
  }

  /** Drops the reference to the bytes. */
  release(): void {
    this.buf = EMPTY;
    this.pos = 0;
    this.end = 0;
  }

  /**
   * avsc's Tap#readLong (also its readInt): a zig-zag varint, with float arithmetic past 28 bits.
   * Values beyond ±(2^53 − 2), which avsc's long type refuses, throw AVRO_UNSURE.
   */
  long(): number {
    const buf = this.buf;
    const end = this.end;
    let pos = this.pos;
    let n = 0;
    let k = 0;
    let b: number;
    let h: number;
    do {
      if (pos >= end) throw AVRO_UNSURE;
      b = buf[pos++]!;
      h = b & 0x80;
      n |= (b & 0x7f) << k;
      k += 7;
    } while (h && k < 28);
    if (h) {
      let f = n;
      let fk = 268435456;
      do {
        if (pos >= end) throw AVRO_UNSURE;
        b = buf[pos++]!;
        f += (b & 0x7f) * fk;
        fk *= 128;
      } while (b & 0x80);
      this.pos = pos;
      const v = (f % 2 ? -(f + 1) : f) / 2;
      if (!(v >= -MAX_SAFE_LONG && v <= MAX_SAFE_LONG)) throw AVRO_UNSURE;
      return v;
    }
    this.pos = pos;
    return (n >> 1) ^ -(n & 1);
  }

  /** A string's (or bytes') length, checked against what is left; the position is then at its first byte. */
  strLen(): number {
    const len = this.long();
    if (len < 0 || len > this.end - this.pos) throw AVRO_UNSURE;
    return len;
  }

  /** An enum's symbol index, below `count`. */
  enumIndex(count: number): number {
    const i = this.long();
    if (!(i >= 0 && i < count)) throw AVRO_UNSURE;
    return i;
  }

  /**
   * The item count of an array's or a map's next block, as avsc reads it: a negative count is
   * followed by the block's byte size (skipped); 0 ends the list.
   */
  blockCount(): number {
    const n = this.long();
    if (n >= 0) return n;
    this.long();
    return -n;
  }

  /** The branch of a ["null", X] union: true when X follows. */
  present(): boolean {
    const i = this.long();
    if (i === 0) return false;
    if (i === 1) return true;
    throw AVRO_UNSURE;
  }
}
