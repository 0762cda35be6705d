import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { RULE_CODES, RULE_OUTCOMES } from './rules.js';
import { repoRoot } from './test-helpers.js';

describe('docs/rules.md', () => {
  it('describes every rule code with the outcome the engine gives it, and no other code', () => {
    const text = readFileSync(resolve(repoRoot, 'docs/rules.md'), 'utf8');
    const rows = [...text.matchAll(/^\| `([A-Z_]+)` +\| (deny|flag|note) +\|/gm)].map((m) => [m[1], m[2]]);
    expect(Object.fromEntries(rows)).toEqual(RULE_OUTCOMES);
    expect(rows.map(([code]) => code).sort()).toEqual([...RULE_CODES]);
  });
});
