/** Lookup tables built once per bundle so that judging an event is a handful of Map/Set probes. */
import { type Action, ALL, type PolicyBundle } from './bundle-schema.js';
import { dayEndExclusive, dayStart } from './dates.js';

export interface CGrant {
  id: string;
  role: string;
  /** `"*"` in categories */
  all: boolean;
  categories: readonly string[];
  purposes: ReadonlySet<string>;
  purposeList: readonly string[];
}

export interface ActionIndex {
  /** grants with this action and `"*"` */
  wildcard: CGrant[];
  byCategory: Map<string, CGrant[]>;
}

export interface CRole {
  name: string;
  byAction: Map<string, ActionIndex>;
}

export interface CAssignment {
  role: CRole;
  from: number;
  /** first instant after `to` (Infinity when open-ended) */
  toExcl: number;
  fromDay: string;
  toDay: string | undefined;
}

export interface CStaff {
  id: string;
  name: string;
  allTenants: boolean;
  tenants: ReadonlySet<string>;
  tenantList: readonly string[];
  assignments: readonly CAssignment[];
}

export interface CAgreement {
  id: string;
  all: boolean;
  categories: ReadonlySet<string>;
  categoryList: readonly string[];
  purposes: ReadonlySet<string>;
  purposeList: readonly string[];
  from: number;
  toExcl: number;
  fromDay: string;
  toDay: string | undefined;
}

export interface CParty {
  id: string;
  name: string;
  type: 'processor' | 'third_party' | 'authority';
  agreements: readonly CAgreement[];
}

export interface Compiled {
  categories: ReadonlySet<string>;
  purposes: ReadonlyMap<string, string>;
  prohibited: ReadonlySet<string>;
  staff: ReadonlyMap<string, CStaff>;
  parties: ReadonlyMap<string, CParty>;
  /** days × 86 400 000 per category */
  retentionMs: ReadonlyMap<string, number>;
  retentionDays: ReadonlyMap<string, number>;
  recordsPerEvent: number;
  distinctSubjects: number;
  windowMs: number;
}

/** Assumes a bundle that passed parseBundle (cross-references resolved). */
export function compile(b: PolicyBundle): Compiled {
  const roles = new Map<string, CRole>();
  for (const [name, grants] of Object.entries(b.roles)) {
    const byAction = new Map<string, ActionIndex>();
    for (const g of grants) {
      const cg: CGrant = {
        id: g.id,
        role: name,
        all: g.categories.includes(ALL),
        categories: g.categories,
        purposes: new Set(g.purposes),
        purposeList: g.purposes,
      };
      for (const action of new Set<Action>(g.actions)) {
        let idx = byAction.get(action);
        if (idx === undefined) {
          idx = { wildcard: [], byCategory: new Map() };
          byAction.set(action, idx);
        }
        if (cg.all) idx.wildcard.push(cg);
        else {
          for (const c of new Set(g.categories)) {
            const list = idx.byCategory.get(c);
            if (list === undefined) idx.byCategory.set(c, [cg]);
            else list.push(cg);
          }
        }
      }
    }
    roles.set(name, { name, byAction });
  }

  const staff = new Map<string, CStaff>();
  for (const s of b.staff) {
    const assignments: CAssignment[] = [];
    for (const r of s.roles) {
      const role = roles.get(r.role);
      if (role === undefined) continue;
      assignments.push({
        role,
        from: dayStart(r.from),
        toExcl: r.to === undefined ? Number.POSITIVE_INFINITY : dayEndExclusive(r.to),
        fromDay: r.from,
        toDay: r.to,
      });
    }
    staff.set(s.id, {
      id: s.id,
      name: s.name,
      allTenants: s.tenants.includes(ALL),
      tenants: new Set(s.tenants),
      tenantList: s.tenants,
      assignments,
    });
  }

  const agreementsByParty = new Map<string, CAgreement[]>();
  for (const a of b.agreements) {
    const ca: CAgreement = {
      id: a.id,
      all: a.categories.includes(ALL),
      categories: new Set(a.categories),
      categoryList: a.categories,
      purposes: new Set(a.purposes),
      purposeList: a.purposes,
      from: dayStart(a.from),
      toExcl: a.to === undefined ? Number.POSITIVE_INFINITY : dayEndExclusive(a.to),
      fromDay: a.from,
      toDay: a.to,
    };
    const list = agreementsByParty.get(a.party);
    if (list === undefined) agreementsByParty.set(a.party, [ca]);
    else list.push(ca);
  }
  const parties = new Map<string, CParty>();
  for (const p of b.parties) parties.set(p.id, { ...p, agreements: agreementsByParty.get(p.id) ?? [] });

  const retentionDays = new Map(Object.entries(b.retentionDays));
  return {
    categories: new Set(Object.keys(b.categories)),
    purposes: new Map(Object.entries(b.purposes)),
    prohibited: new Set(b.prohibitedPurposes),
    staff,
    parties,
    retentionDays,
    retentionMs: new Map([...retentionDays].map(([c, d]) => [c, d * 86_400_000])),
    recordsPerEvent: b.bulkAccess.recordsPerEvent,
    distinctSubjects: b.bulkAccess.distinctSubjects,
    windowMs: b.bulkAccess.windowSeconds * 1000,
  };
}

export function holds(a: CAssignment, t: number): boolean {
  return a.from <= t && t < a.toExcl;
}

export function inForce(a: CAgreement, t: number): boolean {
  return a.from <= t && t < a.toExcl;
}

/** Does the agreement list every category and the purpose? */
export function agreementCovers(a: CAgreement, categories: readonly string[], purpose: string): boolean {
  if (!a.purposes.has(purpose)) return false;
  if (a.all) return true;
  for (let i = 0; i < categories.length; i++) if (!a.categories.has(categories[i]!)) return false;
  return true;
}
