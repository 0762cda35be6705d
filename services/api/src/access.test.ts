/** The data matrix (ROLE_DATA) follows the view matrix (routes.ts): no role reaches a view's rows it may not open. */
import { describe, expect, it } from 'vitest';
import { ROLE_DATA, ROW_KINDS, rowKind, rowKindsSql, VIEW_ROWS, VIEW_SELECTION } from './access.js';
import { ROLES } from './roles.js';
import { ROUTES } from './routes.js';

describe('ROLE_DATA against the routes', () => {
  for (const r of ROUTES) {
    const rows = VIEW_ROWS[r.id];
    const selection = VIEW_SELECTION[r.id];
    for (const role of ROLES) {
      const opens = r.roles.includes(role);
      if (rows) {
        it(`${role} ${opens ? 'sees' : 'never sees'} the rows of ${r.id}`, () => {
          for (const k of rows) expect(ROLE_DATA[role].rows.includes(k)).toBe(opens);
        });
      }
      if (selection) {
        it(`${role} ${opens ? 'may' : 'may not'} select ${selection} (${r.id})`, () => {
          expect(ROLE_DATA[role].select.includes(selection)).toBe(opens);
        });
      }
    }
  }
});

describe('row kinds', () => {
  const authorities = ['a-police'];
  it('each row is of exactly one kind, the bundle deciding what an authority is', () => {
    expect(rowKind({ action: 'read', recipient_id: '', actor_type: 'staff' }, authorities)).toBe('access');
    expect(rowKind({ action: 'export', recipient_id: '', actor_type: 'staff' }, authorities)).toBe('access');
    expect(rowKind({ action: 'read', recipient_id: '', actor_type: 'processor' }, authorities)).toBe('sharing');
    expect(rowKind({ action: 'share', recipient_id: 'p-x', actor_type: 'staff' }, authorities)).toBe('sharing');
    expect(rowKind({ action: 'share', recipient_id: 'a-police', actor_type: 'staff' }, authorities)).toBe('disclosure');
    expect(rowKind({ action: 'disclose', recipient_id: 't-x', actor_type: 'staff' }, authorities)).toBe('disclosure');
  });
  it('every kind allowed: no condition; none: nothing', () => {
    expect(rowKindsSql(new Set(ROW_KINDS), authorities)).toBeUndefined();
    expect(rowKindsSql(new Set(), authorities)?.sql).toBe('0');
    expect(rowKindsSql(new Set(['access']), authorities)?.params).toEqual({ rkAuthorities: authorities });
  });
});
