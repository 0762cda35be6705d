/**
 * What the API needs from the policy bundle: the staff directory (names, departments, tenants, role
 * assignments), purposes, parties and agreements. Rebuilt whenever the bundle changes (see
 * policy-follow.ts); joined in TypeScript, so ClickHouse needs no dimension table.
 */
import {
  type CodeKind,
  dayEndExclusive,
  dayStart,
  RULE_CODES as POLICY_RULE_CODES,
  type PolicyBundle,
  RULE_OUTCOMES,
  type RuleCode,
} from '@custos/policy';

export interface StaffEntry {
  id: string;
  name: string;
  department: string;
  tenants: string[];
  roles: string[];
  /** the bundle's role assignments: whole UTC days, `to` inclusive */
  assignments: { role: string; from: string; to?: string | undefined }[];
}

/** The roles a staff member holds at `t` (enforcement-rules.md: from ≤ t < end of the day `to`). */
export function rolesHeld(s: StaffEntry, t: Date): string[] {
  const ms = t.getTime();
  return s.assignments
    .filter((a) => dayStart(a.from) <= ms && (a.to === undefined || ms < dayEndExclusive(a.to)))
    .map((a) => a.role);
}

export interface PartyEntry {
  id: string;
  name: string;
  type: 'processor' | 'third_party' | 'authority';
}

export interface AgreementEntry {
  id: string;
  party: string;
  categories: string[];
  purposes: string[];
  from: string;
  to?: string | undefined;
}

export interface Directory {
  policyVersion: string;
  organisation: string;
  staff: ReadonlyMap<string, StaffEntry>;
  parties: ReadonlyMap<string, PartyEntry>;
  agreements: ReadonlyMap<string, AgreementEntry>;
  /** purpose id → description */
  purposes: ReadonlyMap<string, string>;
  prohibitedPurposes: ReadonlySet<string>;
  categories: readonly string[];
  tenants: readonly string[];
  departments: readonly string[];
  /** rule codes, for filters and reports */
  codes: readonly string[];
  department(actorId: string): string;
  actorName(actorId: string): string;
  /** staff ids of one department */
  actorsOf(department: string): string[];
}

/** rule codes, for filters and reports: the policy package's, in its order */
export const RULE_CODES = POLICY_RULE_CODES;

/** What a code does to a decision's outcome (a `note` does nothing to it). */
export const codeKind = (code: string): CodeKind => RULE_OUTCOMES[code as RuleCode] ?? 'deny';

export const FLAG_CODES: ReadonlySet<string> = new Set(RULE_CODES.filter((c) => RULE_OUTCOMES[c] === 'flag'));

/** The type of a recipient as the bundle says it; `unknown` for an id that is no party. */
export function partyType(dir: Directory, id: string): PartyEntry['type'] | 'unknown' {
  return dir.parties.get(id)?.type ?? 'unknown';
}

const partiesByType = new WeakMap<Directory, Map<PartyEntry['type'], readonly string[]>>();

/** Ids of the parties of one type in the bundle (worked out once per directory: every request asks). */
export function partiesOfType(dir: Directory, type: PartyEntry['type']): readonly string[] {
  let byType = partiesByType.get(dir);
  if (!byType) {
    byType = new Map();
    partiesByType.set(dir, byType);
  }
  let ids = byType.get(type);
  if (!ids) {
    ids = Object.freeze([...dir.parties.values()].filter((p) => p.type === type).map((p) => p.id));
    byType.set(type, ids);
  }
  return ids;
}

export function directoryFromBundle(bundle: PolicyBundle, policyVersion = bundle.version): Directory {
  const staff = new Map<string, StaffEntry>(
    bundle.staff.map((s) => [
      s.id,
      {
        id: s.id,
        name: s.name,
        department: s.department ?? 'unassigned',
        tenants: s.tenants,
        roles: s.roles.map((r) => r.role),
        assignments: s.roles.map((r) => ({ role: r.role, from: r.from, to: r.to })),
      },
    ]),
  );
  const parties = new Map<string, PartyEntry>(bundle.parties.map((p) => [p.id, { id: p.id, name: p.name, type: p.type }]));
  const agreements = new Map<string, AgreementEntry>(
    bundle.agreements.map((a) => [
      a.id,
      { id: a.id, party: a.party, categories: a.categories, purposes: a.purposes, from: a.from, to: a.to },
    ]),
  );
  return withLookups({
    policyVersion,
    organisation: bundle.organisation ?? 'the organisation',
    staff,
    parties,
    agreements,
    purposes: new Map(Object.entries(bundle.purposes)),
    prohibitedPurposes: new Set(bundle.prohibitedPurposes),
    categories: Object.keys(bundle.categories).sort(),
    tenants: [...bundle.tenants].sort(),
    departments: [...new Set([...staff.values()].map((s) => s.department))].sort(),
    codes: RULE_CODES,
  });
}

/** A directory without its lookup functions: what can be sent to another thread. */
export type DirectoryData = Omit<Directory, 'department' | 'actorName' | 'actorsOf'>;

export function directoryData(d: Directory): DirectoryData {
  const { department: _d, actorName: _n, actorsOf: _a, ...data } = d;
  return data;
}

/** A directory's data with its lookups. */
export function withLookups(data: DirectoryData): Directory {
  const { staff, parties } = data;
  const byDept = new Map<string, string[]>();
  for (const s of staff.values()) byDept.set(s.department, [...(byDept.get(s.department) ?? []), s.id]);
  return {
    ...data,
    department: (id) => staff.get(id)?.department ?? (parties.has(id) ? 'processor' : 'unknown'),
    actorName: (id) => staff.get(id)?.name ?? parties.get(id)?.name ?? id,
    actorsOf: (d) => byDept.get(d) ?? [],
  };
}
