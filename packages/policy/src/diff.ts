/** What changed between two bundles, in the terms a reviewer of a policy change cares about. */
import type { Agreement, PolicyBundle, RoleAssignment } from './bundle-schema.js';

export interface SetChange {
  added: string[];
  removed: string[];
}

export interface ValueChange<T> {
  from: T;
  to: T;
}

export interface GrantView {
  id: string;
  role: string;
  actions: string[];
  categories: string[];
  purposes: string[];
}

export interface GrantChange {
  id: string;
  role: string;
  roleChange?: ValueChange<string>;
  actions: SetChange;
  categories: SetChange;
  purposes: SetChange;
}

export interface StaffChange {
  id: string;
  name: string;
  /** assignments as `role from[..to]` */
  roles: SetChange;
  tenants: SetChange;
}

export interface AgreementChange {
  id: string;
  party: string;
  partyChange?: ValueChange<string>;
  categories: SetChange;
  purposes: SetChange;
  from?: ValueChange<string>;
  to?: ValueChange<string | null>;
}

export interface BundleDiff {
  from: string;
  to: string;
  identical: boolean;
  categories: SetChange;
  purposes: SetChange;
  prohibitedPurposes: SetChange;
  tenants: SetChange;
  roles: SetChange;
  grants: { added: GrantView[]; removed: GrantView[]; changed: GrantChange[] };
  staff: {
    added: Array<{ id: string; name: string; roles: string[] }>;
    removed: Array<{ id: string; name: string }>;
    changed: StaffChange[];
  };
  parties: SetChange;
  agreements: { added: Agreement[]; removed: Agreement[]; changed: AgreementChange[] };
  retentionDays: Array<{ category: string; from: number | null; to: number | null }>;
  bulkAccess: Array<{ field: string; from: number; to: number }>;
}

function setChange(a: readonly string[], b: readonly string[]): SetChange {
  const sa = new Set(a);
  const sb = new Set(b);
  return { added: [...sb].filter((x) => !sa.has(x)), removed: [...sa].filter((x) => !sb.has(x)) };
}

const empty = (s: SetChange) => s.added.length === 0 && s.removed.length === 0;

function grants(b: PolicyBundle): Map<string, GrantView> {
  const out = new Map<string, GrantView>();
  for (const [role, gs] of Object.entries(b.roles)) {
    for (const g of gs) out.set(g.id, { id: g.id, role, actions: g.actions, categories: g.categories, purposes: g.purposes });
  }
  return out;
}

export function assignmentText(r: RoleAssignment): string {
  return r.to === undefined ? `${r.role} from ${r.from}` : `${r.role} ${r.from} to ${r.to}`;
}

export function diffBundles(a: PolicyBundle, b: PolicyBundle, labels?: { from: string; to: string }): BundleDiff {
  const ga = grants(a);
  const gb = grants(b);
  const grantChanges: GrantChange[] = [];
  for (const [id, x] of ga) {
    const y = gb.get(id);
    if (y === undefined) continue;
    const ch: GrantChange = {
      id,
      role: y.role,
      actions: setChange(x.actions, y.actions),
      categories: setChange(x.categories, y.categories),
      purposes: setChange(x.purposes, y.purposes),
    };
    if (x.role !== y.role) ch.roleChange = { from: x.role, to: y.role };
    if (ch.roleChange || !empty(ch.actions) || !empty(ch.categories) || !empty(ch.purposes)) grantChanges.push(ch);
  }

  const sa = new Map(a.staff.map((s) => [s.id, s]));
  const sb = new Map(b.staff.map((s) => [s.id, s]));
  const staffChanges: StaffChange[] = [];
  for (const [id, x] of sa) {
    const y = sb.get(id);
    if (y === undefined) continue;
    const ch: StaffChange = {
      id,
      name: y.name,
      roles: setChange(x.roles.map(assignmentText), y.roles.map(assignmentText)),
      tenants: setChange(x.tenants, y.tenants),
    };
    if (!empty(ch.roles) || !empty(ch.tenants)) staffChanges.push(ch);
  }

  const aa = new Map(a.agreements.map((g) => [g.id, g]));
  const ab = new Map(b.agreements.map((g) => [g.id, g]));
  const agreementChanges: AgreementChange[] = [];
  for (const [id, x] of aa) {
    const y = ab.get(id);
    if (y === undefined) continue;
    const ch: AgreementChange = {
      id,
      party: y.party,
      categories: setChange(x.categories, y.categories),
      purposes: setChange(x.purposes, y.purposes),
    };
    if (x.party !== y.party) ch.partyChange = { from: x.party, to: y.party };
    if (x.from !== y.from) ch.from = { from: x.from, to: y.from };
    if (x.to !== y.to) ch.to = { from: x.to ?? null, to: y.to ?? null };
    if (ch.partyChange || ch.from || ch.to || !empty(ch.categories) || !empty(ch.purposes)) agreementChanges.push(ch);
  }

  const retention: BundleDiff['retentionDays'] = [];
  for (const c of new Set([...Object.keys(a.retentionDays), ...Object.keys(b.retentionDays)])) {
    const x = a.retentionDays[c] ?? null;
    const y = b.retentionDays[c] ?? null;
    if (x !== y) retention.push({ category: c, from: x, to: y });
  }
  const bulk: BundleDiff['bulkAccess'] = [];
  for (const field of ['recordsPerEvent', 'distinctSubjects', 'windowSeconds'] as const) {
    if (a.bulkAccess[field] !== b.bulkAccess[field]) bulk.push({ field, from: a.bulkAccess[field], to: b.bulkAccess[field] });
  }

  const d: BundleDiff = {
    from: labels?.from ?? a.version,
    to: labels?.to ?? b.version,
    identical: false,
    categories: setChange(Object.keys(a.categories), Object.keys(b.categories)),
    purposes: setChange(Object.keys(a.purposes), Object.keys(b.purposes)),
    prohibitedPurposes: setChange(a.prohibitedPurposes, b.prohibitedPurposes),
    tenants: setChange(a.tenants, b.tenants),
    roles: setChange(Object.keys(a.roles), Object.keys(b.roles)),
    grants: {
      added: [...gb.values()].filter((g) => !ga.has(g.id)),
      removed: [...ga.values()].filter((g) => !gb.has(g.id)),
      changed: grantChanges,
    },
    staff: {
      added: b.staff.filter((s) => !sa.has(s.id)).map((s) => ({ id: s.id, name: s.name, roles: s.roles.map(assignmentText) })),
      removed: a.staff.filter((s) => !sb.has(s.id)).map((s) => ({ id: s.id, name: s.name })),
      changed: staffChanges,
    },
    parties: setChange(
      a.parties.map((p) => `${p.id} (${p.type})`),
      b.parties.map((p) => `${p.id} (${p.type})`),
    ),
    agreements: {
      added: b.agreements.filter((g) => !aa.has(g.id)),
      removed: a.agreements.filter((g) => !ab.has(g.id)),
      changed: agreementChanges,
    },
    retentionDays: retention,
    bulkAccess: bulk,
  };
  d.identical =
    [d.categories, d.purposes, d.prohibitedPurposes, d.tenants, d.roles, d.parties].every(empty) &&
    d.grants.added.length + d.grants.removed.length + d.grants.changed.length === 0 &&
    d.staff.added.length + d.staff.removed.length + d.staff.changed.length === 0 &&
    d.agreements.added.length + d.agreements.removed.length + d.agreements.changed.length === 0 &&
    retention.length + bulk.length === 0;
  return d;
}

function setLine(label: string, s: SetChange): string[] {
  const out: string[] = [];
  const head = label === '' ? '' : `${label} `;
  if (s.added.length > 0) out.push(`${head}+ ${s.added.join(', ')}`);
  if (s.removed.length > 0) out.push(`${head}− ${s.removed.join(', ')}`);
  return out;
}

const agreementText = (g: Agreement) =>
  `${g.id} with ${g.party}: ${g.categories.join(', ')} for ${g.purposes.join(', ')}, ${g.to === undefined ? `from ${g.from}` : `${g.from} to ${g.to}`}`;

const grantText = (g: GrantView) =>
  `${g.id} (${g.role}): ${g.actions.join(', ')} on ${g.categories.join(', ')} for ${g.purposes.join(', ')}`;

/** Human-readable diff; `+` added, `−` removed, `~` changed. */
export function formatDiff(d: BundleDiff): string {
  const lines = [`policy diff ${d.from} → ${d.to}`];
  if (d.identical) return `${lines[0]}\nno changes\n`;
  const section = (title: string, body: string[]) => {
    if (body.length > 0) lines.push(`${title}:`, ...body.map((l) => `  ${l}`));
  };
  section('categories', setLine('', d.categories));
  section('purposes', setLine('', d.purposes));
  section('prohibited purposes', setLine('', d.prohibitedPurposes));
  section('tenants', setLine('', d.tenants));
  section('roles', setLine('', d.roles));
  section('grants', [
    ...d.grants.added.map((g) => `+ ${grantText(g)}`),
    ...d.grants.removed.map((g) => `− ${grantText(g)}`),
    ...d.grants.changed.flatMap((g) => [
      `~ ${g.id} (${g.role})`,
      ...(g.roleChange ? [`    moved from role ${g.roleChange.from} to ${g.roleChange.to}`] : []),
      ...setLine('actions', g.actions).map((l) => `    ${l}`),
      ...setLine('categories', g.categories).map((l) => `    ${l}`),
      ...setLine('purposes', g.purposes).map((l) => `    ${l}`),
    ]),
  ]);
  section('staff', [
    ...d.staff.added.map((s) => `+ ${s.name} (${s.id}): ${s.roles.length > 0 ? s.roles.join('; ') : 'no roles'}`),
    ...d.staff.removed.map((s) => `− ${s.name} (${s.id})`),
    ...d.staff.changed.flatMap((s) => [
      `~ ${s.name} (${s.id})`,
      ...setLine('role', s.roles).map((l) => `    ${l}`),
      ...setLine('tenants', s.tenants).map((l) => `    ${l}`),
    ]),
  ]);
  section('parties', setLine('', d.parties));
  section('agreements', [
    ...d.agreements.added.map((g) => `+ ${agreementText(g)}`),
    ...d.agreements.removed.map((g) => `− ${agreementText(g)}`),
    ...d.agreements.changed.flatMap((g) => [
      `~ ${g.id} with ${g.party}`,
      ...(g.partyChange ? [`    party ${g.partyChange.from} → ${g.partyChange.to}`] : []),
      ...setLine('categories', g.categories).map((l) => `    ${l}`),
      ...setLine('purposes', g.purposes).map((l) => `    ${l}`),
      ...(g.from ? [`    from ${g.from.from} → ${g.from.to}`] : []),
      ...(g.to ? [`    to ${g.to.from ?? '(open)'} → ${g.to.to ?? '(open)'}`] : []),
    ]),
  ]);
  section(
    'retention days',
    d.retentionDays.map((r) => `${r.category}: ${r.from ?? '(none)'} → ${r.to ?? '(none)'}`),
  );
  section(
    'bulk access',
    d.bulkAccess.map((x) => `${x.field}: ${x.from} → ${x.to}`),
  );
  return `${lines.join('\n')}\n`;
}
