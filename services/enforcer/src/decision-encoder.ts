/**
 * Decisions → framed Avro bytes. A Decision ends with the AccessEvent it judged, and Avro writes a
 * record as its fields one after another, so when the event arrived in the very schema the decision
 * embeds (and needed no normalising), its bytes are copied in as they are: only the decision's own
 * fields are encoded. Otherwise the whole decision is encoded from its Avro form.
 */
import type { RegisteredSchema } from '@custos/kafka';
import type { Judgement } from '@custos/policy';
import { decisionAvro } from '@custos/schemas';
import avro from 'avsc';
import type { DecodedEvent } from './decode.js';

export class DecisionEncoder {
  private readonly head?: avro.Type;
  private scratch = Buffer.allocUnsafe(16 * 1024);

  constructor(private readonly schema: RegisteredSchema) {
    const fields = decisionAvro.fields;
    if (fields.at(-1)?.name === 'event') {
      this.head = avro.Type.forSchema({
        type: 'record',
        name: 'DecisionHead',
        namespace: 'io.custos.v1',
        fields: fields.slice(0, -1),
      } as unknown as avro.Schema);
    }
  }

  encode(e: DecodedEvent, j: Judgement, decidedAt: number): Buffer {
    const d = {
      eventId: e.event.eventId,
      decidedAt,
      outcome: j.outcome,
      reasons: j.reasons,
      basis: j.basis,
      policyVersion: j.policyVersion,
    };
    const head = this.head;
    if (head === undefined || e.body === undefined) return this.schema.encode({ ...d, event: e.avro });
    let headBuf: Buffer = this.scratch;
    let end = head.encode(d, headBuf, 0);
    if (end < 0) {
      // Too big for the scratch buffer (avsc answers with a negative position): encode exactly,
      // and keep a larger scratch buffer for the next one.
      headBuf = head.toBuffer(d);
      end = headBuf.length;
      this.scratch = Buffer.allocUnsafe(Math.max(2 * end, this.scratch.length));
    }
    const out = Buffer.allocUnsafe(5 + end + e.body.length);
    out[0] = 0;
    out.writeUInt32BE(this.schema.id, 1);
    headBuf.copy(out, 5, 0, end);
    e.body.copy(out, 5 + end);
    return out;
  }
}
