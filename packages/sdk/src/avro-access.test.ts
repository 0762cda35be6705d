import { accessEventAvro } from '@custos/schemas';
import avro from 'avsc';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeAccessEvent, WRITER_FIELDS } from './avro-access.js';
import type { AccessEventAvro } from './validate.js';

const type = avro.Type.forSchema(accessEventAvro as unknown as avro.Schema);
const schemaOf = (name: string) => {
  const walk = (t: unknown): string[] | undefined => {
    if (Array.isArray(t)) return t.map(walk).find((x) => x !== undefined);
    if (typeof t !== 'object' || t === null) return undefined;
    const n = t as { type?: unknown; name?: string; symbols?: string[]; fields?: { type: unknown }[] };
    if (n.type === 'enum' && n.name === name) return n.symbols;
    return walk(n.type) ?? (n.fields ? walk(n.fields.map((f) => f.type)) : undefined);
  };
  return walk(accessEventAvro)!;
};

// Strings of every kind: ASCII, any code unit (lone surrogates included), full code points, and
// lengths on both sides of avsc's 64-byte switch from its own UTF-8 loop to utf8Write.
const codeUnits = fc.array(fc.integer({ min: 0, max: 0xffff }), { maxLength: 90 }).map((xs) => String.fromCharCode(...xs));
const str = fc.oneof(
  fc.string({ maxLength: 30 }),
  fc.string({ unit: 'binary', maxLength: 80 }),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  codeUnits,
  fc.integer({ min: 0, max: 200 }).map((n) => 'x'.repeat(n)),
  fc.integer({ min: 0, max: 70 }).map((n) => 'é'.repeat(n)),
  fc.integer({ min: 0, max: 30 }).map((n) => '€'.repeat(n)),
  // exactly around 64 bytes with a lone surrogate somewhere (avsc's two writers differ there)
  fc.tuple(fc.integer({ min: 55, max: 70 }), fc.nat(), fc.constantFrom('\ud800', '\udfff', '\ud83d')).map(([bytes, at, lone]) => {
    const pad = 'x'.repeat(bytes - 3);
    const i = at % (pad.length + 1);
    return pad.slice(0, i) + lone + pad.slice(i);
  }),
  fc.constantFrom('0190b0a0-0000-7000-8000-00000000abcd', '\ud800', '\udc00x', 'a\ud83d\ude00b', '\ud83d'),
);
const long = fc.oneof(
  fc.integer(),
  // powers of two and their neighbours: the float branch's exact multiples of 128
  fc
    .tuple(fc.integer({ min: 0, max: 52 }), fc.constantFrom(-1, 0, 1), fc.boolean())
    .map(([k, d, neg]) => Math.min(9007199254740990, 2 ** k + d) * (neg ? -1 : 1)),
  fc.integer({ min: -9007199254740990, max: 9007199254740990 }),
  fc.constantFrom(
    0,
    -1,
    63,
    64,
    -64,
    -65,
    2 ** 30 - 1,
    2 ** 30,
    -(2 ** 30),
    -(2 ** 30) - 1,
    2 ** 31,
    2 ** 32,
    -62_167_219_200_000,
    253_402_300_799_999,
    9007199254740990,
    -9007199254740990,
  ),
);
const nullable = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: null, freq: 3 });
const strings = fc.array(str, { maxLength: 5 });
const event: fc.Arbitrary<AccessEventAvro> = fc.record({
  eventId: str,
  occurredAt: long,
  tenantId: str,
  actor: fc.record({ id: str, type: fc.constantFrom(...(schemaOf('ActorType') as AccessEventAvro['actor']['type'][])) }),
  subject: fc.record({
    id: str,
    type: fc.constantFrom(...(schemaOf('SubjectType') as AccessEventAvro['subject']['type'][])),
  }),
  categories: strings,
  fields: nullable(strings),
  action: fc.constantFrom(...(schemaOf('Action') as AccessEventAvro['action'][])),
  purpose: str,
  recipient: nullable(
    fc.record({
      id: str,
      type: fc.constantFrom(...(schemaOf('RecipientType') as ('processor' | 'third_party' | 'authority')[])),
    }),
  ),
  legalBasis: nullable(str),
  dataCollectedAt: nullable(long),
  recordCount: fc.oneof(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), fc.constantFrom(1, 63, 64)),
  source: fc.record({ service: str, requestId: nullable(str), traceId: nullable(str), ip: nullable(str) }),
  attributes: nullable(fc.dictionary(str, str, { maxKeys: 5 })),
});

describe('hand-written AccessEvent v1 writer', () => {
  it('writes the schema fields in order', () => {
    expect([...WRITER_FIELDS]).toEqual(accessEventAvro.fields.map((f) => f.name));
  });

  it('produces exactly avsc’s bytes, at any offset, for any value of the schema', () => {
    fc.assert(
      fc.property(event, fc.integer({ min: 0, max: 40 }), (v, at) => {
        const want = type.toBuffer(v);
        const buf = Buffer.alloc(at + want.length * 3 + 400, 0xa5);
        const end = encodeAccessEvent(v, buf, at);
        expect(end).toBe(at + want.length);
        expect(buf.subarray(at, end).equals(want)).toBe(true);
      }),
      { numRuns: 5000 },
    );
  });

  it('gives up (-1) rather than write past the buffer, and avsc then reports what is missing', () => {
    fc.assert(
      fc.property(event, fc.integer({ min: 0, max: 400 }), (v, size) => {
        const want = type.toBuffer(v);
        const buf = Buffer.alloc(size + 16, 0xa5);
        const b = buf.subarray(0, size);
        const end = encodeAccessEvent(v, b, 0);
        if (end !== -1) {
          expect(end).toBe(want.length);
          expect(b.subarray(0, end).equals(want)).toBe(true);
        } else expect(type.encode(v, b, 0) < 0 || type.encode(v, b, 0) === want.length).toBe(true);
        expect(buf.subarray(size).every((x) => x === 0xa5)).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });

  it('leaves values avsc would reject or default to avsc (-1)', () => {
    const ok: AccessEventAvro = {
      eventId: 'e',
      occurredAt: 1,
      tenantId: 't',
      actor: { id: 'a', type: 'staff' },
      subject: { id: 's', type: 'customer' },
      categories: ['c'],
      fields: null,
      action: 'read',
      purpose: 'p',
      recipient: null,
      legalBasis: null,
      dataCollectedAt: null,
      recordCount: 1,
      source: { service: 's', requestId: null, traceId: null, ip: null },
      attributes: null,
    };
    const buf = Buffer.alloc(1024);
    expect(encodeAccessEvent(ok, buf, 0)).toBe(type.toBuffer(ok).length);
    const bad: Record<string, unknown>[] = [
      { eventId: 1 },
      { occurredAt: 1.5 },
      { occurredAt: 2 ** 53 },
      { occurredAt: Number.MAX_SAFE_INTEGER },
      { occurredAt: Number.NaN },
      { occurredAt: '1' },
      { actor: { id: 'a', type: 'robot' } },
      { actor: null },
      { categories: 'c' },
      { categories: [1] },
      { fields: undefined },
      { action: 'steal' },
      { recipient: { id: 'r', type: 'x' } },
      { recipient: undefined },
      { legalBasis: 3 },
      { dataCollectedAt: 0.5 },
      { recordCount: 2 ** 31 },
      { recordCount: undefined },
      { source: { service: 's' } },
      { attributes: { k: 1 } },
      { attributes: ['x'] },
    ];
    for (const b of bad) expect(encodeAccessEvent({ ...ok, ...b } as AccessEventAvro, buf, 0)).toBe(-1);
  });
});
