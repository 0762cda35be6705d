/**
 * What a batch still needs of its consumed records while it is judged and committed: their keys
 * (each decision is keyed like its event), offsets and headers (for dead letters). Kept in a few
 * flat arrays so that kafkajs' message objects can go at once (`Batch.releaseMessages`, our kafkajs
 * patch): otherwise every message of a fetch (tens of thousands of objects and buffer views) lives
 * until its batch commits and is promoted to the old generation on the way.
 * Values are not kept: the judge has them, and hands back those of the records that failed.
 */
import type { KafkaMessage } from '@custos/kafka';

type Headers = KafkaMessage['headers'];

export class BatchRecords {
  private constructor(
    readonly length: number,
    private readonly keyBytes: Buffer,
    /** start of key i in keyBytes; its length in keyLens, -1 for a null key */
    private readonly keyStarts: Int32Array,
    private readonly keyLens: Int32Array,
    /** offsets as numbers when every one is a safe integer (always, in practice), else as strings */
    private readonly offsets: Float64Array | string[],
    /** only the records that have headers */
    private readonly headers: Map<number, Headers> | undefined,
  ) {}

  static of(messages: readonly KafkaMessage[]): BatchRecords {
    const n = messages.length;
    let keyTotal = 0;
    for (let i = 0; i < n; i++) keyTotal += messages[i]!.key?.length ?? 0;
    const keyBytes = Buffer.allocUnsafeSlow(keyTotal);
    const keyStarts = new Int32Array(n);
    const keyLens = new Int32Array(n);
    let offsets: Float64Array | string[] = new Float64Array(n);
    let headers: Map<number, Headers> | undefined;
    let pos = 0;
    for (let i = 0; i < n; i++) {
      const m = messages[i]!;
      const k = m.key;
      keyStarts[i] = pos;
      if (k === null || k === undefined) keyLens[i] = -1;
      else {
        keyBytes.set(k, pos);
        keyLens[i] = k.length;
        pos += k.length;
      }
      if (offsets instanceof Float64Array) {
        const o = Number(m.offset);
        if (Number.isSafeInteger(o)) offsets[i] = o;
        else offsets = messages.map((x) => x.offset);
      }
      const h = m.headers;
      if (h !== undefined) {
        for (const _ in h) {
          headers ??= new Map();
          headers.set(i, h);
          break;
        }
      }
    }
    return new BatchRecords(n, keyBytes, keyStarts, keyLens, offsets, headers);
  }

  /** a fresh view on the record's key (short-lived: made as its decision goes out) */
  key(i: number): Buffer | null {
    const len = this.keyLens[i]!;
    if (len < 0) return null;
    const start = this.keyStarts[i]!;
    return this.keyBytes.subarray(start, start + len);
  }

  offset(i: number): string {
    const o = this.offsets[i]!;
    return typeof o === 'string' ? o : String(o);
  }

  headersOf(i: number): Headers {
    return this.headers?.get(i) ?? {};
  }
}
