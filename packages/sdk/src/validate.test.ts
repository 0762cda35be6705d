import {
  accessEventAvro,
  parseAccessEvent,
  parseSubjectStateChange,
  subjectStateChangeAvro,
  toAvro,
  ValidationError,
} from '@custos/schemas';
import { ASK_ZOD, accessKey, NO_ROOM, writeAccessEvent } from '@custos/schemas/avro';
import avro from 'avsc';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EventMix } from '../../../bench/event-mix.js';
import {
  fastAccessEvent,
  fastSubjectState,
  fillAccessEvent,
  fillSubjectState,
  subjectStateKey,
  toAccessEventAvro,
  toSubjectStateAvro,
} from './validate.js';

const NOW = Date.parse('2026-03-02T10:00:00.123Z');
const ID = '0190b0a0-0000-7000-8000-00000000abcd';
const gen = () => ID;
const writeGen = (b: Buffer, at: number) => {
  b.write(ID, at, 'latin1');
};
const accessType = avro.Type.forSchema(accessEventAvro as unknown as avro.Schema);
const stateType = avro.Type.forSchema(subjectStateChangeAvro as unknown as avro.Schema);

const base = {
  tenantId: 'spera',
  actor: { id: 's-asha', type: 'staff' },
  subject: { id: 'cust-1001', type: 'customer' },
  categories: ['personal.contact'],
  action: 'read',
  purpose: 'service.support',
};

// ---- generators: valid events, and valid events with one field replaced by anything

// Text of every kind the writers treat differently: any code unit (lone surrogates included), full
// code points, Unicode whitespace (trimmed), and lengths on both sides of avsc's 64-byte switch
// from its own UTF-8 loop to utf8Write.
const text = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 80 }),
  fc.array(fc.integer({ min: 0, max: 0xffff }), { maxLength: 90 }).map((xs) => String.fromCharCode(...xs)),
  fc.integer({ min: 0, max: 200 }).map((n) => 'x'.repeat(n)),
  fc.integer({ min: 20, max: 70 }).map((n) => 'é'.repeat(n)),
  fc.tuple(fc.integer({ min: 55, max: 70 }), fc.nat(), fc.constantFrom('\ud800', '\udfff', '\ud83d')).map(([n, at, lone]) => {
    const pad = 'x'.repeat(n - 3);
    const i = at % (pad.length + 1);
    return pad.slice(0, i) + lone + pad.slice(i);
  }),
  fc.constantFrom('\u00a0x\u2028', '\ufeff', '\u3000 €\u3000', 'a\ud83d\ude00b', '\ud800', ' \udc00 '),
);
const idString = fc.oneof(
  fc.string(),
  fc.constantFrom('', ' ', '  x ', 's-asha', '\t\n', 'ü'),
  fc.string({ unit: 'grapheme', minLength: 1 }),
  text,
);
const nonEmptyId = fc.oneof(
  fc.string({ minLength: 1 }).filter((s) => s.trim().length > 0),
  fc.constantFrom(' padded ', 's-1'),
  text.filter((s) => s.trim().length > 0),
);
const anyString = fc.oneof(fc.string(), text);
// attributes with keys JavaScript treats specially: `__proto__` as an own key, null prototypes
const oddMaps = fc.constantFrom<unknown>(
  JSON.parse('{"__proto__":"x"}'),
  JSON.parse('{"a":"b","__proto__":"x"}'),
  Object.assign(Object.create(null) as object, { a: 'b' }),
  Object.assign(Object.create(null) as object, JSON.parse('{"__proto__":"x"}')),
  { constructor: 'c', toString: 't', hasOwnProperty: 'h' },
  { [Symbol('s')]: 'x', a: 'b' },
  Object.create({ inherited: 'x' }) as object,
  { a: undefined },
  {},
);
const isoTimes = fc.oneof(
  fc
    .date({ min: new Date('0000-01-01T00:00:00Z'), max: new Date('9999-12-31T23:59:59Z'), noInvalidDate: true })
    .map((d) => d.toISOString()),
  fc.constantFrom(
    '2026-03-02T10:00:00Z',
    '2026-03-02T10:00:00.1Z',
    '2026-03-02T10:00:00.123456789Z',
    '2026-03-02T15:30:00+05:30',
    '2026-03-02T10:00:00-23:59',
    '2026-03-02T10:00',
    '2026-03-02T10:00:00',
    '2026-03-02T10:00:00.5',
    '2024-02-29T00:00:00Z',
    '2023-02-29T00:00:00Z',
    '2026-13-45T00:00:00Z',
    '2026-03-02T10:00:00+0530',
    '2026-03-02 10:00:00Z',
    '2026-03-02T24:00:00Z',
    '2026-03-02T10:00Z',
    '2026-03-02t10:00:00z',
    'yesterday',
    '',
  ),
  fc.date({ noInvalidDate: false }),
);
const opt = <T>(a: fc.Arbitrary<T>) => fc.oneof(fc.constant(undefined), fc.constant(null), a);

const validish = fc.record(
  {
    eventId: opt(fc.oneof(fc.uuid(), fc.constantFrom('ABCDEF01-2345-6789-abcd-ef0123456789', 'abc', ''))),
    occurredAt: opt(isoTimes),
    tenantId: fc.oneof(nonEmptyId, idString),
    actor: fc.record({ id: fc.oneof(nonEmptyId, idString), type: fc.constantFrom('staff', 'processor', 'robot') }),
    subject: fc.record({
      id: fc.oneof(nonEmptyId, idString),
      type: fc.constantFrom('customer', 'user', 'employee', 'client_contact', 'alien'),
    }),
    categories: fc.oneof(fc.array(fc.oneof(nonEmptyId, idString), { minLength: 1, maxLength: 3 }), fc.constant([])),
    fields: opt(fc.array(anyString, { maxLength: 3 })),
    action: fc.constantFrom('read', 'create', 'update', 'delete', 'export', 'share', 'disclose', 'peek'),
    purpose: fc.oneof(nonEmptyId, idString),
    recipient: opt(fc.record({ id: anyString, type: fc.constantFrom('processor', 'third_party', 'authority', 'friend') })),
    legalBasis: opt(anyString),
    dataCollectedAt: opt(isoTimes),
    recordCount: fc.oneof(
      fc.constant(undefined),
      fc.integer({ min: 1, max: 2_147_483_647 }),
      fc.constantFrom(0, -1, 1.5, 2_147_483_648, Number.NaN, Number.POSITIVE_INFINITY, null),
    ),
    source: opt(
      fc.record(
        {
          service: opt(fc.oneof(nonEmptyId, idString)),
          requestId: opt(anyString),
          traceId: opt(anyString),
          ip: opt(anyString),
        },
        { requiredKeys: [] },
      ),
    ),
    attributes: opt(
      fc.oneof(
        fc.dictionary(fc.string(), fc.string()),
        fc.dictionary(anyString, anyString, { maxKeys: 4 }),
        fc.dictionary(fc.string(), fc.anything()),
      ),
    ),
  },
  { requiredKeys: ['tenantId', 'actor', 'subject', 'categories', 'action', 'purpose'] },
);

const mutated = fc
  .tuple(
    validish,
    fc.constantFrom(...Object.keys(base), 'eventId', 'occurredAt', 'recipient', 'source', 'attributes', 'recordCount'),
    fc.anything(),
  )
  .map(([e, k, v]) => ({ ...e, [k]: v }));

/**
 * The fused writer (validation and Avro in one pass): it accepts exactly what the fast path accepts
 * and writes exactly avsc's bytes of the fast path's result, at any offset, never past the buffer.
 */
function checkFused(x: unknown, fast: ReturnType<typeof fastAccessEvent>, at = 3): void {
  const key = accessKey(x);
  const buf = Buffer.alloc(at + 4096, 0xa5);
  const end = key === undefined ? ASK_ZOD : writeAccessEvent(x, key, 'svc', NOW, writeGen, buf, at);
  expect(end).not.toBe(NO_ROOM);
  expect(end >= 0).toBe(fast !== undefined);
  if (fast !== undefined) {
    expect(key).toBe(fast.actor.id);
    expect(buf.subarray(at, end).equals(accessType.toBuffer(fast))).toBe(true);
  }
}

/** Encodes both paths' results; the fast path must produce exactly the bytes of zod + codec. */
function checkAccess(x: unknown): { fast: boolean; zod: boolean } {
  const fast = fastAccessEvent(x, 'svc', NOW, gen);
  checkFused(x, fast);
  let slow: ReturnType<typeof parseAccessEvent>;
  try {
    slow = parseAccessEvent(fillAccessEvent(x, 'svc', NOW, gen));
  } catch {
    // a timestamp the pattern accepts but Date cannot represent: the fast path must refuse it too
    expect(fast).toBeUndefined();
    return { fast: false, zod: false };
  }
  if (fast !== undefined) {
    expect(slow.ok).toBe(true);
    if (slow.ok) expect(accessType.toBuffer(fast).equals(accessType.toBuffer(toAvro(accessEventAvro, slow.value)))).toBe(true);
  }
  return { fast: fast !== undefined, zod: slow.ok };
}

describe('fast path vs the zod contract (access events)', () => {
  it('whatever the fast path accepts, zod accepts with the same Avro bytes; and they agree on acceptance', () => {
    fc.assert(
      fc.property(fc.oneof(validish, mutated), (x) => {
        const r = checkAccess(x);
        expect(r.fast).toBe(r.zod);
      }),
      { numRuns: 5000 },
    );
  });
  it('agrees on attribute maps with odd keys or prototypes too (the fast path may only be stricter)', () => {
    fc.assert(
      fc.property(validish, oddMaps, (e, attributes) => {
        checkAccess({ ...e, attributes });
      }),
      { numRuns: 500 },
    );
  });
  it('agrees on arbitrary values too (the fast path may only be stricter)', () => {
    fc.assert(
      fc.property(fc.anything({ withNullPrototype: true, withBoxedValues: true, withObjectString: true }), (x) => {
        checkAccess(x);
      }),
      { numRuns: 3000 },
    );
  });
  it('the fused writer says NO_ROOM rather than write past a short buffer, else writes the same bytes', () => {
    fc.assert(
      fc.property(validish, fc.integer({ min: 0, max: 600 }), fc.integer({ min: -8, max: 8 }), (x, any, near) => {
        const fast = fastAccessEvent(x, 'svc', NOW, gen);
        const key = accessKey(x);
        if (key === undefined) return;
        // any size, or one close to what the event needs (where a missed check would show)
        const size = fast !== undefined && any % 2 === 0 ? Math.max(0, accessType.toBuffer(fast).length + near) : any;
        const buf = Buffer.alloc(size + 16, 0xa5);
        const end = writeAccessEvent(x, key, 'svc', NOW, writeGen, buf.subarray(0, size), 0);
        expect(buf.subarray(size).every((b) => b === 0xa5)).toBe(true);
        expect(end).toBeLessThanOrEqual(size);
        if (end >= 0) {
          expect(fast).toBeDefined();
          expect(buf.subarray(0, end).equals(accessType.toBuffer(fast))).toBe(true);
        } else if (end === ASK_ZOD) expect(fast).toBeUndefined();
        else expect(end).toBe(NO_ROOM);
      }),
      { numRuns: 3000 },
    );
  });
  it('the fused writer takes ordinary events, and the realistic mix', () => {
    const buf = Buffer.alloc(4096);
    const ok = (x: unknown) => writeAccessEvent(x, accessKey(x)!, 'svc', NOW, writeGen, buf, 0) > 0;
    expect(ok(base)).toBe(true);
    expect(ok({ ...base, attributes: { a: 'b' }, fields: ['email'], occurredAt: new Date(NOW), eventId: ID })).toBe(true);
    expect(ok({ ...base, action: 'share', recipient: { id: 'p', type: 'processor' }, legalBasis: 'x', recordCount: 7 })).toBe(
      true,
    );
    expect(ok({ ...base, dataCollectedAt: '2025-01-01T00:00:00Z', source: { service: 'b', requestId: 'r', ip: '::1' } })).toBe(
      true,
    );
    const mix = new EventMix(7);
    for (let i = 0; i < 2000; i++) {
      const e = mix.next();
      checkFused(e, fastAccessEvent(e, 'svc', NOW, gen), i % 17);
      expect(ok(e)).toBe(true);
    }
  });
  it('ordinary events take the fast path', () => {
    expect(fastAccessEvent(base, 'svc', NOW, gen)).toBeDefined();
    expect(
      fastAccessEvent({ ...base, attributes: { a: 'b' }, fields: ['email'], occurredAt: new Date(NOW) }, 'svc', NOW, gen),
    ).toBeDefined();
    expect(
      fastAccessEvent({ ...base, action: 'share', recipient: { id: 'p', type: 'processor' } }, 'svc', NOW, gen),
    ).toBeDefined();
  });
  it('fills eventId, occurredAt and source.service, keeps a given source.service, trims like the contract', () => {
    const v = toAccessEventAvro({ ...base, tenantId: ' spera ', source: { requestId: 'r1' } }, 'crm', NOW, gen);
    expect(v).toMatchObject({ eventId: ID, occurredAt: NOW, tenantId: 'spera', recordCount: 1 });
    expect(v.source).toEqual({ service: 'crm', requestId: 'r1', traceId: null, ip: null });
    expect(toAccessEventAvro({ ...base, source: { service: 'billing' } }, 'crm', NOW, gen).source.service).toBe('billing');
    expect(toAccessEventAvro({ ...base, occurredAt: '2026-03-02T15:30:00+05:30' }, 'crm', NOW, gen).occurredAt).toBe(
      Date.parse('2026-03-02T10:00:00Z'),
    );
  });
});

describe('invalid access events throw a ValidationError naming each bad field', () => {
  const cases: [string, unknown, string[]][] = [
    ['not an object', 'hello', ['']],
    ['null', null, ['']],
    ['bad eventId', { ...base, eventId: 'abc' }, ['eventId']],
    ['eventId not a string', { ...base, eventId: 42 }, ['eventId']],
    ['unparsable occurredAt', { ...base, occurredAt: 'yesterday' }, ['occurredAt']],
    ['impossible occurredAt', { ...base, occurredAt: '2026-13-45T00:00:00Z' }, ['occurredAt']],
    ['invalid Date occurredAt', { ...base, occurredAt: new Date(Number.NaN) }, ['occurredAt']],
    ['occurredAt as a number', { ...base, occurredAt: NOW }, ['occurredAt']],
    ['missing tenantId', { ...base, tenantId: undefined }, ['tenantId']],
    ['blank tenantId', { ...base, tenantId: '  ' }, ['tenantId']],
    ['missing actor', { ...base, actor: undefined }, ['actor']],
    ['bad actor type', { ...base, actor: { id: 'x', type: 'robot' } }, ['actor.type']],
    ['empty actor id', { ...base, actor: { id: '', type: 'staff' } }, ['actor.id']],
    ['bad subject type', { ...base, subject: { id: 'c', type: 'alien' } }, ['subject.type']],
    ['empty subject id', { ...base, subject: { id: ' ', type: 'user' } }, ['subject.id']],
    ['no categories', { ...base, categories: [] }, ['categories']],
    ['categories not an array', { ...base, categories: 'personal.contact' }, ['categories']],
    ['empty category', { ...base, categories: ['ok', ''] }, ['categories.1']],
    ['fields not strings', { ...base, fields: ['email', 3] }, ['fields.1']],
    ['bad action', { ...base, action: 'peek' }, ['action']],
    ['missing purpose', { ...base, purpose: undefined }, ['purpose']],
    ['share without recipient', { ...base, action: 'share' }, ['recipient']],
    ['disclose without recipient', { ...base, action: 'disclose', recipient: null }, ['recipient']],
    ['bad recipient type', { ...base, action: 'share', recipient: { id: 'x', type: 'friend' } }, ['recipient.type']],
    ['legalBasis not a string', { ...base, legalBasis: 5 }, ['legalBasis']],
    ['bad dataCollectedAt', { ...base, dataCollectedAt: 'soon' }, ['dataCollectedAt']],
    ['recordCount 0', { ...base, recordCount: 0 }, ['recordCount']],
    ['recordCount fraction', { ...base, recordCount: 1.5 }, ['recordCount']],
    ['recordCount too large for Avro int', { ...base, recordCount: 2 ** 31 }, ['recordCount']],
    ['recordCount null', { ...base, recordCount: null }, ['recordCount']],
    ['source not an object', { ...base, source: 'crm' }, ['source']],
    ['blank source.service', { ...base, source: { service: ' ' } }, ['source.service']],
    ['source.ip not a string', { ...base, source: { ip: 127 } }, ['source.ip']],
    ['attributes not strings', { ...base, attributes: { a: 1 } }, ['attributes.a']],
    ['attributes an array', { ...base, attributes: ['a'] }, ['attributes']],
    ['several at once', { ...base, actor: { id: '', type: 'robot' }, categories: [] }, ['actor.id', 'actor.type', 'categories']],
  ];
  it.each(cases)('%s', (_name, input, paths) => {
    let err: unknown;
    try {
      toAccessEventAvro(input, 'svc', NOW, gen);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ValidationError);
    const v = err as ValidationError;
    for (const p of paths) {
      expect(v.errors.map((e) => e.path)).toContain(p);
      if (p) expect(v.message).toContain(`${p}:`);
    }
  });
  it('never throws anything but a ValidationError, whatever the input', () => {
    fc.assert(
      fc.property(fc.oneof(mutated, fc.anything({ withNullPrototype: true, withBoxedValues: true })), (x) => {
        try {
          toAccessEventAvro(x, 'svc', NOW, gen);
        } catch (e) {
          expect(e).toBeInstanceOf(ValidationError);
        }
      }),
      { numRuns: 3000 },
    );
  });
});

describe('subject-state changes', () => {
  const sbase = { tenantId: 'spera', subjectId: 'cust-1', change: 'promotional_opt_out' };
  const validishState = fc.record(
    {
      eventId: opt(fc.oneof(fc.uuid(), fc.constant('nope'))),
      occurredAt: opt(isoTimes),
      tenantId: fc.oneof(nonEmptyId, idString),
      subjectId: fc.oneof(nonEmptyId, idString),
      change: fc.constantFrom(
        'promotional_opt_out',
        'promotional_opt_in',
        'erasure_completed',
        'legal_hold_placed',
        'legal_hold_released',
        'forget_me',
      ),
      reference: opt(fc.oneof(fc.string(), fc.integer())),
    },
    { requiredKeys: ['tenantId', 'subjectId', 'change'] },
  );
  it('fast path and zod agree, with the same Avro bytes', () => {
    fc.assert(
      fc.property(fc.oneof(validishState, fc.anything()), (x) => {
        const fast = fastSubjectState(x, NOW, gen);
        let slow: ReturnType<typeof parseSubjectStateChange>;
        try {
          slow = parseSubjectStateChange(fillSubjectState(x, NOW, gen));
        } catch {
          expect(fast).toBeUndefined();
          return;
        }
        expect(fast !== undefined).toBe(slow.ok);
        if (fast !== undefined && slow.ok) {
          expect(stateType.toBuffer(fast).equals(stateType.toBuffer(toAvro(subjectStateChangeAvro, slow.value)))).toBe(true);
        }
      }),
      { numRuns: 3000 },
    );
  });
  it.each([
    ['bad change', { ...sbase, change: 'forget_me' }, 'change'],
    ['blank subjectId', { ...sbase, subjectId: ' ' }, 'subjectId'],
    ['missing tenantId', { ...sbase, tenantId: undefined }, 'tenantId'],
    ['reference not a string', { ...sbase, reference: 7 }, 'reference'],
    ['bad occurredAt', { ...sbase, occurredAt: 'later' }, 'occurredAt'],
    ['bad eventId', { ...sbase, eventId: 'x' }, 'eventId'],
  ])('rejects %s naming the field', (_n, input, path) => {
    expect(() => toSubjectStateAvro(input, NOW, gen)).toThrow(ValidationError);
    try {
      toSubjectStateAvro(input, NOW, gen);
    } catch (e) {
      expect((e as ValidationError).errors.map((x) => x.path)).toContain(path);
    }
  });
  it('keys are unambiguous for any ids', () => {
    expect(subjectStateKey('a/b', 'c', 'erasure_completed')).not.toBe(subjectStateKey('a', 'b/c', 'erasure_completed'));
    expect(JSON.parse(subjectStateKey('spera', 'cust-1', 'promotional_opt_in'))).toEqual(['spera', 'cust-1', 'promotional']);
    // An erasure and a later legal hold must not share a key, or compaction would drop the erasure.
    expect(subjectStateKey('spera', 'cust-1', 'erasure_completed')).not.toBe(
      subjectStateKey('spera', 'cust-1', 'legal_hold_placed'),
    );
    expect(subjectStateKey('spera', 'cust-1', 'legal_hold_placed')).toBe(
      subjectStateKey('spera', 'cust-1', 'legal_hold_released'),
    );
  });
});
