import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalJson } from './canonical-json.js';

describe('canonicalJson (RFC 8785)', () => {
  it('matches the RFC 8785 example (section 3.2.2)', () => {
    const input = JSON.parse(
      '{"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001], "string": "\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/", "literals": [null, true, false]}',
    );
    expect(canonicalJson(input)).toBe(
      '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}',
    );
  });

  it('sorts keys by UTF-16 code units (RFC 8785 section 3.2.3)', () => {
    const input = {
      '€': 'Euro Sign',
      '\r': 'Carriage Return',
      דּ: 'Hebrew Letter Dalet With Dagesh',
      '1': 'One',
      '😀': 'Emoji: Grinning Face',
      '\u0080': 'Control',
      ö: 'Latin Small Letter O With Diaeresis',
    };
    expect(Object.keys(JSON.parse(canonicalJson(input)))).toEqual(['1', '\r', '\u0080', 'ö', '€', '😀', 'דּ']);
    expect(canonicalJson(input).indexOf('"\\r"')).toBeLessThan(canonicalJson(input).indexOf('"1"'));
  });

  it('leaves out undefined properties, writes undefined elements as null, refuses non-finite numbers', () => {
    expect(canonicalJson({ b: [{ d: 1, c: 2 }], a: 'x', z: undefined })).toBe('{"a":"x","b":[{"c":2,"d":1}]}');
    expect(canonicalJson([1, undefined])).toBe('[1,null]');
    expect(() => canonicalJson({ n: Number.NaN })).toThrow(/no form/);
  });

  it('gives the bytes that stored checkpoint signatures were made over', () => {
    // A v2 checkpoint's fields: the payload text (and so its signature) must never change.
    const fields = {
      v: 2,
      kind: 'custos.decisions.checkpoint',
      tenant: 't-1',
      partition: 3,
      firstSeq: 1,
      lastSeq: 10,
      headHash: 'ab'.repeat(32),
      merkleRoot: 'cd'.repeat(32),
      prevCheckpoint: 'ef'.repeat(32),
      records: 10,
      createdAt: '2026-10-01T01:00:00.000Z',
      keyId: '0123456789abcdef',
    };
    const text = canonicalJson(fields);
    expect(text).toBe(
      `{"createdAt":"2026-10-01T01:00:00.000Z","firstSeq":1,"headHash":"${'ab'.repeat(32)}","keyId":"0123456789abcdef","kind":"custos.decisions.checkpoint","lastSeq":10,"merkleRoot":"${'cd'.repeat(32)}","partition":3,"prevCheckpoint":"${'ef'.repeat(32)}","records":10,"tenant":"t-1","v":2}`,
    );
    expect(createHash('sha256').update(text).digest('hex')).toBe(
      createHash('sha256')
        .update(JSON.stringify(JSON.parse(text)))
        .digest('hex'),
    );
  });
});

/** The definition, written plainly: what the loops in canonicalJson must give byte for byte. */
function reference(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    if (typeof value === 'number' && !Number.isFinite(value)) throw new TypeError(`canonical JSON has no form for ${value}`);
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? 'null' : reference(v))).join(',')}]`;
  const o = value as Record<string, unknown>;
  return `{${Object.keys(o)
    .filter((k) => o[k] !== undefined)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${reference(o[k])}`)
    .join(',')}}`;
}

describe('canonicalJson against its plain definition', () => {
  it('gives the same bytes for random values (any strings, keys in any order, undefined members)', () => {
    const str = fc.oneof(fc.string({ unit: 'grapheme' }), fc.string({ unit: 'binary' }), fc.string());
    const { value } = fc.letrec((tie) => ({
      value: fc.oneof(
        { depthSize: 'small' },
        str,
        fc.double({ noNaN: true, noDefaultInfinity: true }),
        fc.integer(),
        fc.boolean(),
        fc.constant(null),
        fc.constant(undefined),
        fc.array(tie('value')),
        fc.dictionary(str, tie('value')),
      ),
    }));
    fc.assert(
      fc.property(value, (v) => {
        expect(canonicalJson(v)).toBe(reference(v));
      }),
      { numRuns: 2000 },
    );
  });
});
