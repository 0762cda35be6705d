import { canonicalJson } from '@custos/schemas';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { contentHash, reportFileSha256, reportJson, sha256Hex, withContentHash } from './report/render.js';

describe('a report is serialized once', () => {
  it('its content hash is the SHA-256 of its canonical JSON without the hash, and its file is its canonical JSON', () => {
    const key = fc.string({ minLength: 1, maxLength: 20 });
    const value = fc.jsonValue({ maxDepth: 3 });
    fc.assert(
      fc.property(fc.dictionary(key, fc.oneof(value, fc.constant(undefined)), { maxKeys: 12 }), (members) => {
        const input = { ...members };
        delete (input as Record<string, unknown>).contentSha256;
        const report = withContentHash<Record<string, unknown>>(input);
        expect(report.contentSha256).toBe(contentHash(report));
        expect(reportJson(report).toString()).toBe(`${canonicalJson(report)}\n`);
        const body = reportJson(report);
        expect(reportFileSha256(report, body)).toBe(sha256Hex(body));
        const { contentSha256: _h, ...rest } = report;
        expect(report.contentSha256).toBe(sha256Hex(canonicalJson(rest)));
        // a copy (as a worker thread sends it back) is serialized the same way, without the kept form
        expect(reportJson(structuredClone(report)).toString()).toBe(`${canonicalJson(report)}\n`);
      }),
      { numRuns: 500 },
    );
  });

  it('puts contentSha256 in its sorted place, first or last too', () => {
    for (const keys of [['a', 'z'], ['a'], ['zz'], []]) {
      const report = withContentHash<Record<string, unknown>>(Object.fromEntries(keys.map((k) => [k, 1])));
      const parsed = JSON.parse(reportJson(report).toString()) as Record<string, unknown>;
      expect(reportFileSha256(report, reportJson(report))).toBe(sha256Hex(reportJson(report)));
      expect(Object.keys(parsed)).toEqual([...keys, 'contentSha256'].sort());
    }
  });

  it('is the same text when the members are built with their keys in sorted order (written by JSON.stringify)', () => {
    // JSON.parse of canonical JSON gives objects whose keys are in sorted order, except integer-like
    // keys, which the engine puts first in numeric order ("10" after "9"): those must still come out sorted
    const key = fc.oneof(fc.string({ minLength: 1, maxLength: 6 }), fc.nat(20).map(String));
    const value = fc.jsonValue({ maxDepth: 4 });
    fc.assert(
      fc.property(fc.dictionary(key, value, { maxKeys: 8 }), (members) => {
        const input = JSON.parse(canonicalJson(members)) as Record<string, unknown>;
        delete input.contentSha256;
        const report = withContentHash<Record<string, unknown>>(input);
        expect(reportJson(report).toString()).toBe(`${canonicalJson(report)}\n`);
        expect(report.contentSha256).toBe(contentHash(report));
      }),
      { numRuns: 500 },
    );
    // values JSON.stringify would write differently are written by canonicalJson
    const odd = { a: { '9': 1, '10': 2 }, b: new Date(0), c: [undefined, 1], d: { y: 1, x: undefined } };
    expect(reportJson(withContentHash<Record<string, unknown>>(odd)).toString()).toBe(
      `${canonicalJson(withContentHash<Record<string, unknown>>(odd))}\n`,
    );
    expect(() => withContentHash({ a: [Number.NaN] })).toThrow(/no form/);
  });
});
