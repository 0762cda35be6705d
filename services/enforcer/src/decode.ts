/**
 * Access-event records → validated events, synchronously on the hot path.
 *
 * `AvroCodec.decode` is async because an unknown schema id needs the registry; once an id has been
 * seen, decoding needs no I/O, so this keeps a synchronous decoder per writer schema id and only the
 * first record of a new id (or a badly framed one) goes through the async codec.
 *
 * Records in the reader's own schema are read by hand (`readAccessEvent` of `@custos/schemas/avro`:
 * decode and the contract's checks in one pass, no avsc); whatever that reader is unsure of takes
 * the avsc path.
 *
 * Validation has a fast path too: a record that Avro decoded is already structurally an AccessEvent,
 * so what is left of the contract is checked by hand (`fastAccessEvent`, beside the reader) and the
 * JSON form built directly. Anything the fast path is not sure of goes through the contract's own
 * parser (`fromAvro` + `parseAccessEvent`), which also writes the error messages; decode.test.ts
 * checks that both paths agree on every event the fast path accepts.
 */
import { type AvroCodec, isFatal, isRetriable, type RegisteredSchema } from '@custos/kafka';
import {
  type AccessEvent,
  type AccessEventV1AvroValue,
  accessEventAvro,
  fromAvro,
  MAX_ACCESS_EVENT_BYTES,
  parseAccessEvent,
  toAvro,
  ValidationError,
} from '@custos/schemas';
import { fastAccessEvent, layoutOf, READER_LAYOUT, readAccessEvent } from '@custos/schemas/avro';

/** A valid event, its time in ms, and its Avro form (to embed in the decision without re-converting). */
export interface DecodedEvent {
  ok: true;
  event: AccessEvent;
  time: number;
  /** absent when read by hand (then `body` is there); `toAvro(accessEventAvro, event)` is the same */
  avro?: Record<string, unknown>;
  /**
   * The Avro body as received, when it is already the canonical event in the reader's schema: the
   * bytes of `body` from `bodyStart` (the framed value as received, so no view is made per record).
   */
  body?: Buffer;
  /** where the body starts in `body`: 0 when absent */
  bodyStart?: number;
}
export interface RejectedRecord {
  ok: false;
  step: 'decode' | 'validate';
  error: unknown;
}
export type DecodeResult = DecodedEvent | RejectedRecord;

type Avro = AccessEventV1AvroValue & Record<string, unknown>;

/**
 * Avro form (in the reader's shape) → result, fast path first. `body`: the bytes it was decoded
 * from, when written with the reader's own schema (then a valid event's bytes can be reused as is).
 */
export function toEvent(value: unknown, body?: Buffer): DecodeResult {
  const v = value as Avro;
  const fast = fastAccessEvent(v);
  if (fast !== undefined) {
    const r: DecodedEvent = { ok: true, event: fast, time: v.occurredAt, avro: v };
    if (body !== undefined) r.body = body;
    return r;
  }
  let json: unknown;
  try {
    json = fromAvro(accessEventAvro, value);
  } catch (err) {
    // e.g. a timestamp outside what Date can hold
    return { ok: false, step: 'decode', error: err };
  }
  const parsed = parseAccessEvent(json);
  if (!parsed.ok) return { ok: false, step: 'validate', error: new ValidationError('access event', parsed.errors) };
  const event = parsed.value;
  return { ok: true, event, time: Date.parse(event.occurredAt), avro: toAvro(accessEventAvro, event) };
}

type BodyDecoder = (body: Buffer) => unknown;

/** A record beyond MAX_ACCESS_EVENT_BYTES: its decision would not fit in a Kafka message. */
function oversized(buf: Buffer | null): RejectedRecord | undefined {
  if (buf === null || buf.length <= MAX_ACCESS_EVENT_BYTES) return undefined;
  return {
    ok: false,
    step: 'validate',
    error: new ValidationError('access event', [
      {
        path: '',
        message: `record of ${buf.length} bytes exceeds the largest access event accepted (${MAX_ACCESS_EVENT_BYTES} bytes)`,
      },
    ]),
  };
}

export class AccessEventDecoder {
  private readonly decoders = new Map<number, BodyDecoder>();
  /** the reader schema has the layout readAccessEvent reads */
  private readonly byHand: boolean;

  constructor(
    private readonly codec: AvroCodec,
    private readonly reader: RegisteredSchema,
  ) {
    this.decoders.set(reader.id, (body) => reader.type.fromBuffer(body));
    this.byHand = layoutOf(reader.type.schema()) === READER_LAYOUT;
  }

  /** Synchronous when the record's schema id is known; undefined means "use decode()". */
  tryDecode(buf: Buffer | null): DecodeResult | undefined {
    if (buf === null || buf.length < 5 || buf[0] !== 0) return undefined;
    if (buf.length > MAX_ACCESS_EVENT_BYTES) return oversized(buf);
    const id = buf.readUInt32BE(1);
    const decoder = this.decoders.get(id);
    if (decoder === undefined) return undefined;
    if (id === this.reader.id && this.byHand) {
      const read = readAccessEvent(buf, 5);
      if (read !== undefined) return { ok: true, event: read.event, time: read.time, body: buf, bodyStart: 5 };
    }
    const body = buf.subarray(5);
    let value: unknown;
    try {
      value = decoder(body);
    } catch {
      // Unreadable with the schema this id had: decode() asks the registry whether the record is bad
      // or the registry changed its mind about the id.
      return undefined;
    }
    return toEvent(value, id === this.reader.id ? body : undefined);
  }

  /**
   * Any record; learns the schema id for tryDecode. Throws only what is not the record's fault: the
   * registry unreachable (retriable: the batch fails and is retried) or changed its mind about the
   * record's schema id (RegistryChangedError, fatal: the enforcer stops without committing).
   */
  async decode(buf: Buffer | null): Promise<DecodeResult> {
    const tooLarge = oversized(buf);
    if (tooLarge !== undefined) return tooLarge;
    let value: unknown;
    try {
      value = (await this.codec.decode(buf, this.reader)).value;
    } catch (err) {
      if (isRetriable(err) || isFatal(err)) throw err;
      return { ok: false, step: 'decode', error: err };
    }
    await this.learn((buf as Buffer).readUInt32BE(1));
    return toEvent(value);
  }

  private async learn(id: number): Promise<void> {
    if (this.decoders.has(id)) return;
    try {
      // The codec just fetched it, so the registry client answers from its cache.
      const writer = await this.codec.registry.getSchema(id);
      const type = this.reader.type;
      if (!('fingerprint' in writer) || typeof writer.fingerprint !== 'function') return;
      if (type.fingerprint().equals(writer.fingerprint())) this.decoders.set(id, (body) => type.fromBuffer(body));
      else {
        const resolver = type.createResolver(writer as typeof type);
        this.decoders.set(id, (body) => type.fromBuffer(body, resolver));
      }
    } catch {
      // Not learnt: records of this id keep taking the async path, which is correct, only slower.
    }
  }
}
