/**
 * The differential harness of every hand-written Avro codec of this folder against avsc, the
 * reference: for each writer, its bytes are avsc's bytes (so avsc decodes them to the value written);
 * for each reader, what it reads from avsc-written bytes is what avsc decodes (plus the contract's
 * checks), and what it declines the avsc path takes anyway. Values come from fast-check generators
 * (unicode of every kind, empty strings, maps, unions with null, long boundaries, very large
 * records) and from avsc's own `Type#random()`.
 *
 * The SDK's fused validate-and-write path (`writeAccessEvent`) is checked against zod + avsc with the
 * rest of the SDK's validation (packages/sdk/src/validate.test.ts); the store's row writer on top of
 * `readDecision` against avsc + its row mapping in services/sink/src/line.test.ts.
 */
import avro from 'avsc';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fromAvro, toAvro } from '../codec.js';
import { parseAccessEvent } from '../contract.js';
import {
  type AccessEventV1AvroValue as AccessEventAvro,
  AccessEventV1Avro as accessEventAvro,
  DecisionV1Avro as decisionAvro,
} from '../generated.js';
import { GUID } from '../input-checks.js';
import { fastAccessEvent, isGuid, READER_LAYOUT, readAccessEvent } from './access-event-reader.js';
import { encodeAccessEvent, WRITER_FIELDS } from './access-event-writer.js';
import { BufferPool } from './buffer-pool.js';
import { DECISION_READER_LAYOUT, type DecisionSpans, readDecision } from './decision-reader.js';
import {
  DecisionArena,
  DecisionEncoder,
  type DecisionJudgement,
  type DecisionSchema,
  type JudgedEvent,
} from './decision-writer.js';
import { layoutOf } from './layout.js';
import { AVRO_UNSURE, AvroReadTap } from './read.js';
import { writeAvroLong, writeAvroString } from './write.js';

const eventType = avro.Type.forSchema(accessEventAvro as unknown as avro.Schema);
const decisionType = avro.Type.forSchema(decisionAvro as unknown as avro.Schema);
const longType = avro.Type.forSchema('long');
const stringType = avro.Type.forSchema('string');

/** avsc's framing (magic byte, schema id), as @custos/kafka's RegisteredSchema#encode frames */
const framed = (id: number, type: avro.Type): DecisionSchema => ({
  id,
  encode: (v) => {
    const body = type.toBuffer(v);
    const out = Buffer.alloc(5 + body.length);
    out.writeUInt32BE(id, 1);
    body.copy(out, 5);
    return out;
  },
});

const symbolsOf = (name: string, schema: unknown = accessEventAvro) => {
  const walk = (t: unknown): string[] | undefined => {
    if (Array.isArray(t)) return t.map(walk).find((x) => x !== undefined);
    if (typeof t !== 'object' || t === null) return undefined;
    const n = t as { type?: unknown; name?: string; symbols?: string[]; fields?: { type: unknown }[] };
    if (n.type === 'enum' && n.name === name) return n.symbols;
    return walk(n.type) ?? (n.fields ? walk(n.fields.map((f) => f.type)) : undefined);
  };
  return walk(schema)!;
};

// ---- generators --------------------------------------------------------------------------------------

// Strings of every kind: empty, ASCII, any code unit (lone surrogates included), full code points,
// and lengths on both sides of avsc's 64-byte switch from its own UTF-8 loop to utf8Write.
const codeUnits = fc.array(fc.integer({ min: 0, max: 0xffff }), { maxLength: 90 }).map((xs) => String.fromCharCode(...xs));
const anyString = fc.oneof(
  fc.constant(''),
  fc.string({ maxLength: 30 }),
  fc.string({ unit: 'binary', maxLength: 80 }),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  codeUnits,
  fc.integer({ min: 0, max: 200 }).map((n) => 'x'.repeat(n)),
  fc.integer({ min: 0, max: 70 }).map((n) => 'é'.repeat(n)),
  fc.integer({ min: 0, max: 30 }).map((n) => '€'.repeat(n)),
  fc.integer({ min: 0, max: 20 }).map((n) => '😀'.repeat(n)),
  // exactly around 64 bytes with a lone surrogate somewhere (avsc's two writers differ there)
  fc.tuple(fc.integer({ min: 55, max: 70 }), fc.nat(), fc.constantFrom('\ud800', '\udfff', '\ud83d')).map(([bytes, at, lone]) => {
    const pad = 'x'.repeat(bytes - 3);
    const i = at % (pad.length + 1);
    return pad.slice(0, i) + lone + pad.slice(i);
  }),
  fc.constantFrom('0190b0a0-0000-7000-8000-00000000abcd', '\ud800', '\udc00x', 'a\ud83d\ude00b', '\ud83d', 'Priyā Śarmā'),
);

/** Avro longs avsc accepts: ±(2^53 − 2), its boundaries, the varint byte boundaries, powers of two */
const anyLong = fc.oneof(
  fc.integer(),
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
    8191,
    8192,
    2 ** 28 - 1,
    2 ** 28,
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
const stringArray = fc.array(anyString, { maxLength: 5 });

/** any value of the AccessEvent schema */
const anyEvent: fc.Arbitrary<AccessEventAvro> = fc.record({
  eventId: anyString,
  occurredAt: anyLong,
  tenantId: anyString,
  actor: fc.record({ id: anyString, type: fc.constantFrom(...(symbolsOf('ActorType') as AccessEventAvro['actor']['type'][])) }),
  subject: fc.record({
    id: anyString,
    type: fc.constantFrom(...(symbolsOf('SubjectType') as AccessEventAvro['subject']['type'][])),
  }),
  categories: stringArray,
  fields: nullable(stringArray),
  action: fc.constantFrom(...(symbolsOf('Action') as AccessEventAvro['action'][])),
  purpose: anyString,
  recipient: nullable(
    fc.record({
      id: anyString,
      type: fc.constantFrom(...(symbolsOf('RecipientType') as ('processor' | 'third_party' | 'authority')[])),
    }),
  ),
  legalBasis: nullable(anyString),
  dataCollectedAt: nullable(anyLong),
  recordCount: fc.oneof(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), fc.constantFrom(1, 63, 64)),
  source: fc.record({
    service: anyString,
    requestId: nullable(anyString),
    traceId: nullable(anyString),
    ip: nullable(anyString),
  }),
  attributes: nullable(fc.dictionary(anyString, anyString, { maxKeys: 5 })),
});

/** very large records: long strings, many categories, big maps */
const largeEvent: fc.Arbitrary<AccessEventAvro> = fc
  .tuple(
    anyEvent,
    fc.integer({ min: 1000, max: 200_000 }),
    fc.integer({ min: 100, max: 3000 }),
    fc.constantFrom('x', 'é', '€', '😀', '\ud800'),
  )
  .map(([e, chars, items, unit]) => ({
    ...e,
    purpose: unit.repeat(Math.ceil(chars / unit.length)),
    categories: Array.from({ length: items }, (_, i) => `c${i}`),
    attributes: Object.fromEntries(Array.from({ length: items }, (_, i) => [`k${i}${unit}`, unit.repeat(i % 100)])),
  }));

// Events near what the contract accepts, so that readers accept many of them: ends that trim() does
// and does not remove, non-ASCII, lone surrogates, astral characters; uuids and near-uuids; times at
// and past the contract's limits.
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
const nearValidEvent = fc.record({
  eventId: uuid,
  occurredAt: millis,
  tenantId: text,
  actor: fc.record({ id: text, type: fc.constantFrom('staff', 'processor') }),
  subject: fc.record({ id: text, type: fc.constantFrom('customer', 'user', 'employee', 'client_contact') }),
  categories: fc.array(text, { maxLength: 3 }),
  fields: fc.option(fc.array(text, { maxLength: 2 }), { nil: null }),
  action: fc.constantFrom('read', 'create', 'update', 'delete', 'export', 'share', 'disclose'),
  purpose: text,
  recipient: fc.option(fc.record({ id: text, type: fc.constantFrom('processor', 'third_party', 'authority') }), { nil: null }),
  legalBasis: fc.option(text, { nil: null }),
  dataCollectedAt: fc.option(millis, { nil: null }),
  recordCount: fc.oneof(
    fc.integer({ min: -2, max: 3 }),
    fc.constant(2_147_483_647),
    fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
  ),
  source: fc.record({
    service: text,
    requestId: fc.option(text, { nil: null }),
    traceId: fc.option(text, { nil: null }),
    ip: fc.option(text, { nil: null }),
  }),
  attributes: fc.option(fc.dictionary(fc.oneof(text, fc.constant('__proto__')), text, { maxKeys: 3 }), { nil: null }),
}) as fc.Arbitrary<AccessEventAvro>;

/** a valid event with `attributes` and the rest as given */
const baseEvent = (over: Partial<AccessEventAvro> = {}): AccessEventAvro => ({
  eventId: '0190a000-0000-7000-8000-000000000001',
  occurredAt: 1_700_000_000_000,
  tenantId: 'spera',
  actor: { id: 's-asha', type: 'staff' },
  subject: { id: 'c1', type: 'customer' },
  categories: ['personal.contact'],
  fields: null,
  action: 'read',
  purpose: 'service.support',
  recipient: null,
  legalBasis: null,
  dataCollectedAt: null,
  recordCount: 1,
  source: { service: 'crm', requestId: null, traceId: null, ip: null },
  attributes: null,
  ...over,
});

/** avsc's own random values of a type (not reproducible by seed: kept to a plain loop) */
const randoms = (type: avro.Type, n: number): unknown[] => Array.from({ length: n }, () => type.random() as unknown);

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

// ---- primitives -------------------------------------------------------------------------------------

describe('writeAvroLong, writeAvroString', () => {
  it('write exactly avsc’s bytes for longs at every boundary and strings of every kind', () => {
    fc.assert(
      fc.property(anyLong, anyString, fc.integer({ min: 0, max: 20 }), (n, s, at) => {
        const buf = Buffer.alloc(at + 10 + 3 * s.length, 0xa5);
        const wantLong = longType.toBuffer(n);
        expect(buf.subarray(at, writeAvroLong(buf, at, n)).equals(wantLong)).toBe(true);
        const wantString = stringType.toBuffer(s);
        expect(buf.subarray(at, writeAvroString(buf, at, s)).equals(wantString)).toBe(true);
        // avsc's own float arithmetic reads back exactly up to ±2^52 only
        if (Math.abs(n) <= EXACT_LONG) expect(longType.fromBuffer(wantLong)).toBe(n + 0); // -0 reads as 0
      }),
      { numRuns: 5000 },
    );
  });
});

describe('AvroReadTap', () => {
  it('reads avsc’s longs as avsc reads them, and throws AVRO_UNSURE where avsc’s long type would refuse or the bytes end', () => {
    const tap = new AvroReadTap();
    fc.assert(
      fc.property(anyLong, fc.uint8Array({ maxLength: 4 }), (n, head) => {
        const body = longType.toBuffer(n);
        const avscRefuses = (() => {
          try {
            longType.fromBuffer(body);
            return false;
          } catch {
            return true;
          }
        })();
        tap.reset(Buffer.concat([head, body]), head.length);
        if (avscRefuses) expect(() => tap.long()).toThrow();
        else {
          expect(tap.long()).toBe(longType.fromBuffer(body));
          expect(tap.pos).toBe(tap.end);
        }
        tap.reset(body.subarray(0, body.length - 1), 0);
        let thrown: unknown;
        try {
          tap.long();
        } catch (err) {
          thrown = err;
        }
        expect(thrown).toBe(AVRO_UNSURE);
      }),
      { numRuns: 3000 },
    );
  });

  it('reads a negative block count as its size, skipping the byte size that follows', () => {
    const tap = new AvroReadTap();
    tap.reset(Buffer.concat([zigzag(-3), zigzag(6), zigzag(2), zigzag(0)]), 0);
    expect([tap.blockCount(), tap.blockCount(), tap.blockCount()]).toEqual([3, 2, 0]);
  });
});

// ---- AccessEvent writer -----------------------------------------------------------------------------

/** our bytes, checked equal to avsc's, and avsc's decode of them */
function writeAndCompare(v: AccessEventAvro, at = 0): void {
  const want = eventType.toBuffer(v);
  const buf = Buffer.alloc(at + want.length * 3 + 400, 0xa5);
  const end = encodeAccessEvent(v, buf, at);
  expect(end).toBe(at + want.length);
  expect(buf.subarray(at, end).equals(want)).toBe(true);
}

const LONE_SURROGATE = /\p{Cs}/u;
/** avsc reads longs back exactly up to here (float arithmetic past 2^52) */
const EXACT_LONG = 2 ** 52;
/**
 * Whether avsc decodes exactly what was written: every string well-formed UTF-16 (a lone surrogate
 * comes back as U+FFFD or as its 3 raw bytes' decoding), no `__proto__` map key (avsc's map
 * assignment drops it), longs within ±2^52 and not -0 (which reads as 0).
 */
const roundTrips = (v: unknown): boolean =>
  typeof v === 'string'
    ? !LONE_SURROGATE.test(v)
    : typeof v === 'number'
      ? Math.abs(v) <= EXACT_LONG && !Object.is(v, -0)
      : Array.isArray(v)
        ? v.every(roundTrips)
        : typeof v === 'object' && v !== null
          ? Object.entries(v).every(([k, x]) => k !== '__proto__' && roundTrips(k) && roundTrips(x))
          : true;

describe('AccessEvent writer (encodeAccessEvent)', () => {
  it('writes the schema fields in order', () => {
    expect([...WRITER_FIELDS]).toEqual(accessEventAvro.fields.map((f) => f.name));
  });

  it('produces exactly avsc’s bytes, at any offset, for any value of the schema; avsc reads the value back', () => {
    fc.assert(
      fc.property(anyEvent, fc.integer({ min: 0, max: 40 }), (v, at) => {
        writeAndCompare(v, at);
        if (roundTrips(v)) {
          const buf = Buffer.alloc(eventType.toBuffer(v).length * 3 + 400);
          expect(eventType.fromBuffer(buf.subarray(0, encodeAccessEvent(v, buf, 0)))).toEqual(v);
        }
      }),
      { numRuns: 5000 },
    );
  });

  it('produces avsc’s bytes for avsc’s random values and for very large records', () => {
    for (const v of randoms(eventType, 2000)) writeAndCompare(v as AccessEventAvro);
    fc.assert(
      fc.property(largeEvent, (v) => writeAndCompare(v)),
      { numRuns: 30 },
    );
  });

  it('gives up (-1) rather than write past the buffer, and avsc then reports what is missing', () => {
    fc.assert(
      fc.property(anyEvent, fc.integer({ min: 0, max: 400 }), (v, size) => {
        const want = eventType.toBuffer(v);
        const buf = Buffer.alloc(size + 16, 0xa5);
        const b = buf.subarray(0, size);
        const end = encodeAccessEvent(v, b, 0);
        if (end !== -1) {
          expect(end).toBe(want.length);
          expect(b.subarray(0, end).equals(want)).toBe(true);
        } else expect(eventType.encode(v, b, 0) < 0 || eventType.encode(v, b, 0) === want.length).toBe(true);
        expect(buf.subarray(size).every((x) => x === 0xa5)).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });

  it('leaves values avsc would reject or default to avsc (-1)', () => {
    const ok = baseEvent({ eventId: 'e', occurredAt: 1, tenantId: 't', purpose: 'p', categories: ['c'] });
    const buf = Buffer.alloc(1024);
    expect(encodeAccessEvent(ok, buf, 0)).toBe(eventType.toBuffer(ok).length);
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

// ---- AccessEvent reader -----------------------------------------------------------------------------

/** the avsc path: avsc's decode, then the contract's remaining checks; undefined when either refuses */
function viaAvsc(body: Buffer) {
  let v: AccessEventAvro;
  try {
    v = eventType.fromBuffer(body);
  } catch {
    return undefined;
  }
  const event = fastAccessEvent(v);
  return event === undefined ? undefined : { event, time: v.occurredAt };
}

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

describe('AccessEvent reader (readAccessEvent)', () => {
  it('is written for the current AccessEvent schema', () => {
    expect(layoutOf(eventType.schema())).toBe(READER_LAYOUT);
    expect(layoutOf(accessEventAvro)).toBe(READER_LAYOUT);
  });

  it('reads what avsc + the contract accept, the same event, and only that', () => {
    let read = 0;
    let valid = 0;
    fc.assert(
      fc.property(nearValidEvent, (raw) => {
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

  it('agrees with avsc on any value of the schema, avsc’s random values and very large records', () => {
    const agree = (v: AccessEventAvro) => {
      const body = eventType.toBuffer(v);
      expect(expectSame(body) === 'read').toBe(viaAvsc(body) !== undefined);
    };
    fc.assert(fc.property(anyEvent, agree), { numRuns: 1000 });
    fc.assert(fc.property(largeEvent, agree), { numRuns: 20 });
    for (const v of randoms(eventType, 2000)) expectSame(eventType.toBuffer(v));
    const large = baseEvent({
      purpose: 'é'.repeat(100_000),
      categories: Array.from({ length: 5000 }, (_, i) => `c${i}`),
      attributes: Object.fromEntries(Array.from({ length: 5000 }, (_, i) => [`k${i}`, '😀'.repeat(i % 50)])),
    });
    expect(expectSame(eventType.toBuffer(large))).toBe('read');
  });

  it('reads at an offset (a framed record)', () => {
    fc.assert(
      fc.property(nearValidEvent, fc.uint8Array({ maxLength: 8 }), (raw, head) => {
        const body = eventType.toBuffer(raw);
        const got = readAccessEvent(Buffer.concat([head, body]), head.length);
        expect(got).toStrictEqual(readAccessEvent(body));
      }),
      { numRuns: 1000 },
    );
  });

  it('declines what avsc rejects or reads differently (damaged bytes)', () => {
    let read = 0;
    fc.assert(
      fc.property(
        nearValidEvent.chain((raw) => damaged(eventType.toBuffer(raw))),
        (body) => {
          if (expectSame(body) === 'read') read++;
        },
      ),
      { numRuns: 10_000 },
    );
    expect(read).toBeGreaterThan(30); // some damage leaves a valid event (e.g. another letter)
  });

  it('reads arrays and maps written in several blocks; declines negative block counts', () => {
    const whole = eventType.toBuffer(baseEvent({ categories: ['a', 'b', 'c'], attributes: { k1: 'v1', k2: 'v2' } }));
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
    const e = eventType.toBuffer(baseEvent({ categories: ['a'], purpose: 'p', recordCount: 7 }));
    // recordCount is the byte after dataCollectedAt's null branch: 7 → 14
    const at = e.indexOf(Buffer.from([14, 6, ...Buffer.from('crm')]));
    const big = Buffer.concat([e.subarray(0, at), zigzag(2 ** 33), e.subarray(at + 1)]);
    expect(eventType.fromBuffer(big).recordCount).toBe(2 ** 33);
    expect(readAccessEvent(big)).toBeUndefined();
    expect(viaAvsc(big)).toBeUndefined();
  });
});

describe('the contract checks beside the reader (fastAccessEvent, isGuid)', () => {
  it('fastAccessEvent accepts only what the contract accepts, with the same event', () => {
    let valid = 0;
    fc.assert(
      fc.property(nearValidEvent, (raw) => {
        const v = eventType.fromBuffer(eventType.toBuffer(raw)) as AccessEventAvro;
        const got = fastAccessEvent(v);
        if (got === undefined) return;
        valid++;
        const want = parseAccessEvent(fromAvro(accessEventAvro, v));
        expect(want.ok).toBe(true);
        if (want.ok) expect(got).toEqual(want.value);
      }),
      { numRuns: 3000 },
    );
    expect(valid).toBeGreaterThan(100);
  });

  it('isGuid agrees with the guid regex of the contract', () => {
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

// ---- Decision writer --------------------------------------------------------------------------------

// reason messages: ASCII, any BMP text, lone surrogates, astral characters, short and long (avsc
// writes strings of ≤ 64 bytes with its own UTF-8 loop and longer ones with utf8Write)
const message = fc.oneof(
  fc.string({ maxLength: 200 }),
  fc.string({ maxLength: 40, unit: 'binary' }),
  fc.string({ maxLength: 120, unit: 'binary' }),
  fc.constantFrom(
    '',
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
const code = fc.constantFrom('BULK_ACCESS', 'NO_GRANT', 'PURPOSE_MISMATCH', 'RETENTION_EXCEEDED', 'é');
const judgement = fc.record({
  outcome: fc.constantFrom('allow' as const, 'flag' as const, 'deny' as const),
  reasons: fc.array(fc.record({ code, message }), { maxLength: 3 }),
  basis: fc.array(fc.oneof(fc.string({ maxLength: 10 }), fc.string({ maxLength: 10, unit: 'binary' })), { maxLength: 3 }),
  policyVersion: fc.constantFrom('v1+sha256:abc', 'v2+sha256:def', 'é'.repeat(40), ''),
});
const decidedAt = fc.oneof(fc.constant(1_700_000_000_000), fc.integer({ min: -(2 ** 40), max: 2 ** 40 }), anyLong);

/**
 * The judged event as the enforcer holds it: read by hand (its bytes as received, at an offset
 * after the frame) or, when the reader declines, decoded by avsc (its Avro form).
 */
function judged(raw: AccessEventAvro): JudgedEvent | undefined {
  const body = eventType.toBuffer(raw);
  const read = readAccessEvent(Buffer.concat([Buffer.alloc(5), body]), 5);
  if (read !== undefined) return { event: read.event, body: Buffer.concat([Buffer.alloc(5), body]), bodyStart: 5 };
  const v = eventType.fromBuffer(body) as AccessEventAvro & Record<string, unknown>;
  const event = fastAccessEvent(v);
  return event === undefined ? undefined : { event, avro: v };
}

/**
 * Whether the event's bytes as received are the ones avsc writes for it. When not (a map with a
 * `__proto__` key, which every decoder drops; blocks split differently), the spliced decision keeps
 * the bytes as received: it then decodes to the same value as avsc's, not to the same bytes.
 */
function canonicalBody(e: JudgedEvent): boolean {
  if (e.body === undefined) return true;
  const body = e.body.subarray(e.bodyStart ?? 0);
  return eventType.toBuffer(eventType.fromBuffer(body)).equals(body);
}

describe('Decision writer (DecisionEncoder)', () => {
  const schema = framed(9, decisionType);
  const full = (e: JudgedEvent, j: DecisionJudgement, at: number) =>
    schema.encode({ eventId: e.event.eventId, decidedAt: at, ...j, event: toAvro(accessEventAvro, e.event) });
  /** ours equals avsc's full encode: byte for byte, or value for value when the body is not avsc's bytes */
  const expectSameDecision = (ours: Buffer, want: Buffer, e: JudgedEvent) => {
    if (canonicalBody(e)) expect(ours.equals(want)).toBe(true);
    else expect(decisionType.fromBuffer(ours.subarray(5))).toEqual(decisionType.fromBuffer(want.subarray(5)));
  };

  it('splices the received event bytes into exactly what avsc’s full encode writes; avsc reads the decision back', () => {
    const encoder = new DecisionEncoder(schema);
    let spliced = 0;
    fc.assert(
      fc.property(nearValidEvent, judgement, decidedAt, (raw, j, at) => {
        const e = judged(raw);
        if (e === undefined) return;
        if (e.body !== undefined) spliced++;
        const ours = encoder.encode(e, j, at);
        expectSameDecision(ours, full(e, j, at), e);
        const back = decisionType.fromBuffer(ours.subarray(5));
        if (Math.abs(at) <= EXACT_LONG) expect(back.decidedAt).toBe(at + 0);
        expect(back.outcome).toBe(j.outcome);
        expect(fromAvro(accessEventAvro, back.event)).toEqual(e.event);
      }),
      { numRuns: 3000 },
    );
    expect(spliced).toBeGreaterThan(100);
  });

  it('writes the whole decision through avsc when the event has no bytes of its own', () => {
    const encoder = new DecisionEncoder(schema);
    fc.assert(
      fc.property(nearValidEvent, judgement, decidedAt, (raw, j, at) => {
        const e = judged(raw);
        if (e === undefined) return;
        const viaAvro: JudgedEvent = { event: e.event };
        expect(encoder.encode(viaAvro, j, at).equals(full(e, j, at))).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it("writes a batch's decisions back to back into one arena, growing it as needed", () => {
    const encoder = new DecisionEncoder(schema);
    fc.assert(
      fc.property(
        fc.array(fc.tuple(nearValidEvent, judgement), { maxLength: 30 }),
        fc.nat({ max: 3000 }),
        fc.array(fc.nat({ max: 6000 }), { maxLength: 4 }),
        (batch, size, pooledSizes) => {
          const arena = new DecisionArena(size);
          // the same into buffers reused from a pool: dirty, of any size
          const pool = new BufferPool(8);
          for (const n of pooledSizes) pool.give(Buffer.alloc(n, 0xa5));
          const pooled = new DecisionArena(size, pool);
          const written: Buffer[] = [];
          const writtenPooled: Buffer[] = [];
          const want: Buffer[] = [];
          for (const [raw, j] of batch) {
            const e = judged(raw);
            // the bytes as received, so that the arena's bytes can be compared whole (see canonicalBody)
            if (e === undefined || !canonicalBody(e)) continue;
            written.push(encoder.encode(e, j, 1_700_000_000_000, arena));
            writtenPooled.push(Buffer.from(encoder.encode(e, j, 1_700_000_000_000, pooled)));
            want.push(full(e, j, 1_700_000_000_000));
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

  it('writes very large decisions (long messages, many reasons, a large event)', () => {
    const encoder = new DecisionEncoder(schema);
    const e = judged(
      baseEvent({
        purpose: 'é'.repeat(50_000),
        categories: Array.from({ length: 2000 }, (_, i) => `c${i}`),
        attributes: Object.fromEntries(Array.from({ length: 2000 }, (_, i) => [`k${i}`, '😀'.repeat(i % 50)])),
      }),
    )!;
    expect(e.body).toBeDefined();
    const j = {
      outcome: 'deny' as const,
      reasons: [
        { code: 'BULK_ACCESS', message: 'm'.repeat(100_000) },
        ...Array.from({ length: 500 }, (_, i) => ({ code: `R${i % 7}`, message: `€${'x'.repeat(i)}` })),
      ],
      basis: Array.from({ length: 300 }, (_, i) => `grant-${i}`),
      policyVersion: 'v',
    };
    const out = encoder.encode(e, j, 0);
    expect(out.equals(full(e, j, 0))).toBe(true);
    expect(decisionType.fromBuffer(out.subarray(5)).reasons[0].message.length).toBe(100_000);
  });
});

// ---- Decision reader --------------------------------------------------------------------------------

const OUTCOMES = symbolsOf('Outcome', decisionAvro);
/**
 * The Decision value the spans point at, as avsc decodes it, but for what the reader leaves out:
 * event.eventId (skipped) and null `fields` (read as no items).
 */
function spansValue(d: DecisionSpans) {
  const str = (start: number, len: number) => (len < 0 ? null : d.buf.toString('utf8', start, start + len));
  const list = (from: number, count: number, stride: number) =>
    Array.from({ length: count }, (_, i) => str(d.lists[(from + i * stride) * 2]!, d.lists[(from + i * stride) * 2 + 1]!));
  const codes = list(d.r0, d.nReasons, 2);
  const messages = list(d.r0 + 1, d.nReasons, 2);
  return {
    eventId: str(d.evS, d.evL),
    decidedAt: d.decidedMs,
    outcome: OUTCOMES[d.outcome],
    reasons: codes.map((code, i) => ({ code, message: messages[i] })),
    basis: list(d.b0, d.nBasis, 1),
    policyVersion: str(d.polS, d.polL),
    event: {
      occurredAt: d.occurredMs,
      tenantId: str(d.tenS, d.tenL),
      actor: { id: str(d.actS, d.actL), type: symbolsOf('ActorType')[d.actorType] },
      subject: { id: str(d.subS, d.subL), type: symbolsOf('SubjectType')[d.subjectType] },
      categories: list(d.c0, d.nCats, 1),
      fields: list(d.f0, d.nFields, 1) as string[] | undefined,
      action: symbolsOf('Action')[d.action],
      purpose: str(d.purS, d.purL),
      recipient: d.recipientType < 0 ? null : { id: str(d.recS, d.recL), type: symbolsOf('RecipientType')[d.recipientType] },
      legalBasis: str(d.legS, d.legL),
      dataCollectedAt: Number.isNaN(d.dcMs) ? null : d.dcMs,
      recordCount: d.recordCount,
      source: { service: str(d.svcS, d.svcL), requestId: str(d.reqS, d.reqL), traceId: str(d.trS, d.trL), ip: str(d.ipS, d.ipL) },
      attributes: d.attributes === undefined ? null : d.attributes,
    },
  };
}

/** avsc's decode in the same terms (an empty `fields` list and a null one both read as no items) */
function avscValueOf(body: Buffer) {
  const v = decisionType.fromBuffer(body) as { event: Record<string, unknown> & { fields: string[] | null } };
  const { eventId: _, ...event } = v.event;
  return { ...v, event: { ...event, fields: event.fields === null || event.fields.length === 0 ? undefined : event.fields } };
}

/** Whatever readDecision reads, avsc decodes to the same value; undefined: it declined. */
function expectSameDecisionValue(body: Buffer, start = 0): 'read' | 'declined' {
  const d = readDecision(body, start);
  if (d === undefined) return 'declined';
  const got = spansValue(d);
  const want = avscValueOf(body.subarray(start));
  expect({ ...got, event: { ...got.event, fields: got.event.fields?.length ? got.event.fields : undefined } }).toEqual(want);
  return 'read';
}

const anyDecision = fc.record({
  eventId: anyString,
  decidedAt: anyLong,
  outcome: fc.constantFrom(...(OUTCOMES as ('allow' | 'flag' | 'deny')[])),
  reasons: fc.array(fc.record({ code: anyString, message: anyString }), { maxLength: 4 }),
  basis: stringArray,
  policyVersion: anyString,
  event: anyEvent,
});

describe('Decision reader (readDecision)', () => {
  it('is written for the current Decision schema', () => {
    expect(layoutOf(decisionType.schema())).toBe(DECISION_READER_LAYOUT);
    expect(layoutOf(decisionAvro)).toBe(DECISION_READER_LAYOUT);
  });

  it('reads any Decision avsc writes as avsc decodes it, at any offset (values of the schema, avsc’s random ones, very large ones)', () => {
    let read = 0;
    fc.assert(
      fc.property(anyDecision, fc.uint8Array({ maxLength: 8 }), (v, head) => {
        const body = decisionType.toBuffer(v);
        if (expectSameDecisionValue(Buffer.concat([head, body]), head.length) === 'read') read++;
      }),
      { numRuns: 1500 },
    );
    // it declines only longs avsc itself reads inexactly (beyond ±2^53 − 2 after its float arithmetic)
    expect(read).toBeGreaterThan(1200);
    for (const v of randoms(decisionType, 1000)) expectSameDecisionValue(decisionType.toBuffer(v));
    fc.assert(
      fc.property(largeEvent, (event) => {
        const v = {
          eventId: 'e',
          decidedAt: 1,
          outcome: 'deny',
          reasons: [{ code: 'c', message: 'm'.repeat(70_000) }],
          basis: [],
          policyVersion: 'v',
          event,
        };
        expect(expectSameDecisionValue(decisionType.toBuffer(v))).toBe('read');
      }),
      { numRuns: 20 },
    );
  });

  it('declines damaged bytes avsc would refuse, and reads the rest as avsc does', () => {
    let read = 0;
    fc.assert(
      fc.property(
        anyDecision.chain((v) => damaged(decisionType.toBuffer(v))),
        (body) => {
          if (expectSameDecisionValue(body) === 'read') read++;
        },
      ),
      { numRuns: 5000 },
    );
    expect(read).toBeGreaterThan(30);
  });

  it('reads lists written in several blocks or with negative counts, as avsc does', () => {
    const v = {
      eventId: 'e',
      decidedAt: 1,
      outcome: 'allow',
      reasons: [],
      basis: ['a', 'b', 'c'],
      policyVersion: 'v',
      event: baseEvent(),
    };
    const whole = decisionType.toBuffer(v);
    const str = (s: string) => Buffer.concat([zigzag(Buffer.byteLength(s)), Buffer.from(s)]);
    const basisAt = whole.indexOf(Buffer.concat([zigzag(3), str('a')]));
    const after = basisAt + zigzag(3).length + 3 * 2 + 1;
    for (const blocks of [
      [zigzag(1), str('a'), zigzag(2), str('b'), str('c'), zigzag(0)],
      [zigzag(-3), zigzag(6), str('a'), str('b'), str('c'), zigzag(0)],
    ]) {
      const body = Buffer.concat([whole.subarray(0, basisAt), ...blocks, whole.subarray(after)]);
      expect(expectSameDecisionValue(body)).toBe('read');
    }
  });
});
