/**
 * Decisions → framed Avro bytes. A Decision ends with the AccessEvent it judged, and Avro writes a
 * record as its fields one after another, so when the event arrived in the very schema the decision
 * embeds (and needed no normalising), its bytes are copied in as they are: only the decision's own
 * fields are encoded — by hand, the way avsc writes them (decode.test.ts checks byte equality with
 * avsc's full encode), with the few strings that repeat (policy version, basis ids, rule codes)
 * encoded once, straight into a buffer of the decision's exact size. Otherwise the whole decision is
 * encoded from its Avro form.
 */
import type { RegisteredSchema } from '@custos/kafka';
import type { Judgement } from '@custos/policy';
import { accessEventAvro, decisionAvro, toAvro, writeAvroLong, writeAvroString, writeAvroUtf8Short } from '@custos/schemas';
import type { DecodedEvent } from './decode.js';

const HEAD_FIELDS = ['eventId', 'decidedAt', 'outcome', 'reasons', 'basis', 'policyVersion', 'event'];
/** the Outcome enum's symbol indexes (each < 64: one varint byte) */
const OUTCOME_INDEX: Readonly<Record<Judgement['outcome'], number>> = { allow: 0, flag: 2, deny: 4 };
/** repeated strings kept encoded (policy version, basis ids, rule codes): a small set; bounded anyway */
const MAX_CACHED = 4096;

/** bytes of `n` as writeAvroLong writes it */
function avroLongSize(n: number): number {
  let f = n >= 0 ? n * 2 : -n * 2 - 1;
  let size = 1;
  while (f >= 128) {
    f = Math.floor(f / 128);
    size++;
  }
  return size;
}

const avroStringSize = (s: string) => {
  const len = Buffer.byteLength(s, 'utf8');
  return avroLongSize(len) + len;
};

export class DecisionEncoder {
  /** the decision's own fields come first and the event last: the fast path applies */
  private readonly spliceable: boolean;
  /** UTF-8 byte lengths of the reason messages being written */
  private readonly messageBytes: number[] = [];
  private readonly encoded = new Map<string, Buffer>();

  constructor(private readonly schema: RegisteredSchema) {
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

  encode(e: DecodedEvent, j: Judgement, decidedAt: number): Buffer {
    const eventId = e.event.eventId;
    if (!this.spliceable || e.body === undefined) {
      return this.schema.encode({
        eventId,
        decidedAt,
        outcome: j.outcome,
        reasons: j.reasons,
        basis: j.basis,
        policyVersion: j.policyVersion,
        event: e.avro ?? toAvro(accessEventAvro, e.event),
      });
    }
    const body = e.body;
    const { reasons, basis } = j;
    const version = this.cached(j.policyVersion);
    // The body starts with the eventId; a valid one is a guid, 36 ASCII bytes after a length byte of
    // 72, which is also how the decision writes it: those 37 bytes are reused.
    const idInBody = body[0] === 72 && body.length >= 37;
    // The head's exact size first (the messages' byte lengths are needed for their varints anyway),
    // then everything is written straight into the decision.
    let n = 5 + (idInBody ? 37 : avroStringSize(eventId)) + avroLongSize(decidedAt) + 1 + 1 + 1 + version.length;
    if (reasons.length > 0) {
      n += avroLongSize(reasons.length);
      const lens = this.messageBytes;
      for (let i = 0; i < reasons.length; i++) {
        const r = reasons[i]!;
        const len = Buffer.byteLength(r.message, 'utf8');
        lens[i] = len;
        n += this.cached(r.code).length + avroLongSize(len) + len;
      }
    }
    if (basis.length > 0) {
      n += avroLongSize(basis.length);
      for (let i = 0; i < basis.length; i++) n += this.cached(basis[i]!).length;
    }
    const out = Buffer.allocUnsafe(n + body.length);
    out.set(body, n);
    out[0] = 0;
    out.writeUInt32BE(this.schema.id, 1);
    let pos: number;
    if (idInBody) {
      out.copyWithin(5, n, n + 37);
      pos = 42;
    } else pos = writeAvroString(out, 5, eventId);
    pos = writeAvroLong(out, pos, decidedAt);
    out[pos++] = OUTCOME_INDEX[j.outcome];
    if (reasons.length > 0) {
      pos = writeAvroLong(out, pos, reasons.length);
      for (let i = 0; i < reasons.length; i++) {
        const r = reasons[i]!;
        const code = this.cached(r.code);
        out.set(code, pos);
        pos += code.length;
        // as writeAvroString, with the length already known
        const len = this.messageBytes[i]!;
        pos = writeAvroLong(out, pos, len);
        pos = len > 64 ? pos + out.write(r.message, pos, len, 'utf8') : writeAvroUtf8Short(out, pos, r.message);
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
    return out;
  }
}
