/**
 * The data document of the Rego translation (bench/opa/custos.rego): the bundle reshaped for lookups
 * (maps keyed by id, sets as objects, whole-day bounds as nanoseconds), as compileBundle does for the
 * TypeScript engine, so that neither side re-reads the bundle's arrays per event; and subject state as
 * each subject's changes in arrival order.
 */

import { dayEndExclusive, dayStart, type PolicyBundle, RULE_OUTCOMES } from '../../packages/policy/src/index.js';
import type { SubjectStateChange } from '../../schemas/src/index.js';

const NS_PER_MS = 1_000_000;
/** "open-ended": past any event time, and still an int64 (OPA compares numbers exactly) */
const OPEN_END_NS = 9e18;

const set = (xs: readonly string[]) => Object.fromEntries(xs.map((x) => [x, true]));
const fromNs = (day: string) => dayStart(day) * NS_PER_MS;
const toExclNs = (day: string | undefined) => (day === undefined ? OPEN_END_NS : dayEndExclusive(day) * NS_PER_MS);

export function opaBundleData(bundle: PolicyBundle) {
  const agreements = new Map<string, unknown[]>();
  for (const a of bundle.agreements) {
    const list = agreements.get(a.party) ?? [];
    list.push({
      id: a.id,
      all_categories: a.categories.includes('*'),
      categories: set(a.categories),
      purposes: set(a.purposes),
      from_ns: fromNs(a.from),
      to_excl_ns: toExclNs(a.to),
    });
    agreements.set(a.party, list);
  }
  return {
    categories: set(Object.keys(bundle.categories)),
    purposes: set(Object.keys(bundle.purposes)),
    prohibited: set(bundle.prohibitedPurposes),
    outcomes: RULE_OUTCOMES,
    roles: Object.fromEntries(
      Object.entries(bundle.roles).map(([role, grants]) => [
        role,
        grants.map((g) => ({
          id: g.id,
          actions: set(g.actions),
          all_categories: g.categories.includes('*'),
          categories: set(g.categories),
          purposes: set(g.purposes),
        })),
      ]),
    ),
    staff: Object.fromEntries(
      bundle.staff.map((s) => [
        s.id,
        {
          all_tenants: s.tenants.includes('*'),
          tenants: set(s.tenants),
          roles: s.roles.map((r) => ({ role: r.role, from_ns: fromNs(r.from), to_excl_ns: toExclNs(r.to) })),
        },
      ]),
    ),
    parties: Object.fromEntries(
      bundle.parties.map((p) => [p.id, { id: p.id, type: p.type, agreements: agreements.get(p.id) ?? [] }]),
    ),
    retention_ns: Object.fromEntries(Object.entries(bundle.retentionDays).map(([c, d]) => [c, d * 86_400_000 * NS_PER_MS])),
    bulk: bundle.bulkAccess,
  };
}

/** data.subjects[tenantId][subjectId]: changes in arrival order, a repeated eventId of a subject ignored. */
export function opaSubjectData(changes: readonly SubjectStateChange[]) {
  const out: Record<string, Record<string, Array<{ at_ns: number; change: string }>>> = {};
  const seen = new Set<string>();
  for (const c of changes) {
    const key = JSON.stringify([c.tenantId, c.subjectId, c.eventId]);
    if (seen.has(key)) continue;
    seen.add(key);
    const tenant = out[c.tenantId] ?? {};
    out[c.tenantId] = tenant;
    const list = tenant[c.subjectId] ?? [];
    tenant[c.subjectId] = list;
    list.push({ at_ns: Date.parse(c.occurredAt) * NS_PER_MS, change: c.change });
  }
  return out;
}

/**
 * The distinct subjects of each event's actor in its bulk window (t − window, t], this event
 * included, counting every earlier event of a known staff actor in arrival order: what OPA, keeping
 * no state between evaluations, must be given. Plainly quadratic per actor; for small inputs.
 */
export function bulkCounts(
  bundle: PolicyBundle,
  events: ReadonlyArray<{ occurredAt: string; tenantId: string; actor: { id: string; type: string }; subject: { id: string } }>,
): number[] {
  const staff = new Set(bundle.staff.map((s) => s.id));
  const windowMs = bundle.bulkAccess.windowSeconds * 1000;
  const seen: Array<{ actor: string; t: number; key: string }> = [];
  return events.map((e) => {
    if (e.actor.type !== 'staff' || !staff.has(e.actor.id)) return 0;
    const t = Date.parse(e.occurredAt);
    seen.push({ actor: e.actor.id, t, key: JSON.stringify([e.tenantId, e.subject.id]) });
    return new Set(seen.filter((s) => s.actor === e.actor.id && s.t > t - windowMs && s.t <= t).map((s) => s.key)).size;
  });
}
