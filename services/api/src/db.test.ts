import { describe, expect, it } from 'vitest';
import { ACCESS_FIELDS, accessRowsFromPacked, PACKED_ACCESS_FIELDS } from './db.js';

describe('the packed subject read model', () => {
  it('reads every access field exactly once', () => {
    expect([...PACKED_ACCESS_FIELDS].sort()).toEqual([...ACCESS_FIELDS].sort());
  });

  it('maps a line to its fields, strings with tabs, quotes and newlines intact', () => {
    const line = JSON.stringify(PACKED_ACCESS_FIELDS.map((f, i) => (f === 'legal_basis' ? 'a\t"b"\nc' : i)));
    const [row] = accessRowsFromPacked(`${line}\n${line}\n`);
    expect(row?.legal_basis).toBe('a\t"b"\nc');
    expect(row?.event_id).toBe(0);
    expect(accessRowsFromPacked('')).toEqual([]);
  });
});
