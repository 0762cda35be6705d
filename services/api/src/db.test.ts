import { describe, expect, it } from 'vitest';
import { ACCESS_FIELDS, accessRowsFromPacked } from './db.js';

describe('the packed subject read model', () => {
  it('reads no access field twice', () => {
    expect(new Set(ACCESS_FIELDS).size).toBe(ACCESS_FIELDS.length);
  });

  it('maps a line to its fields, strings with tabs, quotes and newlines intact', () => {
    const line = JSON.stringify(ACCESS_FIELDS.map((f, i) => (f === 'legal_basis' ? 'a\t"b"\nc' : i)));
    const [row] = accessRowsFromPacked(`${line}\n${line}\n`);
    expect(row?.legal_basis).toBe('a\t"b"\nc');
    expect(row?.event_id).toBe(0);
    expect(accessRowsFromPacked('')).toEqual([]);
  });
});
