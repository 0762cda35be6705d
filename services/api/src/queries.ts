/**
 * The read models: each function answers one question about the decisions table within a tenant
 * scope and a time range. Department, names and party types are joined in TypeScript from the
 * policy bundle's directory.
 */

import { type DataScope, disclosureSql, rowKind, rowKindsSql, rowsOf, type ScopeInput, tenantsOf, visible } from './access.js';
import {
  ACCESS_COLUMNS,
  type AccessRow,
  type AuditDb,
  accessFromRow,
  accessRowsFromPacked,
  chTime,
  decodeCursor,
  encodeCursor,
  isoFromCh,
  PACKED_ACCESS,
  T,
  Where,
} from './db.js';
import { codeKind, type Directory, partiesOfType, partyType } from './directory.js';
import type { AccessItem, Range } from './schemas.js';
import { isLawfulDisclosure, subjectReads } from './subject-reads.js';

/** The tenants to read (`'*'` or a list) and, for a caller with a role, the rows and fields it may see (access.ts). */
export type Scope = ScopeInput;
export type { DataScope };

type Outcome = 'allow' | 'flag' | 'deny';
export interface OutcomeCounts {
  allow: number;
  flag: number;
  deny: number;
  total: number;
}

const OUTCOME_SUMS = `countIf(outcome = 'allow') AS allow, countIf(outcome = 'flag') AS flag, countIf(outcome = 'deny') AS deny, count() AS total`;

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
  const w = base(scope, range, f.tenantId);
  if (f.subjectId) w.add('subject_id = {subjectId:String}', { subjectId: f.subjectId });
  if (f.actorId) w.add('actor_id = {actorId:String}', { actorId: f.actorId });
  if (f.department) w.add('actor_id IN {deptActors:Array(String)}', { deptActors: dir.actorsOf(f.department) });
  if (f.category) w.add('has(categories, {category:String})', { category: f.category });
  if (f.action) w.add('action = {action:String}', { action: f.action });
  if (f.purpose) w.add('purpose = {purpose:String}', { purpose: f.purpose });
  if (f.outcome) w.add('outcome = {outcome:String}', { outcome: f.outcome });
  if (f.code) w.add('has(codes, {code:String})', { code: f.code });
  if (f.recipientId) w.add('recipient_id = {recipientId:String}', { recipientId: f.recipientId });
  if (f.recipientType)
    w.add('recipient_id IN {recipientsOfType:Array(String)}', { recipientsOfType: partiesOfType(dir, f.recipientType) });
  if (f.cursor) {
    const c = decodeCursor(f.cursor);
    w.add(`(occurred_at, event_id) < (${T('cTime')}, {cId:UUID})`, { cTime: c.occurredAt, cId: c.eventId });
  }
  const rows = await db.rows<AccessRow>(
    `SELECT ${ACCESS_COLUMNS} FROM ${db.decisions} ${w.sql()} ORDER BY occurred_at DESC, event_id DESC LIMIT {limit:UInt32}`,
    { ...w.params, limit: f.limit + 1 },
  );
  const page = rows.slice(0, f.limit);
  const last = page[page.length - 1];
  return {
    items: page.map((r) => visible(accessFromRow(r, dir), scope)),
    nextCursor: rows.length > f.limit && last ? encodeCursor(last.occurred_at, last.event_id) : null,
  };
}

// ---------- subject access report ----------

interface SubjectGroup {
  actor_id: string;
  actor_type: string;
  action: string;
  purpose: string;
  recipient_id: string;
  recipient_type: string;
  outcome: Outcome;
  categories: string[];
  basis: string[];
  subject_type: string;
  policy_version: string;
  n: number | string;
  first: string;
  last: string;
}

export interface SubjectData {
  groups: SubjectGroup[];
  accesses: AccessItem[];
  accessesTruncated: boolean;
  disclosures: AccessItem[] | undefined;
}

/**
 * Lawful disclosures to authorities, the only accesses the subject-facing variant may leave out
 * (DPDP §11(2)): exactly the decisions the enforcer marked LEGAL_DISCLOSURE (a disclose to a party
 * the bundle calls an authority, with a legal basis, not denied).
 */
const LAWFUL_DISCLOSURE = `has(codes, 'LEGAL_DISCLOSURE')`;

/** One subject's newest `limit` accesses from `subject_accesses`, read alone. */
async function subjectAccessesOf(
  db: AuditDb,
  tenantId: string,
  subjectId: string,
  range: Range,
  variant: 'full' | 'subject',
  limit: number,
): Promise<AccessRow[]> {
  const w = new Where()
    .add('tenant_id = {tenantId:String} AND subject_id = {subjectId:String}', { tenantId, subjectId })
    .range(range.from, range.to);
  // The read model's own `authority` column is not the §11(2) rule; the codes are (filtered here).
  const rows = accessRowsFromPacked(
    await db.text(
      `SELECT ${PACKED_ACCESS} FROM ${db.subjectAccesses} ${w.sql()} ORDER BY occurred_at DESC, event_id DESC LIMIT {limit:UInt32}`,
      { ...w.params, limit },
      undefined,
      { point: true },
    ),
  );
  return variant === 'subject' ? rows.filter((r) => !isLawfulDisclosure(r)) : rows;
}

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
  if (variant === 'subject') w.add(`NOT ${LAWFUL_DISCLOSURE}`);
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
  const raw =
    (await subjectReads(db, 2 * small + 1).read(tenantId, subjectId, range.from, range.to, variant === 'subject')) ??
    (await subjectAccessesOf(db, tenantId, subjectId, range, variant, 2 * small + 1));
  const seen = new Set<string>();
  const rows = raw.filter(
    (r) => !seen.has(r.event_id) && seen.add(r.event_id) !== undefined && kinds.has(rowKind(r, authorities)),
  );
  const item = (r: AccessRow) => visible(accessFromRow(r, dir), scope);
  if (rows.length <= small && raw.length <= 2 * small) {
    return {
      groups: rows.map((r) => ({ ...r, n: 1, first: r.occurred_at, last: r.occurred_at })),
      accesses: rows.slice(0, maxAccesses).map(item),
      accessesTruncated: rows.length > maxAccesses,
      disclosures: variant === 'full' ? rows.filter(isDisclosure).map(item) : undefined,
    };
  }
  const disc = disclosureSql(authoritiesOf(scope, dir));
  const [groups, disclosures] = await Promise.all([
    db.rows<SubjectGroup>(
      `SELECT actor_id, actor_type, action, purpose, recipient_id, recipient_type, outcome, categories, basis, subject_type, policy_version,
              count() AS n, min(occurred_at) AS first, max(occurred_at) AS last
       FROM ${db.decisions} ${w.sql()}
       GROUP BY actor_id, actor_type, action, purpose, recipient_id, recipient_type, outcome, categories, basis, subject_type, policy_version`,
      w.params,
    ),
    variant === 'full'
      ? db.rows<AccessRow>(
          `SELECT ${ACCESS_COLUMNS} FROM ${db.decisions} ${w.sql()} AND ${disc.sql} ORDER BY occurred_at DESC, event_id DESC LIMIT 1000`,
          { ...w.params, ...disc.params },
        )
      : Promise.resolve(undefined),
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
  const q = w.sql();
  const [tot, byCode, byCategory, byPurpose, byAction, daily, recent] = await Promise.all([
    db.rows<OutcomeCounts & { subjects: number }>(
      `SELECT ${OUTCOME_SUMS}, uniqExact(tenant_id, subject_id) AS subjects FROM ${db.decisions} ${q}`,
      w.params,
    ),
    db.rows<{ code: string; count: number }>(
      `SELECT arrayJoin(codes) AS code, count() AS count FROM ${db.decisions} ${q} GROUP BY code ORDER BY count DESC, code`,
      w.params,
    ),
    db.rows<{ category: string; count: number }>(
      `SELECT arrayJoin(categories) AS category, count() AS count FROM ${db.decisions} ${q} GROUP BY category ORDER BY count DESC, category`,
      w.params,
    ),
    db.rows<{ purpose: string; count: number }>(
      `SELECT purpose, count() AS count FROM ${db.decisions} ${q} GROUP BY purpose ORDER BY count DESC, purpose`,
      w.params,
    ),
    db.rows<{ action: string; count: number }>(
      `SELECT toString(action) AS action, count() AS count FROM ${db.decisions} ${q} GROUP BY action ORDER BY count DESC, action`,
      w.params,
    ),
    db.rows<OutcomeCounts & { day: string }>(
      `SELECT toString(toDate(occurred_at)) AS day, ${OUTCOME_SUMS} FROM ${db.decisions} ${q} GROUP BY day ORDER BY day`,
      w.params,
    ),
    db.rows<AccessRow>(
      `SELECT ${ACCESS_COLUMNS} FROM ${db.decisions} ${q} ORDER BY occurred_at DESC, event_id DESC LIMIT {limit:UInt32}`,
      { ...w.params, limit },
    ),
  ]);
  const t = tot[0] ?? { allow: 0, flag: 0, deny: 0, total: 0, subjects: 0 };
  const n = <R extends { count: number }>(rs: R[]) => rs.map((r) => ({ ...r, count: Number(r.count) }));
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

export const BUCKET_SQL = {
  hour: 'toStartOfHour(occurred_at)',
  day: 'toStartOfDay(occurred_at)',
  week: "toDateTime(toMonday(occurred_at), 'UTC')",
  month: "toDateTime(toStartOfMonth(occurred_at), 'UTC')",
} as const;
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
  const rows = await db.rows<{ actor_id: string; deny: number; flag: number; total: number }>(
    `SELECT actor_id, countIf(outcome = 'deny') AS deny, countIf(outcome = 'flag') AS flag, count() AS total
     FROM ${db.decisions} ${w.sql()} GROUP BY actor_id ORDER BY deny DESC, flag DESC, actor_id LIMIT 10000`,
    w.params,
  );
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
  const rows = await db.rows<{ code: string; count: number }>(
    `SELECT arrayJoin(codes) AS code, count() AS count FROM ${db.decisions} ${w.sql()} GROUP BY code ORDER BY count DESC, code`,
    w.params,
  );
  return rows.map((r) => ({ code: r.code, count: Number(r.count), outcome: codeKind(r.code) }));
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
  const [buckets, byCode, actors] = await Promise.all([
    db.rows<OutcomeCounts & { start: string }>(
      `SELECT ${BUCKET_SQL[bucket]} AS b, toString(b) AS start, ${OUTCOME_SUMS} FROM ${db.decisions} ${w.sql()} GROUP BY b ORDER BY b`,
      w.params,
    ),
    codeCounts(db, w),
    actorCounts(db, dir, w),
  ]);
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
  const w = base(scope, range, tenantId).add(`(recipient_id != '' OR actor_type = 'processor')`);
  const agreementIds = [...dir.agreements.keys()];
  const partyExpr = `if(recipient_id != '', recipient_id, actor_id)`;
  const [byAg, byParty] = await Promise.all([
    db.rows<OutcomeCounts & { party_id: string; agreement: string; subjects: number }>(
      `SELECT ${partyExpr} AS party_id,
              arrayJoin(if(empty(arrayFilter(x -> has({agreements:Array(String)}, x), basis)), [''], arrayFilter(x -> has({agreements:Array(String)}, x), basis))) AS agreement,
              ${OUTCOME_SUMS}, uniqExact(tenant_id, subject_id) AS subjects
       FROM ${db.decisions} ${w.sql()} GROUP BY party_id, agreement ORDER BY total DESC, party_id, agreement LIMIT 10000`,
      { ...w.params, agreements: agreementIds },
    ),
    db.rows<OutcomeCounts & { party_id: string; actions: string[] }>(
      `SELECT ${partyExpr} AS party_id,
              arraySort(groupUniqArray(if(recipient_id != '', toString(action), 'processing'))) AS actions, ${OUTCOME_SUMS}
       FROM ${db.decisions} ${w.sql()} GROUP BY party_id ORDER BY total DESC, party_id LIMIT 10000`,
      w.params,
    ),
  ]);
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
  const page = new Where();
  Object.assign(page.params, w.params);
  page.conds.push(...w.conds);
  if (cursor) {
    const c = decodeCursor(cursor);
    page.add(`(occurred_at, event_id) < (${T('cTime')}, {cId:UUID})`, { cTime: c.occurredAt, cId: c.eventId });
  }
  const [byAuthority, rows] = await Promise.all([
    db.rows<{ recipient_id: string; lawful: number; without_basis: number; total: number }>(
      `SELECT recipient_id, countIf(has(codes, 'LEGAL_DISCLOSURE')) AS lawful, countIf(has(codes, 'DISCLOSURE_WITHOUT_LEGAL_BASIS')) AS without_basis,
              count() AS total
       FROM ${db.decisions} ${w.sql()} GROUP BY recipient_id ORDER BY total DESC, recipient_id LIMIT 1000`,
      w.params,
    ),
    db.rows<AccessRow>(
      `SELECT ${ACCESS_COLUMNS} FROM ${db.decisions} ${page.sql()} ORDER BY occurred_at DESC, event_id DESC LIMIT {limit:UInt32}`,
      { ...page.params, limit: limit + 1 },
    ),
  ]);
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
    db.rows<OutcomeCounts & { versions: string[] }>(
      `SELECT ${OUTCOME_SUMS}, arraySort(groupUniqArray(policy_version)) AS versions FROM ${db.decisions} ${w.sql()}`,
      w.params,
    ),
    codeCounts(db, w),
    db.rows<{
      code: string;
      event_id: string;
      occurred_at: string;
      tenant_id: string;
      actor_id: string;
      subject_id: string;
      action: string;
      purpose: string;
      recipient_id: string;
    }>(
      `SELECT arrayJoin(codes) AS code, event_id, occurred_at, tenant_id, actor_id, subject_id, toString(action) AS action, purpose, recipient_id
       FROM ${db.decisions} ${w.sql()} AND notEmpty(codes)
       ORDER BY code, occurred_at, event_id LIMIT 3 BY code`,
      w.params,
    ),
    actorCounts(db, dir, w),
    sharingSummary(db, dir, scope, range, tenantId),
    disclosures(db, dir, scope, range, tenantId, 100),
    db.rows<{ actor_id: string; events: number }>(
      `SELECT actor_id, count() AS events FROM ${db.decisions} ${w.sql()} AND has(codes, 'BULK_ACCESS')
       GROUP BY actor_id ORDER BY events DESC, actor_id LIMIT 100`,
      w.params,
    ),
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
