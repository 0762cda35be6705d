/**
 * Fuzzing the policy-bundle loader: arbitrary text, arbitrary JSON, YAML, and the reference bundle
 * with random mutations. The loader answers every input with a bundle or with issues (loadBundle: a
 * BundleError), never anything else, and promptly; a bundle it accepts compiles and judges events
 * without throwing.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAccessEvent } from '@custos/schemas';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { loadBundle, parseBundle, parseBundleText } from './bundle.js';
import { BundleError } from './errors.js';
import { compileBundle } from './evaluator.js';
import { SubjectStateStore } from './subject-state.js';
import { event, referenceBundle } from './test-helpers.js';

const reference = referenceBundle();

/** parseBundleText must return (never throw), in well under a second, with issues when not ok. */
function checkText(text: string): ReturnType<typeof parseBundleText> {
  const t0 = performance.now();
  const r = parseBundleText(text);
  expect(performance.now() - t0).toBeLessThan(2000);
  if (!r.ok) {
    expect(r.issues.length).toBeGreaterThan(0);
    for (const i of r.issues) expect(typeof i.message).toBe('string');
  } else judgeSome(r.value.bundle);
  return r;
}

const probes = [
  event({}),
  event({ actor: { id: 's-vikram', type: 'staff' }, action: 'export', purpose: 'marketing', recordCount: 5000 }),
  event({ actor: { id: 'p-helpdeskly', type: 'processor' }, tenantId: 'client-acme' }),
  event({ action: 'disclose', recipient: { id: 'x', type: 'authority' }, legalBasis: 'court order' }),
];

/** An accepted bundle compiles and judges without throwing. */
function judgeSome(bundle: Parameters<typeof compileBundle>[0]): void {
  const evaluator = compileBundle(bundle);
  const bulk = evaluator.createBulkWindow();
  const subjectState = new SubjectStateStore();
  for (const e of probes) evaluator.evaluate(e, { subjectState, bulk });
}

type Json = unknown;
/** The reference bundle with `n` random edits: a value replaced, a key removed, an element doubled or dropped. */
const mutated = fc
  .array(fc.tuple(fc.nat(), fc.nat(), fc.constantFrom('replace', 'delete', 'double', 'drop', 'rename'), fc.jsonValue()), {
    minLength: 1,
    maxLength: 4,
  })
  .map((edits) => {
    const b = structuredClone(reference) as Json;
    for (const [pathSeed, keySeed, op, value] of edits) {
      // walk down a random path
      let parent: Record<string, Json> | Json[] | undefined;
      let key: string | number | undefined;
      let node: Json = b;
      for (let depth = 0, s = pathSeed; depth < 6 && node !== null && typeof node === 'object'; depth++, s = Math.floor(s / 7)) {
        const keys = Array.isArray(node) ? node.map((_, i) => i) : Object.keys(node);
        if (keys.length === 0 || (depth > 0 && s % 3 === 0)) break;
        parent = node as Record<string, Json> | Json[];
        key = keys[(s + keySeed) % keys.length]!;
        node = (parent as Record<string | number, Json>)[key];
      }
      if (parent === undefined || key === undefined) continue;
      const p = parent as Record<string | number, Json>;
      if (op === 'replace') p[key] = value;
      else if (op === 'delete') {
        if (Array.isArray(parent)) parent.splice(key as number, 1);
        else delete p[key];
      } else if (op === 'double' && Array.isArray(parent)) parent.push(structuredClone(parent[key as number]));
      else if (op === 'drop' && Array.isArray(node)) node.length = 0;
      else if (op === 'rename' && !Array.isArray(parent)) {
        p[`${String(key)}_`] = p[key];
        delete p[key];
      }
    }
    return b;
  });

describe('the policy-bundle loader under fuzzing', () => {
  it('arbitrary text, JSON or YAML: a bundle or issues, never a throw', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ maxLength: 400 }),
          fc.string({ maxLength: 200, unit: 'binary' }),
          fc.json({ maxDepth: 4 }),
          fc.jsonValue({ maxDepth: 3 }).map((v) => stringify(v)),
          fc.constantFrom(
            '',
            '\ufeff',
            '{',
            'a: &a [*a]',
            // an alias bomb: bounded by the YAML library's alias limit
            'a: &a ["x","x","x","x","x","x","x","x","x"]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: [*d,*d,*d,*d,*d,*d,*d,*d,*d]',
            '!!js/function "function(){}"',
            'version: !!binary AAAA',
            '__proto__: {polluted: true}',
            '{"__proto__": {"polluted": true}}',
            `${'['.repeat(5000)}${']'.repeat(5000)}`,
            `${'- '.repeat(3000)}x`,
          ),
        ),
        (text) => {
          checkText(text);
        },
      ),
      { numRuns: 300 },
    );
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('the reference bundle with random edits, as JSON and as YAML: a bundle that judges, or issues', () => {
    let accepted = 0;
    fc.assert(
      fc.property(mutated, (b) => {
        const r = parseBundle(b);
        if (r.ok) {
          accepted++;
          judgeSome(r.value.bundle);
        } else expect(r.issues.length).toBeGreaterThan(0);
        const json = checkText(JSON.stringify(b));
        const yaml = checkText(stringify(b));
        expect(json.ok).toBe(r.ok);
        expect(yaml.ok).toBe(r.ok);
      }),
      { numRuns: 150 },
    );
    // the edits reach past the schema sometimes (replacing a value by one of the same kind)
    expect(accepted).toBeGreaterThan(0);
  });

  it('loadBundle throws only BundleError', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'custos-bundle-fuzz-'));
    let n = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.string({ maxLength: 200 }),
          mutated.map((b) => JSON.stringify(b)),
        ),
        async (text) => {
          const path = join(dir, `b${n++}.json`);
          await writeFile(path, text);
          try {
            await loadBundle(path);
          } catch (err) {
            expect(err).toBeInstanceOf(BundleError);
          }
        },
      ),
      { numRuns: 60 },
    );
    await expect(loadBundle(join(dir, 'missing.json'))).rejects.toBeInstanceOf(BundleError);
  });

  it('the probes are valid events', () => {
    for (const p of probes) expect(parseAccessEvent(p).ok).toBe(true);
  });
});
