import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compileBundle, parseBundle, SubjectStateStore } from '@custos/policy';
import { parseAccessEvent } from '@custos/schemas';
import { seededRng } from '@custos/store';
import { describe, expect, it } from 'vitest';
import { demoGenerator } from './demo.js';

const bundleFile = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'policies', 'example-org.json');

describe('demo traffic', () => {
  it('is valid, mostly allowed, with a few percent violations', () => {
    const raw = JSON.parse(readFileSync(bundleFile, 'utf8'));
    const parsed = parseBundle(raw);
    if (!parsed.ok) throw new Error('bundle invalid');
    const ev = compileBundle(parsed.value.bundle);
    const ctx = { subjectState: new SubjectStateStore(), bulk: ev.createBulkWindow() };
    const next = demoGenerator(raw, seededRng(7));
    const counts = { allow: 0, flag: 0, deny: 0 };
    const start = Date.parse('2026-11-28T09:00:00Z');
    const n = 20_000;
    // 300 events/s, as `custos start --demo` sends them.
    for (let i = 0; i < n; i++) {
      const e = parseAccessEvent(next(new Date(start + Math.floor((i * 1000) / 300))));
      if (!e.ok) throw new Error(JSON.stringify(e.errors));
      counts[ev.evaluate(e.value, ctx).outcome]++;
    }
    const violations = (counts.flag + counts.deny) / n;
    expect(violations).toBeGreaterThan(0.01);
    expect(violations).toBeLessThan(0.06);
  });
});
