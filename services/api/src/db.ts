/**
 * Reading the decisions table: every query is a fixed SQL text with `{name:Type}` parameters (no
 * value ever spliced into SQL), run with a time limit and a result-row limit. Column names live here
 * only, so a change to the table touches one file.
 */
import { READ_MODEL_PACKED_COLUMNS, READ_MODEL_TABLE, type Store, settingsClause } from '@custos/store';
import { type Directory, partyType } from './directory.js';
import { HttpError } from './errors.js';
import type { AccessItem } from './schemas.js';

export interface QueryLimits {
  /** seconds; ClickHouse's max_execution_time */
  timeoutS: number;
  /** ClickHouse's max_result_rows (result_overflow_mode=throw) */
  maxRows: number;
  /** ClickHouse's max_memory_usage per query, bytes (default 4 GiB) */
  maxMemoryBytes?: number;
  /** ClickHouse's max_bytes_to_read per query, uncompressed bytes (read_overflow_mode=throw; default 64 GiB) */
  maxBytesRead?: number;
}

export const DEFAULT_MAX_MEMORY_BYTES = 4 * 1024 ** 3;
export const DEFAULT_MAX_BYTES_READ = 64 * 1024 ** 3;

export type Params = Record<string, unknown>;

/** ClickHouse DateTime64(3) text in UTC, for `{p:DateTime64(3, 'UTC')}` parameters. */
export function chTime(d: Date): string {
  return d.toISOString().replace('T', ' ').replace('Z', '');
}

/** A DateTime64 value as ClickHouse returns it (`2026-10-01 00:00:00.000`) → ISO-8601 UTC. */
export function isoFromCh(s: string): string {
  return `${s.replace(' ', 'T')}Z`;
}

export const T = (p: string) => `{${p}:DateTime64(3, 'UTC')}`;

/** The access columns `subject_accesses_v2` (migration 0005) keeps as columns of their own. */
const OWN_FIELDS = ['event_id', 'tenant_id', 'occurred_at', 'decided_at', 'actor_id', 'subject_id'] as const;

/**
 * The columns of one access: the read model's own, then those it packs into `access`
 * (JSONCompactEachRow in this order; migration 0005, whose list @custos/store keeps and tests).
 * Also the order of a `PACKED_ACCESS` line.
 */
export const ACCESS_FIELDS = [...OWN_FIELDS, ...READ_MODEL_PACKED_COLUMNS] as const satisfies readonly (keyof AccessRow)[];

export const ACCESS_COLUMNS = ACCESS_FIELDS.join(', ');

// Compile-time: every field of AccessRow is read (typecheck names a missing one here).
type UnreadField = Exclude<keyof AccessRow, (typeof ACCESS_FIELDS)[number]>;
const _everyFieldRead: [UnreadField] extends [never] ? true : UnreadField = true;
void _everyFieldRead;

/**
 * One access of `subject_accesses_v2` as one JSON array (a line of TabSeparatedRaw): its own
 * columns, formatted as JSONCompactEachRow formats them, followed by the packed ones.
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

export interface AccessRow {
  event_id: string;
  tenant_id: string;
  occurred_at: string;
  decided_at: string;
  outcome: AccessItem['outcome'];
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
  action: AccessItem['action'];
  purpose: string;
  recipient_id: string;
  recipient_type: string;
  legal_basis: string;
  data_collected_at: string | null;
  record_count: number;
  source_service: string;
}

export function accessFromRow(r: AccessRow, dir: Directory): AccessItem {
  const item: AccessItem = {
    eventId: r.event_id,
    tenantId: r.tenant_id,
    occurredAt: isoFromCh(r.occurred_at),
    decidedAt: isoFromCh(r.decided_at),
    outcome: r.outcome,
    reasons: r.codes.map((code, i) => ({ code, message: r.reason_messages[i] ?? '' })),
    basis: r.basis,
    policyVersion: r.policy_version,
    actor: { id: r.actor_id, type: r.actor_type, name: dir.actorName(r.actor_id), department: dir.department(r.actor_id) },
    subject: { id: r.subject_id, type: r.subject_type },
    categories: r.categories,
    fields: r.fields,
    action: r.action,
    purpose: r.purpose,
    recordCount: Number(r.record_count),
    sourceService: r.source_service,
  };
  if (r.recipient_id) {
    // The bundle says what a party is; the type the event claimed is kept beside it when it differs.
    const type = partyType(dir, r.recipient_id);
    item.recipient = { id: r.recipient_id, type, name: dir.actorName(r.recipient_id) };
    if (r.recipient_type !== type) item.recipient.claimedType = r.recipient_type;
  }
  if (r.legal_basis) item.legalBasis = r.legal_basis;
  if (r.data_collected_at) item.dataCollectedAt = isoFromCh(r.data_collected_at);
  return item;
}

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
    return this.add(`occurred_at >= ${T('rFrom')} AND occurred_at < ${T('rTo')}`, { rFrom: chTime(from), rTo: chTime(to) });
  }

  /** `'*'` reads every tenant; a list reads those only (an empty list reads nothing). */
  tenants(tenants: '*' | string[]): this {
    if (tenants === '*') return this;
    return this.add('tenant_id IN {scopeTenants:Array(String)}', { scopeTenants: tenants });
  }

  sql(): string {
    return this.conds.length ? `WHERE ${this.conds.join(' AND ')}` : '';
  }
}

/** ClickHouse error codes worth a specific answer. */
const TIMEOUT_CODES = new Set(['159', 'TIMEOUT_EXCEEDED']);
const TOO_MANY_ROWS = new Set(['396', 'TOO_MANY_ROWS_OR_BYTES', '307', 'TOO_MANY_BYTES']);
const TOO_MUCH_MEMORY = new Set(['241', 'MEMORY_LIMIT_EXCEEDED']);

export class AuditDb {
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

  private async run<T>(f: () => Promise<T>): Promise<T> {
    try {
      return await f();
    } catch (err) {
      const code = err && typeof err === 'object' && 'code' in err ? String(err.code) : '';
      const type = err && typeof err === 'object' && 'type' in err ? String(err.type) : '';
      if (TIMEOUT_CODES.has(code) || TIMEOUT_CODES.has(type)) {
        throw new HttpError(503, 'the query took too long; narrow the time range or add filters', undefined, {
          'Retry-After': '5',
        });
      }
      if (TOO_MANY_ROWS.has(code) || TOO_MANY_ROWS.has(type)) {
        throw new HttpError(
          422,
          'the result is too large, or the query would read too much; narrow the time range or add filters',
        );
      }
      if (TOO_MUCH_MEMORY.has(code) || TOO_MUCH_MEMORY.has(type)) {
        throw new HttpError(422, 'the query needs more memory than a request may take; narrow the time range or add filters');
      }
      throw err;
    }
  }
}

// ---------- cursors ----------

/** An opaque page cursor: the sort key (occurred_at, event_id) of the last row served. */
export function encodeCursor(occurredAt: string, eventId: string): string {
  return Buffer.from(JSON.stringify([occurredAt, eventId])).toString('base64url');
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const CH_TIME = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d{1,3})?$/;

export function decodeCursor(cursor: string): { occurredAt: string; eventId: string } {
  const bad = () =>
    new HttpError(400, 'invalid query: cursor', [{ field: 'cursor', message: 'must be a cursor returned by a previous page' }]);
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw bad();
  }
  if (!Array.isArray(v) || v.length !== 2) throw bad();
  const [t, e] = v as unknown[];
  if (typeof t !== 'string' || typeof e !== 'string' || !CH_TIME.test(t) || !UUID.test(e)) throw bad();
  const d = new Date(isoFromCh(t));
  if (Number.isNaN(d.getTime()) || d.getUTCFullYear() < 1970 || d.getUTCFullYear() >= 2200) throw bad();
  return { occurredAt: chTime(d), eventId: e.toLowerCase() };
}
