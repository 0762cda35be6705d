/**
 * Decisions → framed Avro bytes. A Decision ends with the AccessEvent it judged, and Avro writes a
 * record as its fields one after another, so when the event arrived in the very schema the decision
 * embeds (and needed no normalising), its bytes are copied in as they are: only the decision's own
 * fields are encoded — by hand, the way avsc writes them (decode.test.ts checks byte equality with
 * avsc's full encode), with the few strings that repeat (policy version, basis ids, rule codes)
 * encoded once. Otherwise the whole decision is encoded from its Avro form.
 */
import type { RegisteredSchema } from '@custos/kafka';
import type { Judgement } from '@custos/policy';
import { accessEventAvro, decisionAvro, toAvro, writeAvroLong, writeAvroString } from '@custos/schemas';
import type { DecodedEvent } from './decode.js';

const HEAD_FIELDS = ['eventId', 'decidedAt', 'outcome', 'reasons', 'basis', 'policyVersion', 'event'];
const OUTCOMES = ['allow', 'flag', 'deny'] as const;
/** repeated strings kept encoded (policy version, basis ids, rule codes): a small set; bounded anyway */
const MAX_CACHED = 4096;

export class DecisionEncoder {
  /** the decision's own fields come first and the event last: the fast path applies */
  private readonly spliceable: boolean;
  private scratch = Buffer.allocUnsafe(16 * 1024);
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
    const { reasons, basis } = j;
    const version = this.cached(j.policyVersion);
    // Upper bound of the head: varints ≤ 10 bytes, UTF-8 ≤ 3 bytes per UTF-16 unit.
    let bound = 5 + 10 + 3 * eventId.length + 10 + 10 + 10 + version.length + 10;
    for (let i = 0; i < reasons.length; i++) {
      const r = reasons[i]!;
      bound += 20 + 3 * r.code.length + 3 * r.message.length;
    }
    for (let i = 0; i < basis.length; i++) bound += 10 + 3 * basis[i]!.length;
    if (bound > this.scratch.length) this.scratch = Buffer.allocUnsafe(Math.max(2 * bound, this.scratch.length));
    const buf = this.scratch;
    buf[0] = 0;
    buf.writeUInt32BE(this.schema.id, 1);
    let pos = writeAvroString(buf, 5, eventId);
    pos = writeAvroLong(buf, pos, decidedAt);
    pos = writeAvroLong(buf, pos, OUTCOMES.indexOf(j.outcome));
    if (reasons.length > 0) {
      pos = writeAvroLong(buf, pos, reasons.length);
      for (let i = 0; i < reasons.length; i++) {
        const r = reasons[i]!;
        pos += this.cached(r.code).copy(buf, pos);
        pos = writeAvroString(buf, pos, r.message);
      }
    }
    buf[pos++] = 0;
    if (basis.length > 0) {
      pos = writeAvroLong(buf, pos, basis.length);
      for (let i = 0; i < basis.length; i++) pos += this.cached(basis[i]!).copy(buf, pos);
    }
    buf[pos++] = 0;
    pos += version.copy(buf, pos);
    const out = Buffer.allocUnsafe(pos + e.body.length);
    buf.copy(out, 0, 0, pos);
    e.body.copy(out, pos);
    return out;
  }
}
