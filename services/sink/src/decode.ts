/**
 * Decoding a decision record: synchronously when it was written with the schema the sink registered
 * (the common case: the enforcer and the sink run the same schema), else through the codec (another
 * writer schema, resolved into the reader's shape, fetched from the registry once).
 */
import { type AvroCodec, DecodeError, type RegisteredSchema } from '@custos/kafka';
import type { AvroDecision } from '@custos/store';

/**
 * The same result and the same errors as `codec.decode(buf, schema)`, without a promise per record
 * when the record's schema id is `schema.id` (then writer and reader are the same type).
 */
export function decodeDecision(
  codec: AvroCodec,
  schema: RegisteredSchema | undefined,
  buf: Buffer | null | undefined,
): AvroDecision | Promise<AvroDecision> {
  if (!schema || !buf || buf.length < 5 || buf[0] !== 0 || buf.readUInt32BE(1) !== schema.id) {
    return codec.decode<AvroDecision>(buf, schema).then((d) => d.value);
  }
  try {
    return schema.type.fromBuffer(buf.subarray(5)) as AvroDecision;
  } catch (err) {
    throw new DecodeError(
      `cannot decode Avro body with schema ${schema.id}: ${err instanceof Error ? err.message : String(err)}`,
      { cause: err },
    );
  }
}
