/**
 * The reads of the decisions table that the query API runs (and the CLI and the benchmarks with it):
 * every query is a fixed SQL text with `{name:Type}` parameters (no value is ever spliced into SQL),
 * run with a time limit, a result-row limit and memory and bytes-read limits. Column names and the
 * row encoding of the read models live here, beside the tables' declarations (migrations 0001,
 * 0005, 0008), so a change to a table touches this package.
 *
 * What the answers mean to a person (names and departments from the policy bundle, which rows and
 * fields a role may see) is the API's; the functions here take plain selections and return rows.
 */
import { type Store, settingsClause } from './client.js';
import { chTimeMs, isoTime } from './decisions.js';
import { READ_MODEL_PACKED_COLUMNS, READ_MODEL_TABLE, SEARCH_TABLE } from './read-model.js';

export interface QueryLimits {
  /** seconds; ClickHouse's max_execution_time */
  timeoutS: number;
  /** ClickHouse's max_result_rows (result_overflow_mode=throw) */
  maxRows: number;
  /** ClickHouse's max_memory_usage per query, bytes (default 4 GiB) */
  maxMemoryBytes?: number;
  /** ClickHouse's max_bytes_to_read per query, uncompressed bytes (read_overflow_mode=throw; default 64 GiB) */
  maxBytesRead?: number;
  /** how long the list of stored tenants (`storedTenants`) is kept before it is read again, ms (default 10 s) */
  tenantListTtlMs?: number;
}

export const DEFAULT_TENANT_LIST_TTL_MS = 10_000;

export const DEFAULT_MAX_MEMORY_BYTES = 4 * 1024 ** 3;
export const DEFAULT_MAX_BYTES_READ = 64 * 1024 ** 3;

export type Params = Record<string, unknown>;

/** A time range [from, to). */
export interface DateRange {
  from: Date;
  to: Date;
}

/** ClickHouse DateTime64(3) text in UTC, for `{p:DateTime64(3, 'UTC')}` parameters. */
export const chDate = (d: Date): string => chTimeMs(d.getTime());

/** A `{name:DateTime64(3, 'UTC')}` parameter. */
export const T = (p: string) => `{${p}:DateTime64(3, 'UTC')}`;

// ---------- one access: columns and the packed row encoding ----------

export interface AccessRow {
  event_id: string;
  tenant_id: string;
  occurred_at: string;
  decided_at: string;
  outcome: 'allow' | 'flag' | 'deny';
  codes: string[];
  reason_messages: string[];
  basis: string[];
  policy_version: string;
  actor_id: string;
  actor_type: string;
  subject_id: string;
  subject_type: string;
  categories: string[];
  fields: string[];
  action: 'read' | 'create' | 'update' | 'delete' | 'export' | 'share' | 'disclose';
  purpose: string;
  recipient_id: string;
  recipient_type: string;
  legal_basis: string;
  data_collected_at: string | null;
  record_count: number;
  source_service: string;
}

/** The access columns both read models (migrations 0005, 0008) keep as columns of their own. */
const OWN_FIELDS = ['event_id', 'tenant_id', 'occurred_at', 'decided_at', 'actor_id', 'subject_id'] as const;

/**
 * The columns of one access: the read models' own, then those they pack into `access`
 * (JSONCompactEachRow in this order, READ_MODEL_PACKED_COLUMNS). Also the order of a `PACKED_ACCESS` line.
 */
export const ACCESS_FIELDS = [...OWN_FIELDS, ...READ_MODEL_PACKED_COLUMNS] as const satisfies readonly (keyof AccessRow)[];

export const ACCESS_COLUMNS = ACCESS_FIELDS.join(', ');

// Compile-time: every field of AccessRow is read (typecheck names a missing one here).
type UnreadField = Exclude<keyof AccessRow, (typeof ACCESS_FIELDS)[number]>;
const _everyFieldRead: [UnreadField] extends [never] ? true : UnreadField = true;
void _everyFieldRead;

/**
 * One access of a read model as one JSON array (a line of TabSeparatedRaw): its own columns,
 * formatted as JSONCompactEachRow formats them, followed by the packed ones.
 */
export const PACKED_ACCESS = `concat(substring(formatRowNoNewline('JSONCompactEachRow', ${OWN_FIELDS.join(', ')}), 1, -1), ',', substring(access, 2))`;

/** Lines of `PACKED_ACCESS` (one JSON array per line) → AccessRows. */
export function accessRowsFromPacked(text: string): AccessRow[] {
  const body = text.endsWith('\n') ? text.slice(0, -1) : text;
  if (!body) return [];
  const arrays = JSON.parse(`[${body.replaceAll('\n', ',')}]`) as unknown[][];
  const n = ACCESS_FIELDS.length;
  return arrays.map((a) => {
    const r: Record<string, unknown> = {};
    for (let i = 0; i < n; i++) r[ACCESS_FIELDS[i] as string] = a[i];
    return r as unknown as AccessRow;
  });
}

/**
 * A UUID as ClickHouse orders it: by its low 64 bits (the last 16 hex digits), then its high 64 bits
 * — not in text order.
 */
export const uuidOrderKey = (u: string) =>
  `${u.slice(19, 23)}${u.slice(24, 36)}${u.slice(0, 8)}${u.slice(9, 13)}${u.slice(14, 18)}`;

/** `ORDER BY occurred_at DESC, event_id DESC` (times are fixed-width text, `YYYY-MM-DD hh:mm:ss.sss`). */
export function newestFirst(a: AccessRow, b: AccessRow): number {
  if (a.occurred_at !== b.occurred_at) return a.occurred_at < b.occurred_at ? 1 : -1;
  if (a.event_id === b.event_id) return 0;
  return uuidOrderKey(a.event_id) < uuidOrderKey(b.event_id) ? 1 : -1;
}

// ---------- WHERE clauses and cursors ----------

/** A WHERE clause under construction: conditions joined by AND, with their parameters. */
export class Where {
  readonly conds: string[] = [];
  readonly params: Params = {};
  private n = 0;

  add(cond: string, params: Params = {}): this {
    this.conds.push(cond);
    Object.assign(this.params, params);
    return this;
  }

  /** A fresh parameter name, for conditions built in loops. */
  param(value: unknown): string {
    const name = `p${this.n++}`;
    this.params[name] = value;
    return name;
  }

  range(from: Date, to: Date): this {
    return this.add(`occurred_at >= ${T('rFrom')} AND occurred_at < ${T('rTo')}`, { rFrom: chDate(from), rTo: chDate(to) });
  }

  /** `'*'` reads every tenant; a list reads those only (an empty list reads nothing). */
  tenants(tenants: '*' | readonly string[]): this {
    if (tenants === '*') return this;
    return this.add('tenant_id IN {scopeTenants:Array(String)}', { scopeTenants: [...tenants] });
  }

  /** A copy, to add conditions to without changing this one. */
  copy(): Where {
    const w = new Where();
    w.conds.push(...this.conds);
    Object.assign(w.params, this.params);
    w.n = this.n;
    return w;
  }

  sql(): string {
    return this.conds.length ? `WHERE ${this.conds.join(' AND ')}` : '';
  }
}

/** A page cursor: the sort key (occurred_at, event_id) of the last row served. */
export interface Cursor {
  occurredAt: string;
  eventId: string;
}

/** An opaque page cursor: base64url of `[occurred_at, event_id]`. */
export function encodeCursor(occurredAt: string, eventId: string): string {
  return Buffer.from(JSON.stringify([occurredAt, eventId])).toString('base64url');
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const CH_TIME = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d{1,3})?$/;

/** A cursor made by `encodeCursor`, or `undefined` for anything else. */
export function decodeCursor(cursor: string): Cursor | undefined {
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
  if (!Array.isArray(v) || v.length !== 2) return undefined;
  const [t, e] = v as unknown[];
  if (typeof t !== 'string' || typeof e !== 'string' || !CH_TIME.test(t) || !UUID.test(e)) return undefined;
  const d = new Date(isoTime(t));
  if (Number.isNaN(d.getTime()) || d.getUTCFullYear() < 1970 || d.getUTCFullYear() >= 2200) return undefined;
  return { occurredAt: chDate(d), eventId: e.toLowerCase() };
}

/** Rows after the cursor, in `ORDER BY occurred_at DESC, event_id DESC`. */
export function afterCursor(w: Where, c: Cursor): Where {
  return w.add(`(occurred_at, event_id) < (${T('cTime')}, {cId:UUID})`, { cTime: c.occurredAt, cId: c.eventId });
}

// ---------- running a read ----------

/** Why ClickHouse refused a read: it ran too long, its answer or its scan is too large, or it needs too much memory. */
export type RefusalKind = 'timeout' | 'too_large' | 'memory';

/** ClickHouse error codes of a refused read. */
const REFUSALS: [RefusalKind, Set<string>][] = [
  ['timeout', new Set(['159', 'TIMEOUT_EXCEEDED'])],
  ['too_large', new Set(['396', 'TOO_MANY_ROWS_OR_BYTES', '307', 'TOO_MANY_BYTES'])],
  ['memory', new Set(['241', 'MEMORY_LIMIT_EXCEEDED'])],
];

export class QueryRefused extends Error {
  readonly retriable: boolean;
  constructor(
    readonly kind: RefusalKind,
    cause: unknown,
  ) {
    super(`ClickHouse refused the read (${kind})`, { cause });
    this.name = 'QueryRefused';
    this.retriable = kind === 'timeout';
  }
}

/** The refusal an error of ClickHouse is, if it is one. */
export function refusalOf(err: unknown): RefusalKind | undefined {
  const code = err && typeof err === 'object' && 'code' in err ? String(err.code) : '';
  const type = err && typeof err === 'object' && 'type' in err ? String(err.type) : '';
  return REFUSALS.find(([, codes]) => codes.has(code) || codes.has(type))?.[0];
}

/**
 * The decisions table and its read models, read with limits. `refuse` turns a refused read into
 * the caller's error (the API: an HTTP answer); by default a `QueryRefused`.
 */
export class DecisionReads {
  constructor(
    readonly store: Store,
    readonly limits: QueryLimits,
  ) {}

  /** `db.decisions`, read with FINAL so a re-delivered decision counts once. */
  get decisions(): string {
    return `${this.store.table('decisions')} FINAL`;
  }

  /**
   * `db.subject_accesses_v2` (migration 0005): every decision once more, keyed by tenant and subject,
   * unpartitioned, small granules, most report columns packed into one (`access`; read them with
   * `PACKED_ACCESS`). A plain MergeTree: callers drop repeated event ids themselves (a stored copy is
   * identical).
   */
  get subjectAccesses(): string {
    return this.store.table(READ_MODEL_TABLE);
  }

  /**
   * `db.accesses_by_time` (migration 0008): the search's read model, every decision keyed by tenant
   * and time, packed like `subjectAccesses`. A plain MergeTree: callers drop repeated event ids.
   */
  get accessesByTime(): string {
    return this.store.table(SEARCH_TABLE);
  }

  protected refuse(kind: RefusalKind, err: unknown): Error {
    return new QueryRefused(kind, err);
  }

  private tenantList?: { at: number; list: Promise<string[]> };

  /**
   * Every tenant with stored decisions, sorted: read from the search's read model (a DISTINCT over
   * every row) at most once per `limits.tenantListTtlMs`, not once per search over every tenant. A
   * tenant whose first rows arrive meanwhile is listed from the next read on.
   */
  storedTenants(): Promise<string[]> {
    const now = Date.now();
    if (this.tenantList && now - this.tenantList.at < (this.limits.tenantListTtlMs ?? DEFAULT_TENANT_LIST_TTL_MS)) {
      return this.tenantList.list;
    }
    const list = this.rows<{ t: string }>(`SELECT DISTINCT tenant_id AS t FROM ${this.accessesByTime}`, {}).then((rows) =>
      rows.map((r) => r.t).sort(),
    );
    // a failed read is not kept: the next search reads again
    list.catch(() => {
      if (this.tenantList?.list === list) this.tenantList = undefined;
    });
    this.tenantList = { at: now, list };
    return list;
  }

  private settings(maxRows: number, opts: { point?: boolean }): string {
    return settingsClause({
      max_execution_time: this.limits.timeoutS,
      max_result_rows: maxRows,
      result_overflow_mode: 'throw',
      // one query cannot take the server's memory, nor scan without end
      max_memory_usage: this.limits.maxMemoryBytes ?? DEFAULT_MAX_MEMORY_BYTES,
      max_bytes_to_read: this.limits.maxBytesRead ?? DEFAULT_MAX_BYTES_READ,
      read_overflow_mode: 'throw',
      // partitions are by month of occurred_at, which is in the sort key: duplicates never span two
      do_not_merge_across_partitions_select_final: 1,
      // a narrow read by the sort key is cheapest on one thread; others take the default
      ...(opts.point ? { max_threads: 1 } : {}),
    });
  }

  /** `point`: a narrow read by the sort key, cheapest on one thread. */
  async rows<R>(query: string, params: Params, maxRows = this.limits.maxRows, opts: { point?: boolean } = {}): Promise<R[]> {
    return this.run(async () => {
      const rs = await this.store.client.query({
        query: `${query}${this.settings(maxRows, opts)}`,
        query_params: params,
        format: 'JSONEachRow',
      });
      return rs.json<R>();
    });
  }

  /** A query of one String column, each value a line of its own (TabSeparatedRaw: values as they are). */
  async text(query: string, params: Params, maxRows = this.limits.maxRows, opts: { point?: boolean } = {}): Promise<string> {
    return this.run(async () => {
      const rs = await this.store.client.query({
        query: `${query}${this.settings(maxRows, opts)}`,
        query_params: params,
        format: 'TabSeparatedRaw',
      });
      return rs.text();
    });
  }

  private async run<R>(f: () => Promise<R>): Promise<R> {
    try {
      return await f();
    } catch (err) {
      const kind = refusalOf(err);
      throw kind ? this.refuse(kind, err) : err;
    }
  }
}

// ---------- the accesses search ----------

/** The search's selections, as the table stores them (a department is its staff ids, a party type its party ids). */
export interface AccessSelection {
  subjectId?: string | undefined;
  actorId?: string | undefined;
  actorIds?: readonly string[] | undefined;
  category?: string | undefined;
  action?: string | undefined;
  purpose?: string | undefined;
  outcome?: string | undefined;
  code?: string | undefined;
  recipientId?: string | undefined;
  recipientIds?: readonly string[] | undefined;
}

/** Adds a search's selections to `w`. */
export function selectAccesses(w: Where, f: AccessSelection): Where {
  if (f.subjectId) w.add('subject_id = {subjectId:String}', { subjectId: f.subjectId });
  if (f.actorId) w.add('actor_id = {actorId:String}', { actorId: f.actorId });
  if (f.actorIds) w.add('actor_id IN {actorIds:Array(String)}', { actorIds: [...f.actorIds] });
  if (f.category) w.add('has(categories, {category:String})', { category: f.category });
  if (f.action) w.add('action = {action:String}', { action: f.action });
  if (f.purpose) w.add('purpose = {purpose:String}', { purpose: f.purpose });
  if (f.outcome) w.add('outcome = {outcome:String}', { outcome: f.outcome });
  if (f.code) w.add('has(codes, {code:String})', { code: f.code });
  if (f.recipientId) w.add('recipient_id = {recipientId:String}', { recipientId: f.recipientId });
  if (f.recipientIds) w.add('recipient_id IN {recipientIds:Array(String)}', { recipientIds: [...f.recipientIds] });
  return w;
}

/**
 * The newest `want` accesses matching `w` (which must not name tenants: they are `tenants`), from
 * the search's read model (`accesses_by_time`, ordered by tenant and time): one read per tenant,
 * each from the end of its key range and stopping when the page is full, merged here. `'*'` reads
 * every tenant stored (`db.storedTenants()`, a list kept for a few seconds). Repeated event ids
 * (identical stored copies) are dropped; if that leaves a page short, the read is repeated for more.
 */
export async function newestAccesses(
  db: DecisionReads,
  w: Where,
  tenants: '*' | readonly string[],
  want: number,
): Promise<AccessRow[]> {
  const list = tenants === '*' ? await db.storedTenants() : tenants;
  const byTenant = await Promise.all(list.map((t) => newestOfTenant(db, w, t, want)));
  const merged = byTenant.length === 1 ? (byTenant[0] as AccessRow[]) : byTenant.flat().sort(newestFirst);
  return merged.slice(0, want);
}

async function newestOfTenant(db: DecisionReads, w: Where, tenant: string, want: number): Promise<AccessRow[]> {
  const sql = `SELECT ${PACKED_ACCESS} FROM ${db.accessesByTime} WHERE tenant_id = {readTenant:String}${w.conds.map((c) => ` AND ${c}`).join('')}
     ORDER BY occurred_at DESC, event_id DESC LIMIT {readLimit:UInt32}`;
  for (let n = want; ; n *= 2) {
    const raw = accessRowsFromPacked(await db.text(sql, { ...w.params, readTenant: tenant, readLimit: n }, n, { point: true }));
    const rows = raw.filter((r, i) => i === 0 || r.event_id !== raw[i - 1]?.event_id);
    if (rows.length >= want || raw.length < n) return rows;
  }
}

// ---------- one subject's accesses (the subject report) ----------

/**
 * Lawful disclosures to authorities, the only accesses the subject-facing report may leave out
 * (DPDP §11(2)): exactly the decisions the enforcer marked LEGAL_DISCLOSURE.
 */
export const LAWFUL_DISCLOSURE_SQL = `has(codes, 'LEGAL_DISCLOSURE')`;

/** One subject's newest `limit` accesses in the range, from the subject report's read model, read alone. */
export async function subjectAccessRows(
  db: DecisionReads,
  q: { tenantId: string; subjectId: string; range: DateRange; limit: number },
): Promise<AccessRow[]> {
  const w = new Where()
    .add('tenant_id = {tenantId:String} AND subject_id = {subjectId:String}', { tenantId: q.tenantId, subjectId: q.subjectId })
    .range(q.range.from, q.range.to);
  return accessRowsFromPacked(
    await db.text(
      `SELECT ${PACKED_ACCESS} FROM ${db.subjectAccesses} ${w.sql()} ORDER BY occurred_at DESC, event_id DESC LIMIT {limit:UInt32}`,
      { ...w.params, limit: q.limit },
      undefined,
      { point: true },
    ),
  );
}

/**
 * Several subjects' accesses of one tenant in one read (at most `limit` per subject, over all time,
 * in no order): the subject report's batched read. No time range and no ORDER BY: both cost
 * ClickHouse more than the same work in TS (~0.1 ms per subject each).
 */
export async function subjectsAccessRows(
  db: DecisionReads,
  q: { tenantId: string; subjects: readonly string[]; limit: number },
): Promise<AccessRow[]> {
  return accessRowsFromPacked(
    await db.text(
      `SELECT ${PACKED_ACCESS} FROM ${db.subjectAccesses}
       WHERE tenant_id = {tenantId:String} AND subject_id IN {subjects:Array(String)}
       LIMIT {limit:UInt32} BY subject_id`,
      { tenantId: q.tenantId, subjects: [...q.subjects], limit: q.limit },
      q.subjects.length * q.limit,
      { point: true },
    ),
  );
}

export interface SubjectGroup {
  actor_id: string;
  actor_type: string;
  action: string;
  purpose: string;
  recipient_id: string;
  recipient_type: string;
  outcome: 'allow' | 'flag' | 'deny';
  categories: string[];
  basis: string[];
  subject_type: string;
  policy_version: string;
  n: number | string;
  first: string;
  last: string;
}

/** A subject's accesses aggregated by ClickHouse (for a subject with too many to list), `w` selecting the subject. */
export function subjectGroupRows(db: DecisionReads, w: Where): Promise<SubjectGroup[]> {
  return db.rows<SubjectGroup>(
    `SELECT actor_id, actor_type, action, purpose, recipient_id, recipient_type, outcome, categories, basis, subject_type, policy_version,
            count() AS n, min(occurred_at) AS first, max(occurred_at) AS last
     FROM ${db.decisions} ${w.sql()}
     GROUP BY actor_id, actor_type, action, purpose, recipient_id, recipient_type, outcome, categories, basis, subject_type, policy_version`,
    w.params,
  );
}

/** The newest `limit` accesses of `w` from `decisions` (a page of a view other than the search). */
export function accessRows(db: DecisionReads, w: Where, limit: number): Promise<AccessRow[]> {
  return db.rows<AccessRow>(
    `SELECT ${ACCESS_COLUMNS} FROM ${db.decisions} ${w.sql()} ORDER BY occurred_at DESC, event_id DESC LIMIT {limit:UInt32}`,
    { ...w.params, limit },
  );
}

// ---------- aggregates ----------

export interface OutcomeSums {
  allow: number | string;
  flag: number | string;
  deny: number | string;
  total: number | string;
}

const OUTCOME_SUMS = `countIf(outcome = 'allow') AS allow, countIf(outcome = 'flag') AS flag, countIf(outcome = 'deny') AS deny, count() AS total`;

/** One actor's accesses in `w`, summed several ways (the actor activity view). */
export async function actorActivityRows(db: DecisionReads, w: Where, limit: number) {
  const q = w.sql();
  const [totals, byCode, byCategory, byPurpose, byAction, daily, recent] = await Promise.all([
    db.rows<OutcomeSums & { subjects: number }>(
      `SELECT ${OUTCOME_SUMS}, uniqExact(tenant_id, subject_id) AS subjects FROM ${db.decisions} ${q}`,
      w.params,
    ),
    codeCountRows(db, w),
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
    db.rows<OutcomeSums & { day: string }>(
      `SELECT toString(toDate(occurred_at)) AS day, ${OUTCOME_SUMS} FROM ${db.decisions} ${q} GROUP BY day ORDER BY day`,
      w.params,
    ),
    accessRows(db, w, limit),
  ]);
  return { totals: totals[0], byCode, byCategory, byPurpose, byAction, daily, recent };
}

export const BUCKET_SQL = {
  hour: 'toStartOfHour(occurred_at)',
  day: 'toStartOfDay(occurred_at)',
  week: "toDateTime(toMonday(occurred_at), 'UTC')",
  month: "toDateTime(toStartOfMonth(occurred_at), 'UTC')",
} as const;

/** Outcome sums per time bucket. */
export function bucketRows(db: DecisionReads, w: Where, bucket: keyof typeof BUCKET_SQL) {
  return db.rows<OutcomeSums & { start: string }>(
    `SELECT ${BUCKET_SQL[bucket]} AS b, toString(b) AS start, ${OUTCOME_SUMS} FROM ${db.decisions} ${w.sql()} GROUP BY b ORDER BY b`,
    w.params,
  );
}

/** Decisions per reason code, most first. */
export async function codeCountRows(db: DecisionReads, w: Where): Promise<{ code: string; count: number }[]> {
  const rows = await db.rows<{ code: string; count: number | string }>(
    `SELECT arrayJoin(codes) AS code, count() AS count FROM ${db.decisions} ${w.sql()} GROUP BY code ORDER BY count DESC, code`,
    w.params,
  );
  return rows.map((r) => ({ code: r.code, count: Number(r.count) }));
}

/** Denials, flags and decisions per actor, most denied first. */
export function actorCountRows(db: DecisionReads, w: Where) {
  return db.rows<{ actor_id: string; deny: number; flag: number; total: number }>(
    `SELECT actor_id, countIf(outcome = 'deny') AS deny, countIf(outcome = 'flag') AS flag, count() AS total
     FROM ${db.decisions} ${w.sql()} GROUP BY actor_id ORDER BY deny DESC, flag DESC, actor_id LIMIT 10000`,
    w.params,
  );
}

/** Shares, exports, disclosures and processors' own processing, per party and agreement and per party (`w` selects them). */
export async function sharingRows(db: DecisionReads, w: Where, agreementIds: readonly string[]) {
  const partyExpr = `if(recipient_id != '', recipient_id, actor_id)`;
  const [byAgreement, byParty] = await Promise.all([
    db.rows<OutcomeSums & { party_id: string; agreement: string; subjects: number }>(
      `SELECT ${partyExpr} AS party_id,
              arrayJoin(if(empty(arrayFilter(x -> has({agreements:Array(String)}, x), basis)), [''], arrayFilter(x -> has({agreements:Array(String)}, x), basis))) AS agreement,
              ${OUTCOME_SUMS}, uniqExact(tenant_id, subject_id) AS subjects
       FROM ${db.decisions} ${w.sql()} GROUP BY party_id, agreement ORDER BY total DESC, party_id, agreement LIMIT 10000`,
      { ...w.params, agreements: [...agreementIds] },
    ),
    db.rows<OutcomeSums & { party_id: string; actions: string[] }>(
      `SELECT ${partyExpr} AS party_id,
              arraySort(groupUniqArray(if(recipient_id != '', toString(action), 'processing'))) AS actions, ${OUTCOME_SUMS}
       FROM ${db.decisions} ${w.sql()} GROUP BY party_id ORDER BY total DESC, party_id LIMIT 10000`,
      w.params,
    ),
  ]);
  return { byAgreement, byParty };
}

/** The condition selecting shares, exports, disclosures and processors' own processing. */
export const SHARED_SQL = `(recipient_id != '' OR actor_type = 'processor')`;

/** Disclosures per recipient (`w` selects the disclosures). */
export function disclosureCountRows(db: DecisionReads, w: Where) {
  return db.rows<{ recipient_id: string; lawful: number; without_basis: number; total: number }>(
    `SELECT recipient_id, countIf(has(codes, 'LEGAL_DISCLOSURE')) AS lawful, countIf(has(codes, 'DISCLOSURE_WITHOUT_LEGAL_BASIS')) AS without_basis,
            count() AS total
     FROM ${db.decisions} ${w.sql()} GROUP BY recipient_id ORDER BY total DESC, recipient_id LIMIT 1000`,
    w.params,
  );
}

/** A period's totals and the policy versions that decided them. */
export function totalRows(db: DecisionReads, w: Where) {
  return db.rows<OutcomeSums & { versions: string[] }>(
    `SELECT ${OUTCOME_SUMS}, arraySort(groupUniqArray(policy_version)) AS versions FROM ${db.decisions} ${w.sql()}`,
    w.params,
  );
}

/** Up to three examples of each reason code, oldest first. */
export function codeExampleRows(db: DecisionReads, w: Where) {
  return db.rows<{
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
  );
}

/** Actors with bulk access, most events first. */
export function bulkActorRows(db: DecisionReads, w: Where) {
  return db.rows<{ actor_id: string; events: number }>(
    `SELECT actor_id, count() AS events FROM ${db.decisions} ${w.sql()} AND has(codes, 'BULK_ACCESS')
     GROUP BY actor_id ORDER BY events DESC, actor_id LIMIT 100`,
    w.params,
  );
}
