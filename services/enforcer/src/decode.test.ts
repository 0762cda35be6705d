/**
 * The hot path's shortcuts agree with the contract's own parser. (The hand-written Avro reader and
 * decision writer it uses are checked against avsc in schemas/src/avro/differential.test.ts.)
 */
import { type AvroCodec, frame, type RegisteredSchema } from '@custos/kafka';
import { accessEventAvro, fromAvro, MAX_ACCESS_EVENT_BYTES, parseAccessEvent, toAvro } from '@custos/schemas';
import avro from 'avsc';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AccessEventDecoder, type DecodedEvent, toEvent } from './decode.js';

const eventType = avro.Type.forSchema(accessEventAvro as unknown as avro.Schema);
const registered = (id: number, type: avro.Type): RegisteredSchema => ({
  id,
  subject: 's',
  type,
  encode: (v) => frame(id, type.toBuffer(v)),
});

const text = fc.oneof(
  fc.constantFrom('', ' ', 'x', ' x', 'x ', '\tx', 'spera', 's-asha', 'personal.contact'),
  fc.string({ maxLength: 6 }),
);
const uuid = fc.oneof(fc.uuid(), fc.constantFrom('', 'not-a-uuid', '0190A000-0000-7000-8000-00000000E001'));
const millis = fc.oneof(
  fc.integer({ min: 0, max: 253_402_300_799_999 }),
  fc.constantFrom(-1, -62_167_219_200_001, 253_402_300_800_000, 8_640_000_000_000_000, 8_640_000_000_000_001),
);
const nullable = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: null });
const avroEvent = fc.record({
  eventId: uuid,
  occurredAt: millis,
  tenantId: text,
  actor: fc.record({ id: text, type: fc.constantFrom('staff', 'processor') }),
  subject: fc.record({ id: text, type: fc.constantFrom('customer', 'user', 'employee', 'client_contact') }),
  categories: fc.array(text, { maxLength: 3 }),
  fields: nullable(fc.array(text, { maxLength: 2 })),
  action: fc.constantFrom('read', 'create', 'update', 'delete', 'export', 'share', 'disclose'),
  purpose: text,
  recipient: nullable(fc.record({ id: text, type: fc.constantFrom('processor', 'third_party', 'authority') })),
  legalBasis: nullable(text),
  dataCollectedAt: nullable(millis),
  recordCount: fc.integer({ min: -2, max: 2_147_483_647 }),
  source: fc.record({ service: text, requestId: nullable(text), traceId: nullable(text), ip: nullable(text) }),
  attributes: nullable(fc.dictionary(fc.string({ maxLength: 3 }), fc.string({ maxLength: 3 }), { maxKeys: 2 })),
});

/** the contract's way: Avro form → JSON form → parseAccessEvent */
function slow(v: unknown) {
  try {
    return parseAccessEvent(fromAvro(accessEventAvro, v));
  } catch {
    return undefined;
  }
}

describe('access event fast path', () => {
  it('accepts exactly what the contract accepts, with the same event', () => {
    let valid = 0;
    fc.assert(
      fc.property(avroEvent, (raw) => {
        const v = eventType.fromBuffer(eventType.toBuffer(raw));
        const want = slow(v);
        const got = toEvent(v);
        if (want === undefined) expect(got.ok).toBe(false);
        else if (!want.ok) expect(got).toMatchObject({ ok: false, step: 'validate' });
        else {
          expect(got.ok).toBe(true);
          valid++;
          const e = got as DecodedEvent;
          expect(e.event).toEqual(want.value);
          expect(e.time).toBe(Date.parse(want.value.occurredAt));
          // The Avro form kept for the decision is the canonical one.
          expect({ ...e.avro }).toEqual({ ...toAvro(accessEventAvro, want.value) });
        }
      }),
      { numRuns: 3000 },
    );
    expect(valid).toBeGreaterThan(100); // the generator reaches valid events, not only rejects
  });

  it('decodes known schema ids synchronously and leaves framing and body errors to the codec', () => {
    const decoder = new AccessEventDecoder({} as AvroCodec, registered(7, eventType));
    const e = {
      eventId: '0190a000-0000-7000-8000-000000000001',
      occurredAt: '2026-03-02T10:00:00.000Z',
      tenantId: 'spera',
      actor: { id: 's-asha', type: 'staff' },
      subject: { id: 'c1', type: 'customer' },
      categories: ['personal.contact'],
      action: 'read',
      purpose: 'service.support',
      source: { service: 'crm' },
    };
    const r = decoder.tryDecode(frame(7, eventType.toBuffer(toAvro(accessEventAvro, e))));
    expect(r).toMatchObject({ ok: true, event: { ...e, recordCount: 1 } });
    expect((r as DecodedEvent).body).toBeDefined();
    expect(decoder.tryDecode(frame(8, Buffer.from([1])))).toBeUndefined(); // unknown id
    expect(decoder.tryDecode(Buffer.from('{"json":true}'))).toBeUndefined(); // bad magic
    // an unreadable body: decode() asks the registry whether id 7 still means this schema
    expect(decoder.tryDecode(frame(7, Buffer.from([0xff])))).toBeUndefined();
  });

  it('rejects a record beyond the largest access event, valid Avro or not, before reading it', async () => {
    const decoder = new AccessEventDecoder({} as AvroCodec, registered(7, eventType));
    const e = {
      eventId: '0190a000-0000-7000-8000-000000000002',
      occurredAt: '2026-03-02T10:00:00.000Z',
      tenantId: 'spera',
      actor: { id: 's-asha', type: 'staff' },
      subject: { id: 'c1', type: 'customer' },
      categories: ['personal.contact'],
      action: 'read',
      purpose: 'service.support',
      source: { service: 'crm' },
      attributes: { padding: 'x'.repeat(MAX_ACCESS_EVENT_BYTES) },
    };
    const big = frame(7, eventType.toBuffer(toAvro(accessEventAvro, e)));
    const r = decoder.tryDecode(big);
    expect(r).toMatchObject({ ok: false, step: 'validate' });
    expect(String((r as { error: Error }).error.message)).toMatch(/exceeds the largest access event accepted/);
    // the async path too (unknown schema id: the registry is never asked)
    expect(await decoder.decode(frame(99, Buffer.alloc(MAX_ACCESS_EVENT_BYTES)))).toMatchObject({ ok: false, step: 'validate' });
  });
});
