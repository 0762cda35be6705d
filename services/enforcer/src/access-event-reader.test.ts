/** The hand reader agrees with what it replaces: avsc's decode, then decode.ts's fast contract check. */
import { accessEventAvro } from '@custos/schemas';
import avro from 'avsc';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { layoutOf, READER_LAYOUT, readAccessEvent } from './access-event-reader.js';
import { fastAccessEvent } from './decode.js';

const eventType = avro.Type.forSchema(accessEventAvro as unknown as avro.Schema);

/** the avsc path: undefined when avsc throws or the fast check cannot vouch for the record */
function viaAvsc(body: Buffer) {
  let v: Parameters<typeof fastAccessEvent>[0];
  try {
    v = eventType.fromBuffer(body);
  } catch {
    return undefined;
  }
  const event = fastAccessEvent(v);
  return event === undefined ? undefined : { event, time: v.occurredAt };
}

// ends that trim() does and does not remove, non-ASCII, lone surrogates, astral characters
const odd = fc.constantFrom(
  ' ',
  '\t',
  '\n',
  '\v',
  '\f',
  '\r',
  '\x1c',
  '\x1f',
  '\x85',
  '\xa0',
  '\u1680',
  '\u2028',
  '\ufeff',
  '\u3000',
  'é',
  '\ud800',
  '\udc00',
  '😀',
);
const text = fc.oneof(
  { arbitrary: fc.constantFrom('x', 'spera', 's-asha', 'personal.contact', 'cust-100042', 'crm', 'Priyā Śarmā'), weight: 12 },
  fc.constant(''),
  fc.tuple(odd, fc.constantFrom('', 'x', 's-asha'), odd).map(([a, b, c]) => a + b + c),
  fc.tuple(fc.constantFrom('x', 'é'), odd).map(([a, b]) => a + b),
  fc.tuple(odd, fc.constantFrom('x', 'é')).map(([a, b]) => a + b),
  fc.string({ maxLength: 8 }),
  fc.string({ maxLength: 8, unit: 'binary' }),
  fc.string({ minLength: 60, maxLength: 70 }),
);
const uuid = fc.oneof(
  { arbitrary: fc.uuid(), weight: 6 },
  fc.uuid().map((u) => u.toUpperCase()),
  fc.constantFrom(
    '',
    'not-a-uuid',
    `${'0'.repeat(36)}`,
    '0190a000-0000-7000-8000-00000000000g',
    '0190a000-0000-7000-8000-0000000000é',
  ),
);
const millis = fc.oneof(
  { arbitrary: fc.integer({ min: 0, max: 253_402_300_799_999 }), weight: 6 },
  fc.constantFrom(0, -1, 1_700_000_000_000, 253_402_300_799_999, 253_402_300_800_000, 8_640_000_000_000_001),
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
  recordCount: fc.oneof(
    fc.integer({ min: -2, max: 3 }),
    fc.constant(2_147_483_647),
    fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
  ),
  source: fc.record({ service: text, requestId: nullable(text), traceId: nullable(text), ip: nullable(text) }),
  attributes: nullable(fc.dictionary(fc.oneof(text, fc.constant('__proto__')), text, { maxKeys: 3 })),
});

const zigzag = (n: number) => {
  const out: number[] = [];
  let f = n >= 0 ? n * 2 : -n * 2 - 1;
  do {
    let b = f % 128;
    f = Math.floor(f / 128);
    if (f > 0) b |= 0x80;
    out.push(b);
  } while (f > 0);
  return Buffer.from(out);
};

/** byte-level damage: truncation, trailing bytes, a changed byte, bytes inserted */
const damaged = (body: Buffer) =>
  fc.oneof(
    fc.nat({ max: body.length }).map((n) => body.subarray(0, n)),
    fc.uint8Array({ minLength: 1, maxLength: 3 }).map((extra) => Buffer.concat([body, extra])),
    fc.tuple(fc.nat({ max: Math.max(0, body.length - 1) }), fc.integer({ min: 0, max: 255 })).map(([i, b]) => {
      const c = Buffer.from(body);
      c[i] = b;
      return c;
    }),
    fc
      .tuple(fc.nat({ max: body.length }), fc.uint8Array({ minLength: 1, maxLength: 2 }))
      .map(([i, ins]) => Buffer.concat([body.subarray(0, i), ins, body.subarray(i)])),
  );

/**
 * Whatever the reader reads, the avsc path accepts with the same event (key order included); what it
 * declines takes the avsc path anyway. (avsc is asked only then: on damaged bytes its `new Array(n)`
 * of a garbage block count can exhaust the heap.)
 */
function expectSame(body: Buffer): 'read' | 'declined' {
  const got = readAccessEvent(body);
  if (got === undefined) return 'declined';
  const want = viaAvsc(body);
  expect(want).toBeDefined();
  expect(got.time).toBe(want!.time);
  expect(got.event).toStrictEqual(want!.event);
  expect(JSON.stringify(got.event)).toBe(JSON.stringify(want!.event));
  return 'read';
}

describe('readAccessEvent', () => {
  it('is written for the current AccessEvent schema', () => {
    expect(layoutOf(eventType.schema())).toBe(READER_LAYOUT);
    expect(layoutOf(accessEventAvro)).toBe(READER_LAYOUT);
  });

  it('reads what avsc + the fast check accept, the same event, and only that', () => {
    let read = 0;
    let valid = 0;
    fc.assert(
      fc.property(avroEvent, (raw) => {
        const body = eventType.toBuffer(raw);
        if (viaAvsc(body) !== undefined) valid++;
        if (expectSame(body) === 'read') read++;
        expectSame(body); // again: from interned strings this time
      }),
      { numRuns: 5000 },
    );
    expect(valid).toBeGreaterThan(200);
    // every event the avsc path accepts from avsc-written bytes, the reader reads too
    expect(read).toBe(valid);
  });

  it('declines what avsc rejects or reads differently (damaged bytes)', () => {
    let read = 0;
    fc.assert(
      fc.property(
        avroEvent.chain((raw) => damaged(eventType.toBuffer(raw))),
        (body) => {
          if (expectSame(body) === 'read') read++;
        },
      ),
      { numRuns: 10_000 },
    );
    expect(read).toBeGreaterThan(30); // some damage leaves a valid event (e.g. another letter)
  });

  it('reads arrays and maps written in several blocks; declines negative block counts', () => {
    const e = {
      eventId: '0190a000-0000-7000-8000-000000000001',
      occurredAt: 1_700_000_000_000,
      tenantId: 'spera',
      actor: { id: 's-asha', type: 'staff' },
      subject: { id: 'c1', type: 'customer' },
      categories: ['a', 'b', 'c'],
      fields: null,
      action: 'read',
      purpose: 'p',
      recipient: null,
      legalBasis: null,
      dataCollectedAt: null,
      recordCount: 1,
      source: { service: 'crm', requestId: null, traceId: null, ip: null },
      attributes: { k1: 'v1', k2: 'v2' },
    };
    const whole = eventType.toBuffer(e);
    const str = (s: string) => Buffer.concat([zigzag(Buffer.byteLength(s)), Buffer.from(s)]);
    // the categories as two blocks (avsc writes one), then as one block with a negative count
    const catsAt = whole.indexOf(Buffer.concat([zigzag(3), str('a')]));
    expect(catsAt).toBeGreaterThan(0);
    const afterCats = catsAt + zigzag(3).length + 3 * 2 + 1; // three 1-byte strings, then the 0 ending the array
    const twoBlocks = Buffer.concat([
      whole.subarray(0, catsAt),
      zigzag(1),
      str('a'),
      zigzag(2),
      str('b'),
      str('c'),
      zigzag(0),
      whole.subarray(afterCats),
    ]);
    expect(eventType.fromBuffer(twoBlocks).categories).toEqual(['a', 'b', 'c']);
    expect(expectSame(twoBlocks)).toBe('read');
    const negative = Buffer.concat([
      whole.subarray(0, catsAt),
      zigzag(-3),
      zigzag(6),
      str('a'),
      str('b'),
      str('c'),
      zigzag(0),
      whole.subarray(afterCats),
    ]);
    expect(eventType.fromBuffer(negative).categories).toEqual(['a', 'b', 'c']);
    expect(readAccessEvent(negative)).toBeUndefined();
  });

  it('declines an int beyond 32 bits, which avsc reads and the contract refuses', () => {
    const e = eventType.toBuffer({
      eventId: '0190a000-0000-7000-8000-000000000001',
      occurredAt: 1_700_000_000_000,
      tenantId: 'spera',
      actor: { id: 's-asha', type: 'staff' },
      subject: { id: 'c1', type: 'customer' },
      categories: ['a'],
      fields: null,
      action: 'read',
      purpose: 'p',
      recipient: null,
      legalBasis: null,
      dataCollectedAt: null,
      recordCount: 7,
      source: { service: 'crm', requestId: null, traceId: null, ip: null },
      attributes: null,
    });
    // recordCount is the byte after dataCollectedAt's null branch: 7 → 14
    const at = e.indexOf(Buffer.from([14, 6, ...Buffer.from('crm')]));
    const big = Buffer.concat([e.subarray(0, at), zigzag(2 ** 33), e.subarray(at + 1)]);
    expect(eventType.fromBuffer(big).recordCount).toBe(2 ** 33);
    expect(readAccessEvent(big)).toBeUndefined();
    expect(viaAvsc(big)).toBeUndefined();
  });
});
