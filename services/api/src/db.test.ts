import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ACCESS_FIELDS, accessRowsFromPacked, PACKED_ACCESS_FIELDS, PACKED_FIELDS } from './db.js';

const migration = (dir: string) =>
  readFileSync(
    fileURLToPath(new URL(`../../../packages/store/migrations/${dir}0005_slim_subject_accesses.sql`, import.meta.url)),
    'utf8',
  );

describe('the packed subject read model', () => {
  it('reads every access field exactly once', () => {
    expect([...PACKED_ACCESS_FIELDS].sort()).toEqual([...ACCESS_FIELDS].sort());
  });

  for (const dir of ['', 'cluster/']) {
    it(`packs in the order migration 0005 writes (${dir || 'single node'})`, () => {
      const packs = [...migration(dir).matchAll(/formatRowNoNewline\('JSONCompactEachRow',([^)]*)\)/g)].map((m) =>
        (m[1] as string).split(',').map((c) => c.trim()),
      );
      expect(packs).toHaveLength(2); // the view and the backfill
      for (const p of packs) expect(p).toEqual([...PACKED_FIELDS]);
    });
  }

  it('maps a line to its fields, strings with tabs, quotes and newlines intact', () => {
    const line = JSON.stringify(PACKED_ACCESS_FIELDS.map((f, i) => (f === 'legal_basis' ? 'a\t"b"\nc' : i)));
    const [row] = accessRowsFromPacked(`${line}\n${line}\n`);
    expect(row?.legal_basis).toBe('a\t"b"\nc');
    expect(row?.event_id).toBe(0);
    expect(accessRowsFromPacked('')).toEqual([]);
  });
});
