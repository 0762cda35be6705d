/** The hot path's shortcuts agree with the contract's own parser and the plain Avro encoder. */
import { type AvroCodec, frame, type RegisteredSchema } from '@custos/kafka';
import { RULE_CODES } from '@custos/policy';
import {
  accessEventAvro,
  BufferPool,
  decisionAvro,
  fromAvro,
  MAX_ACCESS_EVENT_BYTES,
  parseAccessEvent,
  toAvro,
} from '@custos/schemas';
import avro from 'avsc';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DecisionArena, DecisionEncoder } from './decision-encoder.js';
import { AccessEventDecoder, type DecodedEvent, isGuid, toEvent } from './decode.js';

const eventType = avro.Type.forSchema(accessEventAvro as unknown as avro.Schema);
const decisionType = avro.Type.forSchema(decisionAvro as unknown as avro.Schema);
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

/** events the fast path accepts (varied where the contract allows) */
const validAvroEvent = avroEvent.map((e) => ({
  ...e,
  eventId: '0190a000-0000-7000-8000-000000000001',
  occurredAt: Math.abs(e.occurredAt) % 253_402_300_800_000,
  tenantId: 'spera',
  actor: { ...e.actor, id: 's-asha' },
  subject: { ...e.subject, id: 'c1' },
  categories: ['personal.contact'],
  purpose: 'service.support',
  recipient: e.recipient ?? { id: 'p1', type: 'processor' },
  dataCollectedAt: null,
  recordCount: 1,
  source: { ...e.source, service: 'crm' },
}));

/** the contract's way: Avro form → JSON form → parseAccessEvent */
function slow(v: unknown) {
  try {
    return parseAccessEvent(fromAvro(accessEventAvro, v));
  } catch {
    return undefined;
  }
}

describe('isGuid', () => {
  it('agrees with the guid regex of the contract', () => {
    const GUID = /^([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})$/;
    const near = fc.uuid().chain((u) =>
      fc.oneof(
        fc.constant(u),
        fc.constant(u.toUpperCase()),
        fc.constant(`${u}\n`),
        fc.constant(` ${u}`),
        fc
          .nat({ max: 35 })
          .chain((i) =>
            fc
              .constantFrom('g', 'G', '-', '0', 'f', 'F', '/', ':', '@', '`', '\u0660')
              .map((ch) => u.slice(0, i) + ch + u.slice(i + 1)),
          ),
      ),
    );
    fc.assert(
      fc.property(fc.oneof(near, fc.string({ maxLength: 40 })), (s) => {
        expect(isGuid(s)).toBe(GUID.test(s));
      }),
      { numRuns: 20000 },
    );
  });
});

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

// reason messages: ASCII, any BMP text, lone surrogates, astral characters, short and long (avsc
// writes strings of ≤ 64 bytes with its own UTF-8 loop and longer ones with utf8Write)
const message = fc.oneof(
  fc.string({ maxLength: 200 }),
  fc.string({ maxLength: 40, unit: 'binary' }),
  fc.string({ maxLength: 120, unit: 'binary' }),
  fc.constantFrom(
    '\ud800',
    'a\udc00b',
    `${'x'.repeat(40)}\ud800`,
    `${'x'.repeat(61)}\udbff`,
    `${'x'.repeat(62)}\udbff`,
    `${'x'.repeat(70)}\udc00y`,
    '😀'.repeat(20),
    'Priyā Śarmā (s-priya) touched 201 distinct subjects',
  ),
);

describe('DecisionEncoder', () => {
  it('splices the received event bytes into exactly what a full encode writes', () => {
    const schema = registered(9, decisionType);
    const encoder = new DecisionEncoder(schema);
    const decoder = new AccessEventDecoder({} as AvroCodec, registered(7, eventType));
    fc.assert(
      fc.property(
        avroEvent,
        fc.constantFrom('allow', 'flag', 'deny'),
        fc.array(fc.record({ code: fc.constantFrom(...RULE_CODES), message: message }), { maxLength: 3 }),
        fc.array(fc.oneof(fc.string({ maxLength: 10 }), fc.string({ maxLength: 10, unit: 'binary' })), { maxLength: 3 }),
        fc.constantFrom('v1+sha256:abc', 'v2+sha256:def', 'é'.repeat(40)),
        fc.oneof(fc.constant(1_700_000_000_000), fc.integer({ min: -(2 ** 40), max: 2 ** 40 })),
        (raw, outcome, reasons, basis, policyVersion, decidedAt) => {
          const r = decoder.tryDecode(frame(7, eventType.toBuffer(raw)));
          if (r === undefined || !r.ok) return;
          const j = { outcome, reasons, basis, policyVersion };
          const spliced = encoder.encode(r, j, decidedAt);
          const full = schema.encode({
            eventId: r.event.eventId,
            decidedAt,
            ...j,
            event: toAvro(accessEventAvro, r.event),
          });
          expect(spliced.equals(full)).toBe(true);
        },
      ),
      { numRuns: 3000 },
    );
  });

  it("writes a batch's decisions back to back into one arena, growing it as needed", () => {
    const schema = registered(9, decisionType);
    const encoder = new DecisionEncoder(schema);
    const decoder = new AccessEventDecoder({} as AvroCodec, registered(7, eventType));
    const judgement = fc.record({
      outcome: fc.constantFrom('allow' as const, 'flag' as const, 'deny' as const),
      reasons: fc.array(fc.record({ code: fc.constantFrom(...RULE_CODES), message: message }), { maxLength: 2 }),
      basis: fc.array(fc.string({ maxLength: 10 }), { maxLength: 2 }),
      policyVersion: fc.constant('v1+sha256:abc'),
    });
    fc.assert(
      fc.property(
        fc.array(fc.tuple(validAvroEvent, judgement), { maxLength: 30 }),
        fc.nat({ max: 3000 }),
        fc.array(fc.nat({ max: 6000 }), { maxLength: 4 }),
        (batch, size, pooledSizes) => {
          const arena = new DecisionArena(size);
          // the same into buffers reused from a pool: dirty, of any size (BufferPool: see judge-pool)
          const pool = new BufferPool(8);
          for (const n of pooledSizes) pool.give(Buffer.alloc(n, 0xa5));
          const pooled = new DecisionArena(size, pool);
          const written: Buffer[] = [];
          const writtenPooled: Buffer[] = [];
          const want: Buffer[] = [];
          for (const [raw, j] of batch) {
            const r = decoder.tryDecode(frame(7, eventType.toBuffer(raw)));
            if (r === undefined || !r.ok) continue;
            written.push(encoder.encode(r, j, 1_700_000_000_000, arena));
            writtenPooled.push(Buffer.from(encoder.encode(r, j, 1_700_000_000_000, pooled)));
            want.push(
              schema.encode({
                eventId: r.event.eventId,
                decidedAt: 1_700_000_000_000,
                ...j,
                event: toAvro(accessEventAvro, r.event),
              }),
            );
          }
          for (let i = 0; i < written.length; i++) expect(written[i]!.equals(want[i]!)).toBe(true);
          for (let i = 0; i < written.length; i++) expect(writtenPooled[i]!.equals(want[i]!)).toBe(true);
          // what a worker transfers: the decisions back to back from byte 0 (then maybe unused room)
          const all = Buffer.concat(want);
          for (const packed of [arena.packed(), pooled.packed()]) {
            expect(packed.byteLength).toBeGreaterThanOrEqual(all.length);
            expect(Buffer.from(packed, 0, all.length).equals(all)).toBe(true);
          }
          // the buffer the arena holds is not also in the pool (it would be handed out twice)
          const inPool: ArrayBuffer[] = [];
          for (let b = pool.takeFree(0); b !== undefined; b = pool.takeFree(0)) inPool.push(b.buffer as ArrayBuffer);
          expect(inPool.includes(pooled.packed())).toBe(false);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('grows its scratch buffer for large decisions', () => {
    const schema = registered(9, decisionType);
    const encoder = new DecisionEncoder(schema);
    const decoder = new AccessEventDecoder({} as AvroCodec, registered(7, eventType));
    const r = decoder.tryDecode(
      frame(
        7,
        eventType.toBuffer(
          toAvro(accessEventAvro, {
            eventId: '0190a000-0000-7000-8000-000000000001',
            occurredAt: '2026-03-02T10:00:00.000Z',
            tenantId: 'spera',
            actor: { id: 's-asha', type: 'staff' },
            subject: { id: 'c1', type: 'customer' },
            categories: ['personal.contact'],
            action: 'read',
            purpose: 'service.support',
            source: { service: 'crm' },
          }),
        ),
      ),
    ) as DecodedEvent;
    const j = {
      outcome: 'deny' as const,
      reasons: [{ code: 'BULK_ACCESS' as const, message: 'm'.repeat(100_000) }],
      basis: [],
      policyVersion: 'v',
    };
    const out = encoder.encode(r, j, 0);
    expect(decisionType.fromBuffer(out.subarray(5)).reasons[0].message.length).toBe(100_000);
  });
});
