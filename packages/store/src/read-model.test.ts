import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MIGRATIONS_DIR } from './migrations.js';
import { READ_MODEL_PACKED_COLUMNS, READ_MODEL_TABLE } from './read-model.js';

describe('the subject read model', () => {
  for (const dir of ['', 'cluster']) {
    const sql = readFileSync(join(MIGRATIONS_DIR, dir, '0005_slim_subject_accesses.sql'), 'utf8');
    it(`packs the columns in the order migration 0005 writes (${dir || 'single node'})`, () => {
      const packs = [...sql.matchAll(/formatRowNoNewline\('JSONCompactEachRow',([^)]*)\)/g)].map((m) =>
        (m[1] as string).split(',').map((c) => c.trim()),
      );
      expect(packs).toHaveLength(2); // the view and the backfill
      for (const p of packs) expect(p).toEqual([...READ_MODEL_PACKED_COLUMNS]);
      expect(sql).toContain(`CREATE TABLE IF NOT EXISTS {db}.${READ_MODEL_TABLE}`);
    });
  }
});
