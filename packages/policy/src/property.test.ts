/** Random events over the reference bundle: the compiled evaluator never throws, is self-consistent, and agrees with the naive one. */
import { type AccessEvent, parseAccessEvent, type SubjectStateChange } from '@custos/schemas';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { PolicyBundle } from './bundle-schema.js';
import { dayEndExclusive, dayStart } from './dates.js';
import { compileBundle } from './evaluator.js';
import { NaiveBulkCounter, NaiveSubjectState, naiveEvaluate } from './naive.js';
import { outcomeOf, RULE_CODES } from './rules.js';
import { SubjectStateStore } from './subject-state.js';
import { referenceBundle } from './test-helpers.js';

const bundle = referenceBundle();
// Small thresholds so that BULK_ACCESS fires often in short random sequences.
const smallBulk: PolicyBundle = { ...bundle, bulkAccess: { recordsPerEvent: 500, distinctSubjects: 3, windowSeconds: 600 } };

const T0 = Date.parse('2026-03-02T10:00:00Z');
const boundaries = [
  ...bundle.staff.flatMap((s) => s.roles.flatMap((r) => [dayStart(r.from), ...(r.to ? [dayEndExclusive(r.to)] : [])])),
  ...bundle.agreements.flatMap((a) => [dayStart(a.from), ...(a.to ? [dayEndExclusive(a.to)] : [])]),
  T0,
];
const instant = fc.oneof(
  fc.tuple(fc.constantFrom(...boundaries), fc.constantFrom(-1, 0, 1)).map(([t, d]) => t + d),
  fc.integer({ min: 0, max: 1_500_000 }).map((d) => T0 + d),
  fc.integer({ min: Date.parse('2022-01-01T00:00:00Z'), max: Date.parse('2028-01-01T00:00:00Z') }),
);
const iso = instant.map((t) => new Date(t).toISOString());

const actors = [
  ...bundle.staff.map((s) => ({ id: s.id, type: 'staff' })),
  ...bundle.parties.map((p) => ({ id: p.id, type: 'processor' })),
  { id: 's-ghost', type: 'staff' },
  { id: 's-asha', type: 'processor' },
];
const PARTY_TYPES = ['processor', 'third_party', 'authority'] as const;
// Every party under every claimed type: the bundle's own, and the ones that contradict it.
const recipients = [
  ...bundle.parties.flatMap((p) => PARTY_TYPES.map((type) => ({ id: p.id, type }))),
  { id: 'p-nobody', type: 'third_party' },
];
const categories = [...Object.keys(bundle.categories), 'personal.shoe_size'];
const purposes = [...Object.keys(bundle.purposes), 'fun'];
const subjects = ['c1', 'c2', 'c3', 'c4', 'c5', 'c6'];
const tenants = ['spera', 'client-acme', 'client-globex', 'client-x'];

const rawEvent = fc.record(
  {
    occurredAt: iso,
    tenantId: fc.constantFrom(...tenants),
    actor: fc.constantFrom(...actors),
    subject: fc.constantFrom(...subjects).map((id) => ({ id, type: 'customer' })),
    categories: fc.array(fc.constantFrom(...categories), { minLength: 1, maxLength: 3 }),
    action: fc.constantFrom('read', 'create', 'update', 'delete', 'export', 'share', 'disclose'),
    purpose: fc.constantFrom(...purposes),
    recipient: fc.constantFrom(...recipients),
    legalBasis: fc.constantFrom('court-order:KOL-1', '', '  '),
    dataCollectedAt: iso,
    recordCount: fc.oneof(fc.constant(1), fc.constantFrom(500, 501), fc.integer({ min: 1, max: 1000 })),
    source: fc.constant({ service: 'prop' }),
  },
  { requiredKeys: ['occurredAt', 'tenantId', 'actor', 'subject', 'categories', 'action', 'purpose', 'source'] },
);

const pick = <T>(xs: readonly T[], i: number): T => xs[i % xs.length]!;
const optionalIso = fc.option(iso, { nil: undefined });
const recordCount = fc.oneof(
  { arbitrary: fc.constant(1), weight: 4 },
  fc.constantFrom(500, 501),
  fc.integer({ min: 1, max: 1000 }),
);

// Mostly-lawful events: a staff member using a grant of one of their roles, sometimes slightly off.
const plausibleStaffEvent = fc
  .record({
    s: fc.nat(),
    r: fc.nat(),
    g: fc.nat(),
    a: fc.nat(),
    p: fc.nat(),
    cats: fc.array(fc.nat(), { minLength: 1, maxLength: 2 }),
    tenant: fc.nat(),
    recipient: fc.nat(),
    occurredAt: iso,
    legalBasis: fc.constantFrom('court-order:KOL-1', 'court-order:KOL-2', ''),
    dataCollectedAt: optionalIso,
    recordCount,
    subject: fc.constantFrom(...subjects),
  })
  .map((x) => {
    const staff = pick(
      bundle.staff.filter((s) => s.roles.length > 0),
      x.s,
    );
    const grant = pick(bundle.roles[pick(staff.roles, x.r).role] ?? [], x.g);
    const action = pick(grant.actions, x.a);
    const all = Object.keys(bundle.categories);
    const cats = x.cats.map((i) => pick(grant.categories.includes('*') ? all : grant.categories, i));
    const withAgreements = bundle.parties.filter((p) => bundle.agreements.some((a) => a.party === p.id));
    const recipient =
      action === 'disclose'
        ? pick(
            bundle.parties.filter((p) => p.type === 'authority' || x.recipient % 5 === 0),
            x.recipient,
          )
        : pick(x.recipient % 4 === 0 ? bundle.parties : withAgreements, x.recipient);
    return {
      occurredAt: x.occurredAt,
      tenantId: staff.tenants.includes('*') ? pick(tenants, x.tenant) : pick(staff.tenants, x.tenant),
      actor: { id: staff.id, type: 'staff' },
      subject: { id: x.subject, type: 'customer' },
      categories: cats,
      action,
      purpose: pick(grant.purposes, x.p),
      ...(action === 'share' || action === 'disclose' || (action === 'export' && x.recipient % 2 === 0)
        ? { recipient: { id: recipient.id, type: x.recipient % 7 === 0 ? pick(PARTY_TYPES, x.a) : recipient.type } }
        : {}),
      ...(action === 'disclose' ? { legalBasis: x.legalBasis } : {}),
      ...(x.dataCollectedAt === undefined ? {} : { dataCollectedAt: x.dataCollectedAt }),
      recordCount: x.recordCount,
      source: { service: 'prop' },
    };
  });

// A processor working under one of its agreements (or just outside it).
const plausibleProcessorEvent = fc
  .record({
    ag: fc.nat(),
    cats: fc.array(fc.nat(), { minLength: 1, maxLength: 2 }),
    p: fc.nat(),
    a: fc.nat(),
    occurredAt: iso,
    subject: fc.constantFrom(...subjects),
  })
  .map((x) => {
    const ag = pick(bundle.agreements, x.ag);
    return {
      occurredAt: x.occurredAt,
      tenantId: 'spera',
      actor: { id: ag.party, type: 'processor' },
      subject: { id: x.subject, type: 'customer' },
      categories: x.cats.map((i) => pick(ag.categories, i)),
      action: pick(['read', 'create', 'update', 'delete', 'read', 'export'], x.a),
      purpose: pick(ag.purposes, x.p),
      source: { service: 'prop' },
    };
  });

const anyEvent = fc.oneof(
  { arbitrary: plausibleStaffEvent, weight: 4 },
  { arbitrary: plausibleProcessorEvent, weight: 1 },
  { arbitrary: rawEvent, weight: 2 },
);

const rawChange = fc.record({
  occurredAt: iso,
  tenantId: fc.constantFrom('spera', 'client-acme'),
  subjectId: fc.constantFrom(...subjects),
  change: fc.constantFrom(
    'promotional_opt_out',
    'promotional_opt_in',
    'erasure_completed',
    'legal_hold_placed',
    'legal_hold_released',
  ),
});

function validEvents(raws: unknown[]): AccessEvent[] {
  return raws.flatMap((raw, i) => {
    const r = parseAccessEvent({ ...(raw as object), eventId: `00000000-0000-7000-8000-${String(i).padStart(12, '0')}` });
    return r.ok ? [r.value] : [];
  });
}

function changes(raws: Array<Omit<SubjectStateChange, 'eventId'>>): SubjectStateChange[] {
  return raws.map((c, i) => ({ ...c, eventId: `00000000-0000-7000-9000-${String(i).padStart(12, '0')}` }));
}

describe('random events', () => {
  it('never throw; codes are known, unique and sorted; outcome follows the codes; basis only when not denied', () => {
    const evaluator = compileBundle(bundle);
    fc.assert(
      fc.property(fc.array(anyEvent, { maxLength: 30 }), fc.array(rawChange, { maxLength: 8 }), (evs, chs) => {
        const subjectState = new SubjectStateStore();
        for (const c of changes(chs)) subjectState.apply(c);
        const bulk = evaluator.createBulkWindow();
        for (const e of validEvents(evs)) {
          const j = evaluator.evaluate(e, { subjectState, bulk });
          const codes = j.reasons.map((r) => r.code);
          expect(new Set(codes).size).toBe(codes.length);
          expect(codes).toEqual([...codes].sort());
          for (const c of codes) expect(RULE_CODES).toContain(c);
          for (const r of j.reasons) expect(r.message.length).toBeGreaterThan(10);
          expect(j.outcome).toBe(outcomeOf(codes));
          expect(j.basis.length > 0).toBe(j.outcome !== 'deny');
        }
      }),
      { numRuns: 400 },
    );
  });

  it('agree with the naive evaluator in outcome, codes and basis', () => {
    const evaluator = compileBundle(smallBulk);
    fc.assert(
      fc.property(fc.array(anyEvent, { maxLength: 40 }), fc.array(rawChange, { maxLength: 10 }), (evs, chs) => {
        const store = new SubjectStateStore();
        const naiveState = new NaiveSubjectState();
        for (const c of changes(chs)) {
          store.apply(c);
          naiveState.apply(c);
        }
        // Unbounded lateness: random times are far out of order, and the naive counter forgets nothing.
        const bulk = evaluator.createBulkWindow({ allowedLatenessSeconds: 20 * 365 * 86_400 });
        const naiveBulk = new NaiveBulkCounter(bulk.windowMs);
        for (const e of validEvents(evs)) {
          const a = evaluator.evaluate(e, { subjectState: store, bulk });
          const b = naiveEvaluate(smallBulk, e, { subjectState: naiveState, bulk: naiveBulk });
          expect({ id: e.eventId, outcome: a.outcome, codes: a.reasons.map((r) => r.code), basis: [...a.basis].sort() }).toEqual({
            id: e.eventId,
            outcome: b.outcome,
            codes: b.reasons.map((r) => r.code),
            basis: [...b.basis].sort(),
          });
        }
      }),
      { numRuns: 500 },
    );
  });
});
