/**
 * Topic record → what the chain takes. A record framed with the sink's own schema id (nearly all) is
 * decoded straight into its canonical bytes (`encodeDecisionAvro`: no avsc value, no row object, no
 * per-field strings); anything that path does not handle exactly — another writer schema, malformed
 * bytes, unusual times — goes the general way (avsc decode → rowFromAvro), which gives the same result
 * and raises the errors dead letters record.
 */
import type { AvroCodec, RegisteredSchema } from '@custos/kafka';
import { decisionAvro } from '@custos/schemas';
import {
  type AnyCandidate,
  type AvroDecision,
  ContentArena,
  decisionLineSupports,
  encodeDecisionAvro,
  rowFromAvro,
} from '@custos/store';

export interface TopicRecord {
  offset: string;
  value: Buffer | null;
}

/** A decoded record: its candidate for the chain, the record itself and its times (metrics). */
export type DecodedRecord<M extends TopicRecord> = AnyCandidate & { message: M; occurredMs: number; decidedMs: number };

export class DecisionDecoder {
  private readonly arena = new ContentArena();
  /** the straight path is written for the schema the sink registers (checked once) */
  private readonly straight: boolean;

  /** `straight: false` takes the general path for every record (comparisons, or to rule it out) */
  constructor(
    private readonly codec: AvroCodec,
    private readonly schema: RegisteredSchema,
    opts: { straight?: boolean } = {},
  ) {
    this.straight = (opts.straight ?? true) && decisionLineSupports(decisionAvro);
  }

  /**
   * Decodes `m` of `partition`: synchronously when it has the sink's own schema id, else through the
   * registry (a promise). Throws what the general path throws for a record that is no Decision, and
   * RegistryChangedError when the registry now gives the record's schema id another schema.
   * The bytes go to `arena` (the decoder's own unless given: the sink passes one per batch and
   * recycles it once the batch is stored).
   */
  decode<M extends TopicRecord>(
    m: M,
    partition: number,
    arena: ContentArena = this.arena,
  ): DecodedRecord<M> | Promise<DecodedRecord<M>> {
    const v = m.value;
    if (this.codec.isFramedWith(v, this.schema)) {
      const enc = this.straight ? encodeDecisionAvro(v, 5, arena, partition, m.offset) : undefined;
      if (enc) return { offset: m.offset, enc, message: m, occurredMs: enc.occurredMs, decidedMs: enc.decidedMs };
      let value: AvroDecision | undefined;
      try {
        value = this.codec.decodeSync<AvroDecision>(v, this.schema);
      } catch {
        // Unreadable with the schema this id had: the general path asks the registry whether the
        // record is bad (a DecodeError, dead-lettered) or the registry changed its mind about the id
        // (RegistryChangedError: the sink stops).
      }
      if (value) return this.fromValue(m, partition, value);
    }
    return this.codec.decode<AvroDecision>(v, this.schema).then(({ value }) => this.fromValue(m, partition, value));
  }

  private fromValue<M extends TopicRecord>(m: M, partition: number, value: AvroDecision): DecodedRecord<M> {
    return {
      offset: m.offset,
      row: rowFromAvro(value, partition, m.offset),
      message: m,
      occurredMs: Number(value.event.occurredAt),
      decidedMs: Number(value.decidedAt),
    };
  }
}
