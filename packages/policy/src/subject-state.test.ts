import type { SubjectStateChange } from '@custos/schemas';
import { describe, expect, it } from 'vitest';
import { SubjectStateStore } from './subject-state.js';

let n = 0;
const change = (
  subjectId: string,
  kind: SubjectStateChange['change'],
  occurredAt: string,
  reference?: string,
): SubjectStateChange => ({
  eventId: `00000000-0000-7000-9000-${String(++n).padStart(12, '0')}`,
  occurredAt,
  tenantId: 'spera',
  subjectId,
  change: kind,
  ...(reference === undefined ? {} : { reference }),
});
const at = (s: string) => Date.parse(s);

describe('SubjectStateStore', () => {
  it('answers "latest at or before t" whatever order the changes arrived in', () => {
    const s = new SubjectStateStore();
    s.apply(change('c1', 'promotional_opt_in', '2026-03-10T00:00:00.000Z'));
    s.apply(change('c1', 'promotional_opt_out', '2026-03-01T00:00:00.000Z'));
    const h = s.get('spera', 'c1');
    expect(h?.optedOut(at('2026-02-28T23:59:59.999Z'))).toBeUndefined();
    expect(h?.optedOut(at('2026-03-01T00:00:00.000Z'))?.change).toBe('promotional_opt_out');
    expect(h?.optedOut(at('2026-03-10T00:00:00.000Z'))).toBeUndefined();
  });
  it('keys subjects by tenant and id', () => {
    const s = new SubjectStateStore();
    s.apply(change('c1', 'erasure_completed', '2026-01-01T00:00:00.000Z'));
    expect(s.get('client-acme', 'c1')).toBeUndefined();
    expect(s.get('spera', 'c2')).toBeUndefined();
    expect(s.get('spera', 'c1')?.erased(at('2026-01-01T00:00:00.000Z'))?.change).toBe('erasure_completed');
    expect(s.size).toBe(1);
  });
  it('breaks same-instant ties by arrival order', () => {
    const s = new SubjectStateStore();
    s.apply(change('c1', 'legal_hold_placed', '2026-01-01T00:00:00.000Z'));
    s.apply(change('c1', 'legal_hold_released', '2026-01-01T00:00:00.000Z'));
    s.apply(change('c2', 'legal_hold_released', '2026-01-01T00:00:00.000Z'));
    s.apply(change('c2', 'legal_hold_placed', '2026-01-01T00:00:00.000Z'));
    expect(s.get('spera', 'c1')?.legalHold(at('2026-01-01T00:00:00.000Z'))).toBeUndefined();
    expect(s.get('spera', 'c2')?.legalHold(at('2026-01-01T00:00:00.000Z'))?.change).toBe('legal_hold_placed');
  });
  it('ignores a change applied twice', () => {
    const s = new SubjectStateStore();
    const out = change('c1', 'promotional_opt_out', '2026-03-01T00:00:00.000Z');
    const back = change('c1', 'promotional_opt_in', '2026-03-01T00:00:00.000Z');
    expect([s.apply(out), s.apply(back), s.apply(out)]).toEqual([true, true, false]);
    expect(s.get('spera', 'c1')?.optedOut(at('2026-03-02T00:00:00.000Z'))).toBeUndefined();
  });
  it('snapshots to JSON and restores to the same answers, tie order included', () => {
    const s = new SubjectStateStore();
    s.apply(change('c1', 'promotional_opt_in', '2026-03-01T00:00:00.000Z'));
    s.apply(change('c1', 'promotional_opt_out', '2026-03-01T00:00:00.000Z', 'ticket-1'));
    s.apply(change('c2', 'erasure_completed', '2026-02-01T00:00:00.000Z'));
    const snap = JSON.parse(JSON.stringify(s.snapshot()));
    const r = SubjectStateStore.restore(snap);
    expect(r.snapshot()).toEqual(s.snapshot());
    expect(r.get('spera', 'c1')?.optedOut(at('2026-03-01T00:00:00.000Z'))?.reference).toBe('ticket-1');
    expect(r.snapshotSubject('spera', 'c2')?.changes).toHaveLength(1);
  });
});
