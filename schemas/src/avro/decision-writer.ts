/**
 * Decisions → framed Avro bytes (the enforcer's output). A Decision ends with the AccessEvent it
 * judged, and Avro writes a record as its fields one after another, so when the event arrived in the
 * very schema the decision embeds (and needed no normalising), its bytes are copied in as they are:
 * only the decision's own fields are encoded — by hand, the way avsc writes them (differential.test.ts
 * checks byte equality with avsc's full encode), with the few strings that repeat (policy version,
 * basis ids, rule codes) encoded once, straight into the batch's DecisionArena. Otherwise the whole
 * decision is encoded from its Avro form.
 */
import { toAvro } from '../codec.js';
import type { AccessEvent } from '../contract.js';
import { AccessEventV1Avro as accessEventAvro, type DecisionV1, DecisionV1Avro as decisionAvro } from '../generated.js';
import type { BufferPool } from './buffer-pool.js';
import { writeAvroLong, writeAvroString } from './write.js';

/** The registered Decision schema the decisions are framed with (`@custos/kafka`'s RegisteredSchema). */
export interface DecisionSchema {
  id: number;
  /** Avro form → framed bytes */
  encode(value: unknown): Buffer;
}

/** The policy's judgement of an event: the decision's own fields. */
export type DecisionJudgement = Pick<DecisionV1, 'outcome' | 'reasons' | 'basis' | 'policyVersion'>;

/** The judged event: its JSON form, and its Avro form or its bytes as received when there are. */
export interface JudgedEvent {
  event: AccessEvent;
  /** the Avro form (`toAvro(accessEventAvro, event)` when absent) */
  avro?: Record<string, unknown>;
  /** the Avro body as received in the reader's own schema: the bytes of `body` from `bodyStart` */
  body?: Buffer;
  bodyStart?: number;
}

const HEAD_FIELDS = ['eventId', 'decidedAt', 'outcome', 'reasons', 'basis', 'policyVersion', 'event'];
/** the Outcome enum's symbol indexes (each < 64: one varint byte) */
const OUTCOME_INDEX: Readonly<Record<DecisionJudgement['outcome'], number>> = { allow: 0, flag: 2, deny: 4 };
/** repeated strings kept encoded (policy version, basis ids, rule codes): a small set; bounded anyway */
const MAX_CACHED = 4096;

/**
 * writeAvroString for reason messages, with room for 10 + 3 × length bytes. A message of 65–2730
 * UTF-16 units has 65–8190 UTF-8 bytes: a two-byte length, and avsc writes it with utf8Write; so it
 * is written first and its length after, without measuring it twice.
 */
function writeMessage(b: Buffer, p: number, s: string): number {
  const n = s.length;
  if (n <= 64 || n > 2730) return writeAvroString(b, p, s);
  const len = b.write(s, p + 2, 3 * n, 'utf8');
  writeAvroLong(b, p, len);
  return p + 2 + len;
}

/**
 * Where a batch's decisions are written, back to back from byte 0 of a buffer of their own: no
 * allocation per decision, and the judging worker transfers that buffer as it is (`packed`) instead
 * of copying the decisions into one. Grows by copying what it holds (views taken before stay valid).
 */
export class DecisionArena {
  private buf: Buffer;
  used = 0;

  /**
   * `pool`: buffers handed back by the enforcer once it has sent the decisions they held (see
   * BufferPool): with one, the arena takes its buffer from it and `packed()` hands the whole buffer
   * over as it is, since it comes back to be reused anyway.
   */
  constructor(
    bytes: number,
    private readonly pool?: BufferPool,
  ) {
    const want = Math.max(bytes, 1024);
    this.buf = pool === undefined ? Buffer.allocUnsafeSlow(want) : pool.take(want);
  }

  /** the buffer, with room for `n` bytes from `used` */
  room(n: number): Buffer {
    if (this.used + n > this.buf.length) {
      const want = Math.max(2 * this.buf.length, this.used + n);
      const bigger = this.pool === undefined ? Buffer.allocUnsafeSlow(want) : this.pool.take(want);
      bigger.set(this.buf.subarray(0, this.used));
      this.pool?.give(this.buf);
      this.buf = bigger;
    }
    return this.buf;
  }

  /** [start, end) as written, now in use */
  take(start: number, end: number): Buffer {
    this.used = end;
    return this.buf.subarray(start, end);
  }

  /**
   * What was written, from byte 0 of an ArrayBuffer of its own, maybe followed by unused room (copied
   * to one of its own size when that room is most of it, unless the buffer is pooled).
   */
  packed(): ArrayBuffer {
    if (this.pool !== undefined || this.used * 2 >= this.buf.length) return this.buf.buffer as ArrayBuffer;
    const exact = Buffer.allocUnsafeSlow(this.used);
    exact.set(this.buf.subarray(0, this.used));
    return exact.buffer as ArrayBuffer;
  }
}

export class DecisionEncoder {
  /** the decision's own fields come first and the event last: the fast path applies */
  private readonly spliceable: boolean;
  private readonly encoded = new Map<string, Buffer>();

  constructor(private readonly schema: DecisionSchema) {
    this.spliceable = decisionAvro.fields.map((f) => f.name).join() === HEAD_FIELDS.join();
  }

  /** `s` as an Avro string, for strings that repeat */
  private cached(s: string): Buffer {
    let b = this.encoded.get(s);
    if (b === undefined) {
      const tmp = Buffer.alloc(10 + 3 * s.length);
      b = Buffer.from(tmp.subarray(0, writeAvroString(tmp, 0, s)));
      if (this.encoded.size < MAX_CACHED) this.encoded.set(s, b);
    }
    return b;
  }

  /**
   * The decision's framed bytes, written into `arena` after what it holds (a batch's decisions go
   * back to back into one arena; see DecisionArena). Without one, into an arena of its own.
   */
  encode(e: JudgedEvent, j: DecisionJudgement, decidedAt: number, arena?: DecisionArena): Buffer {
    const eventId = e.event.eventId;
    const body = e.body;
    if (!this.spliceable || body === undefined) {
      const full = this.schema.encode({
        eventId,
        decidedAt,
        outcome: j.outcome,
        reasons: j.reasons,
        basis: j.basis,
        policyVersion: j.policyVersion,
        event: e.avro ?? toAvro(accessEventAvro, e.event),
      });
      if (arena === undefined) return full;
      const at = arena.used;
      arena.room(full.length).set(full, at);
      return arena.take(at, at + full.length);
    }
    const { reasons, basis } = j;
    const version = this.cached(j.policyVersion);
    const b0 = e.bodyStart ?? 0;
    const bodyLength = body.length - b0;
    // The body starts with the eventId; a valid one is a guid, 36 ASCII bytes after a length byte of
    // 72, which is also how the decision writes it: those 37 bytes are reused.
    const idInBody = body[b0] === 72 && bodyLength >= 37;
    // Upper bound: varints ≤ 10 bytes, UTF-8 ≤ 3 bytes per UTF-16 unit.
    let bound = 5 + (idInBody ? 37 : 10 + 3 * eventId.length) + 10 + 1 + 10 + 1 + 10 + 1 + version.length + bodyLength;
    for (let i = 0; i < reasons.length; i++) {
      const r = reasons[i]!;
      bound += this.cached(r.code).length + 10 + 3 * r.message.length;
    }
    for (let i = 0; i < basis.length; i++) bound += this.cached(basis[i]!).length;
    const a = arena ?? new DecisionArena(bound);
    const start = a.used;
    const out = a.room(bound);
    out[start] = 0;
    out.writeUInt32BE(this.schema.id, start + 1);
    let pos = start + 5;
    if (idInBody) {
      for (let i = 0; i < 37; i++) out[pos + i] = body[b0 + i]!;
      pos += 37;
    } else pos = writeAvroString(out, pos, eventId);
    pos = writeAvroLong(out, pos, decidedAt);
    out[pos++] = OUTCOME_INDEX[j.outcome];
    if (reasons.length > 0) {
      pos = writeAvroLong(out, pos, reasons.length);
      for (let i = 0; i < reasons.length; i++) {
        const r = reasons[i]!;
        const code = this.cached(r.code);
        out.set(code, pos);
        pos += code.length;
        pos = writeMessage(out, pos, r.message);
      }
    }
    out[pos++] = 0;
    if (basis.length > 0) {
      pos = writeAvroLong(out, pos, basis.length);
      for (let i = 0; i < basis.length; i++) {
        const b = this.cached(basis[i]!);
        out.set(b, pos);
        pos += b.length;
      }
    }
    out[pos++] = 0;
    out.set(version, pos);
    pos += version.length;
    body.copy(out, pos, b0);
    return a.take(start, pos + bodyLength);
  }
}
