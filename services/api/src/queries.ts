/**
 * The read models: each function answers one question about the decisions table within a tenant
 * scope and a time range. Department, names and party types are joined in TypeScript from the
 * policy bundle's directory.
 */

import {
  accessRows,
  actorActivityRows,
  actorCountRows,
  afterCursor,
  BUCKET_SQL,
  bucketRows,
  bulkActorRows,
  codeCountRows,
  codeExampleRows,
  disclosureCountRows,
  LAWFUL_DISCLOSURE_SQL,
  newestAccesses,
  SHARED_SQL,
  type SubjectGroup,
  selectAccesses,
  sharingRows,
  subjectAccessRows,
  subjectGroupRows,
  totalRows,
} from '@custos/store';
import { type DataScope, disclosureSql, rowKind, rowKindsSql, rowsOf, type ScopeInput, tenantsOf, visible } from './access.js';
import { type AccessRow, type AuditDb, accessFromRow, chTime, decodeCursor, encodeCursor, isoFromCh, Where } from './db.js';
import { codeKind, type Directory, partiesOfType, partyType } from './directory.js';
import type { AccessItem, Range } from './schemas.js';
import { isLawfulDisclosure, subjectReads } from './subject-reads.js';

export { BUCKET_SQL };

/** The tenants to read (`'*'` or a list) and, for a caller with a role, the rows and fields it may see (access.ts). */
export type Scope = ScopeInput;
export type { DataScope };

export interface OutcomeCounts {
  allow: number;
  flag: number;
  deny: number;
  total: number;
}

function counts(r: {
  allow: number | string;
  flag: number | string;
  deny: number | string;
  total: number | string;
}): OutcomeCounts {
  return { allow: Number(r.allow), flag: Number(r.flag), deny: Number(r.deny), total: Number(r.total) };
}

const iso = (d: Date) => d.toISOString();
export const rangeOut = (r: Range) => ({ from: iso(r.from), to: iso(r.to) });

/** Every read's WHERE: the caller's tenants, the time range, and the kinds of rows the caller may see. */
function base(scope: Scope, range: Range, tenantId?: string): Where {
  const w = new Where().tenants(tenantsOf(scope)).range(range.from, range.to);
  if (tenantId) w.add('tenant_id = {tenantId:String}', { tenantId });
  return withRowKinds(w, scope);
}

function withRowKinds(w: Where, scope: Scope): Where {
  if (typeof scope === 'object' && !Array.isArray(scope)) {
    const rk = rowKindsSql(scope.rows, scope.authorities);
    if (rk) w.add(rk.sql, rk.params);
  }
  return w;
}

const authoritiesOf = (scope: Scope, dir: Directory): readonly string[] =>
  typeof scope === 'object' && !Array.isArray(scope) ? scope.authorities : partiesOfType(dir, 'authority');

// ---------- accesses search ----------

export interface AccessFilters {
  tenantId?: string | undefined;
  subjectId?: string | undefined;
  actorId?: string | undefined;
  department?: string | undefined;
  category?: string | undefined;
  action?: string | undefined;
  purpose?: string | undefined;
  outcome?: string | undefined;
  code?: string | undefined;
  recipientId?: string | undefined;
  /** the recipient's type in the policy bundle (not the type an event claimed) */
  recipientType?: 'processor' | 'third_party' | 'authority' | undefined;
  limit: number;
  cursor?: string | undefined;
}

export async function searchAccesses(
  db: AuditDb,
  dir: Directory,
  scope: Scope,
  range: Range,
  f: AccessFilters,
): Promise<{ items: AccessItem[]; nextCursor: string | null }> {
  // the tenants are the read's own (one read per tenant), the rest of the WHERE is the same for each
  const w = withRowKinds(new Where().range(range.from, range.to), scope);
  selectAccesses(w, {
    subjectId: f.subjectId,
    actorId: f.actorId,
    actorIds: f.department ? dir.actorsOf(f.department) : undefined,
    category: f.category,
    action: f.action,
    purpose: f.purpose,
    outcome: f.outcome,
    code: f.code,
    recipientId: f.recipientId,
    recipientIds: f.recipientType ? partiesOfType(dir, f.recipientType) : undefined,
  });
  if (f.cursor) afterCursor(w, decodeCursor(f.cursor));
  const tenants = f.tenantId ? [f.tenantId] : await searchTenants(db, dir, tenantsOf(scope));
  const rows = await newestAccesses(db, w, tenants, f.limit + 1);
  const page = rows.slice(0, f.limit);
  const last = page[page.length - 1];
  return {
    items: page.map((r) => visible(accessFromRow(r, dir), scope)),
    nextCursor: rows.length > f.limit && last ? encodeCursor(last.occurred_at, last.event_id) : null,
  };
}

/**
 * The tenants a search over every tenant reads: the bundle's (known at once, so a tenant added to the
 * directory is searched from its first row) and those stored (a list the store keeps for a few
 * seconds, for rows of a tenant the bundle does not name). A caller scoped to tenants reads those.
 */
async function searchTenants(db: AuditDb, dir: Directory, tenants: '*' | string[]): Promise<readonly string[]> {
  if (tenants !== '*') return tenants;
  return [...new Set([...dir.tenants, ...(await db.storedTenants())])].sort();
}

// ---------- subject access report ----------

export interface SubjectData {
  groups: SubjectGroup[];
  accesses: AccessItem[];
  accessesTruncated: boolean;
  disclosures: AccessItem[] | undefined;
}

/** One access as a group of one (only the group's fields: a copy of the whole row costs more). */
const groupOfOne = (r: AccessRow): SubjectGroup => ({
  actor_id: r.actor_id,
  actor_type: r.actor_type,
  action: r.action,
  purpose: r.purpose,
  recipient_id: r.recipient_id,
  recipient_type: r.recipient_type,
  outcome: r.outcome,
  categories: r.categories,
  basis: r.basis,
  subject_type: r.subject_type,
  policy_version: r.policy_version,
  n: 1,
  first: r.occurred_at,
  last: r.occurred_at,
});

export async function subjectData(
  db: AuditDb,
  dir: Directory,
  tenantId: string,
  subjectId: string,
  range: Range,
  variant: 'full' | 'subject',
  maxAccesses = 1000,
  scope: Scope = '*',
): Promise<SubjectData> {
  const w = withRowKinds(
    new Where()
      .add('tenant_id = {tenantId:String} AND subject_id = {subjectId:String}', { tenantId, subjectId })
      .range(range.from, range.to),
    scope,
  );
  if (variant === 'subject') w.add(`NOT ${LAWFUL_DISCLOSURE_SQL}`);
  const authorities = new Set(authoritiesOf(scope, dir));
  const kinds = rowsOf(scope);
  const isDisclosure = (r: AccessRow) => rowKind(r, authorities) === 'disclosure';
  // Most subjects have a few hundred accesses at most: one narrow read and the summary is computed
  // here. Beyond that, ClickHouse aggregates. The narrow read is from `subject_accesses` (migration
  // 0004): the same rows as `decisions`, but one key range of small granules instead of one 8192-row
  // granule per column in each monthly partition (~3 ms instead of ~30 ms on 10M decisions).
  // Read without FINAL and drop repeated event ids here: a stored copy of a decision is identical.
  const small = Math.max(2000, maxAccesses);
  // Batched with the other subject reports in flight (subject-reads.ts); a subject with more rows
  // than a batch reads is read alone, exactly as before.
  const raw: AccessRow[] =
    (await subjectReads(db, 2 * small + 1).read(tenantId, subjectId, range.from, range.to, variant === 'subject')) ??
    (await subjectAccessRows(db, { tenantId, subjectId, range, limit: 2 * small + 1 })).filter(
      // The read model's own `authority` column is not the §11(2) rule; the codes are.
      (r) => variant !== 'subject' || !isLawfulDisclosure(r),
    );
  const seen = new Set<string>();
  const rows = raw.filter(
    (r) => !seen.has(r.event_id) && seen.add(r.event_id) !== undefined && kinds.has(rowKind(r, authorities)),
  );
  const item = (r: AccessRow) => visible(accessFromRow(r, dir), scope);
  if (rows.length <= small && raw.length <= 2 * small) {
    return {
      groups: rows.map(groupOfOne),
      accesses: rows.slice(0, maxAccesses).map(item),
      accessesTruncated: rows.length > maxAccesses,
      disclosures: variant === 'full' ? rows.filter(isDisclosure).map(item) : undefined,
    };
  }
  const disc = disclosureSql(authoritiesOf(scope, dir));
  const [groups, disclosures] = await Promise.all([
    subjectGroupRows(db, w),
    variant === 'full' ? accessRows(db, w.copy().add(disc.sql, disc.params), 1000) : Promise.resolve(undefined),
  ]);
  return {
    groups,
    accesses: rows.slice(0, maxAccesses).map(item),
    accessesTruncated: true,
    disclosures: disclosures?.map(item),
  };
}

// ---------- actor activity ----------

export async function actorActivity(
  db: AuditDb,
  dir: Directory,
  scope: Scope,
  range: Range,
  actorId: string,
  tenantId: string | undefined,
  limit: number,
) {
  const w = base(scope, range, tenantId).add('actor_id = {actorId:String}', { actorId });
  const { totals: tot, byCode, byCategory, byPurpose, byAction, daily, recent } = await actorActivityRows(db, w, limit);
  const t = tot ?? { allow: 0, flag: 0, deny: 0, total: 0, subjects: 0 };
  const n = <R extends { count: number | string }>(rs: R[]) => rs.map((r) => ({ ...r, count: Number(r.count) }));
  return {
    actor: {
      id: actorId,
      name: dir.actorName(actorId),
      department: dir.department(actorId),
      known: dir.staff.has(actorId) || dir.parties.has(actorId),
    },
    range: rangeOut(range),
    totals: { ...counts(t), distinctSubjects: Number(t.subjects) },
    byCode: n(byCode),
    byCategory: n(byCategory),
    byPurpose: n(byPurpose),
    byAction: n(byAction),
    daily: daily.map((d) => ({ day: d.day, ...counts(d) })),
    recent: recent.map((r) => visible(accessFromRow(r, dir), scope)),
  };
}

// ---------- violations ----------

export const BUCKET_MS = { hour: 3_600_000, day: 86_400_000, week: 7 * 86_400_000, month: 28 * 86_400_000 } as const;

export interface ActorCounts {
  actorId: string;
  name: string;
  department: string;
  deny: number;
  flag: number;
  total: number;
}

async function actorCounts(db: AuditDb, dir: Directory, w: Where): Promise<ActorCounts[]> {
  const rows = await actorCountRows(db, w);
  return rows.map((r) => ({
    actorId: r.actor_id,
    name: dir.actorName(r.actor_id),
    department: dir.department(r.actor_id),
    deny: Number(r.deny),
    flag: Number(r.flag),
    total: Number(r.total),
  }));
}

async function codeCounts(db: AuditDb, w: Where): Promise<{ code: string; count: number; outcome: 'deny' | 'flag' | 'note' }[]> {
  return (await codeCountRows(db, w)).map((r) => ({ ...r, outcome: codeKind(r.code) }));
}

export async function violationsSummary(
  db: AuditDb,
  dir: Directory,
  scope: Scope,
  range: Range,
  tenantId: string | undefined,
  bucket: keyof typeof BUCKET_SQL,
  top: number,
) {
  const w = base(scope, range, tenantId);
  const [buckets, byCode, actors] = await Promise.all([bucketRows(db, w, bucket), codeCounts(db, w), actorCounts(db, dir, w)]);
  const totals = { allow: 0, flag: 0, deny: 0, total: 0 };
  for (const b of buckets) for (const k of ['allow', 'flag', 'deny', 'total'] as const) totals[k] += Number(b[k]);
  const depts = new Map<string, { department: string; deny: number; flag: number; total: number }>();
  for (const a of actors) {
    const d = depts.get(a.department) ?? { department: a.department, deny: 0, flag: 0, total: 0 };
    d.deny += a.deny;
    d.flag += a.flag;
    d.total += a.total;
    depts.set(a.department, d);
  }
  return {
    range: rangeOut(range),
    bucket,
    totals,
    byCode,
    byDepartment: [...depts.values()].sort(
      (a, b) => b.deny - a.deny || b.flag - a.flag || a.department.localeCompare(b.department),
    ),
    byActor: actors.filter((a) => a.deny + a.flag > 0).slice(0, top),
    buckets: buckets.map((b) => ({ start: `${b.start.replace(' ', 'T')}Z`, ...counts(b) })),
  };
}

// ---------- sharing ----------

export async function sharingSummary(db: AuditDb, dir: Directory, scope: Scope, range: Range, tenantId: string | undefined) {
  const w = base(scope, range, tenantId).add(SHARED_SQL);
  const { byAgreement: byAg, byParty } = await sharingRows(db, w, [...dir.agreements.keys()]);
  // The bundle says what a party is (never the type an event claimed).
  const party = (id: string) => ({ id, name: dir.actorName(id), type: partyType(dir, id) });
  return {
    range: rangeOut(range),
    byAgreement: byAg.map((r) => ({
      agreementId: r.agreement || null,
      party: party(r.party_id),
      ...counts(r),
      distinctSubjects: Number(r.subjects),
    })),
    byParty: byParty.map((r) => ({ party: party(r.party_id), actions: r.actions, ...counts(r) })),
  };
}

// ---------- disclosures ----------

export async function disclosures(
  db: AuditDb,
  dir: Directory,
  scope: Scope,
  range: Range,
  tenantId: string | undefined,
  limit: number,
  cursor?: string,
) {
  const disc = disclosureSql(authoritiesOf(scope, dir));
  const w = base(scope, range, tenantId).add(disc.sql, disc.params);
  const page = w.copy();
  if (cursor) afterCursor(page, decodeCursor(cursor));
  const [byAuthority, rows] = await Promise.all([disclosureCountRows(db, w), accessRows(db, page, limit + 1)]);
  const items = rows.slice(0, limit);
  const last = items[items.length - 1];
  return {
    range: rangeOut(range),
    byAuthority: byAuthority.map((r) => ({
      authority: { id: r.recipient_id, name: dir.actorName(r.recipient_id) },
      lawful: Number(r.lawful),
      withoutBasis: Number(r.without_basis),
      total: Number(r.total),
    })),
    items: items.map((r) => disclosureItem(visible(accessFromRow(r, dir), scope), dir)),
    nextCursor: rows.length > limit && last ? encodeCursor(last.occurred_at, last.event_id) : null,
  };
}

export function disclosureItem(a: AccessItem, dir: Directory) {
  const rid = a.recipient?.id ?? '';
  return {
    eventId: a.eventId,
    tenantId: a.tenantId,
    occurredAt: a.occurredAt,
    authority: { id: rid, name: dir.actorName(rid), type: rid ? partyType(dir, rid) : '' },
    legalBasis: a.legalBasis ?? '',
    actor: { id: a.actor.id, name: a.actor.name, department: a.actor.department },
    subject: a.subject,
    categories: a.categories,
    outcome: a.outcome,
    codes: a.reasons.map((r) => r.code),
  };
}

// ---------- periodic report data ----------

export async function periodicData(db: AuditDb, dir: Directory, scope: Scope, range: Range, tenantId: string | undefined) {
  const w = base(scope, range, tenantId);
  const [totals, byCode, examples, actors, sharing, disc, bulk] = await Promise.all([
    totalRows(db, w),
    codeCounts(db, w),
    codeExampleRows(db, w),
    actorCounts(db, dir, w),
    sharingSummary(db, dir, scope, range, tenantId),
    disclosures(db, dir, scope, range, tenantId, 100),
    bulkActorRows(db, w),
  ]);
  const t = totals[0] ?? { allow: 0, flag: 0, deny: 0, total: 0, versions: [] };
  const codeCount = (c: string) => byCode.find((r) => r.code === c)?.count ?? 0;
  return {
    totals: counts(t),
    policyVersions: t.versions ?? [],
    rules: byCode.map((c) => ({
      code: c.code,
      outcome: c.outcome,
      count: c.count,
      examples: examples
        .filter((e) => e.code === c.code)
        .map((e) => ({
          eventId: e.event_id,
          occurredAt: isoFromCh(e.occurred_at),
          tenantId: e.tenant_id,
          actorId: e.actor_id,
          subjectId: e.subject_id,
          action: e.action,
          purpose: e.purpose,
          ...(e.recipient_id ? { recipientId: e.recipient_id } : {}),
        })),
    })),
    topActors: actors.filter((a) => a.deny + a.flag > 0).slice(0, 10),
    sharing: sharing.byAgreement,
    disclosures: {
      total: disc.byAuthority.reduce((s, a) => s + a.total, 0),
      byAuthority: disc.byAuthority,
      items: disc.items,
    },
    retention: {
      retentionExpired: codeCount('RETENTION_EXPIRED'),
      subjectErased: codeCount('SUBJECT_ERASED'),
      promotionalOptOut: codeCount('PROMOTIONAL_OPT_OUT'),
    },
    bulkAccess: {
      events: codeCount('BULK_ACCESS'),
      actors: bulk.map((b) => ({ actorId: b.actor_id, name: dir.actorName(b.actor_id), events: Number(b.events) })),
    },
  };
}

export { chTime };
