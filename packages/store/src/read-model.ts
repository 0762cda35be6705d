/**
 * The subject report's read model (`subject_accesses_v2`, migration 0005) is a copy of `decisions`
 * kept by a materialized view. The hash chain covers `decisions` only, so an edit of the copy would
 * change subject reports unnoticed; `checkReadModel` (run by `verifyRange`) compares the two, row for
 * row, and names what differs. A copy's row is recomputed from `decisions` exactly as the view
 * computes it, and both sides are reduced to a 64-bit hash of all their columns: a row of either side
 * whose hash the other side lacks is missing, altered or inserted.
 */
import { queryRows, type Store } from './client.js';
import { chTimeMs } from './decisions.js';

export const READ_MODEL_TABLE = 'subject_accesses_v2';

/** The search's read model (migration 0008): the same packed rows, keyed by tenant and time. */
export const SEARCH_TABLE = 'accesses_by_time';

/**
 * The columns of `decisions` packed (JSONCompactEachRow, in this order) into the read model's
 * `access`; migration 0005 writes the same list (a unit test compares them).
 */
export const READ_MODEL_PACKED_COLUMNS = [
  'outcome',
  'codes',
  'reason_messages',
  'basis',
  'policy_version',
  'actor_type',
  'subject_type',
  'categories',
  'fields',
  'action',
  'purpose',
  'recipient_id',
  'recipient_type',
  'legal_basis',
  'data_collected_at',
  'record_count',
  'source_service',
] as const;

/** The hash of one read-model row, from the read model's columns or from `decisions`' (same casts). */
function rowHash(src: 'read_model' | 'decisions'): string {
  const lag =
    src === 'read_model' ? 'decided_lag_ms' : 'toUnixTimestamp64Milli(decided_at) - toUnixTimestamp64Milli(occurred_at)';
  const authority = src === 'read_model' ? 'authority' : `action = 'disclose' OR recipient_type = 'authority'`;
  const access =
    src === 'read_model' ? 'access' : `formatRowNoNewline('JSONCompactEachRow', ${READ_MODEL_PACKED_COLUMNS.join(', ')})`;
  return `cityHash64(toString(tenant_id), subject_id, toString(occurred_at), toString(event_id), toInt64(${lag}),
    toString(actor_id), toUInt16(kafka_partition), toUInt8(${authority}), ${access})`;
}

export interface ReadModelRow {
  tenantId: string;
  subjectId: string;
  eventId: string;
  chain: number;
  occurredAt: string;
}

export interface ReadModelCheck {
  /** false when the store has no read model (migrated before 0005) */
  checked: boolean;
  /** rows of `decisions` the read model lacks or holds altered */
  missing: { count: number; rows: ReadModelRow[] };
  /** rows of the read model that no row of `decisions` gives: altered or inserted */
  extra: { count: number; rows: ReadModelRow[] };
}

export interface ReadModelCheckOptions {
  /** rows decided in [from, to) */
  from?: Date | undefined;
  to?: Date | undefined;
  chains?: readonly number[] | undefined;
  /**
   * rows decided before this are skipped: their retention may have run out, and each table's TTL
   * merge removes them at its own time
   */
  horizon?: Date | undefined;
  /** rows listed per side at most (counts stay exact) */
  limit?: number | undefined;
}

export async function checkReadModel(store: Store, opts: ReadModelCheckOptions = {}): Promise<ReadModelCheck> {
  const none = { count: 0, rows: [] };
  const [exists] = await queryRows<{ n: number }>(
    store,
    'SELECT count() AS n FROM system.tables WHERE database = {db:String} AND name = {t:String}',
    { db: store.database, t: READ_MODEL_TABLE },
  );
  if (!Number(exists?.n)) return { checked: false, missing: none, extra: none };
  const params: Record<string, unknown> = { limit: opts.limit ?? 20 };
  const conds: string[] = [];
  // the later of the range's start and the retention horizon
  const since = Math.max(opts.from?.getTime() ?? Number.NEGATIVE_INFINITY, opts.horizon?.getTime() ?? Number.NEGATIVE_INFINITY);
  if (since > Number.NEGATIVE_INFINITY) {
    conds.push(`decided_at >= {from:DateTime64(3, 'UTC')}`);
    params.from = chTimeMs(since);
  }
  if (opts.to) {
    conds.push(`decided_at < {to:DateTime64(3, 'UTC')}`);
    params.to = chTimeMs(opts.to.getTime());
  }
  if (opts.chains?.length) {
    conds.push('kafka_partition IN {chains:Array(UInt16)}');
    params.chains = opts.chains;
  }
  const where = conds.length ? `WHERE ${conds.join(' AND ')}` : '';
  const decisions = store.table('decisions');
  const model = store.table(READ_MODEL_TABLE);
  // GLOBAL: on a cluster both are Distributed tables, and the other side's set must be built once
  const side = async (src: 'read_model' | 'decisions') => {
    const [from, other, otherSrc] =
      src === 'read_model' ? [model, decisions, 'decisions' as const] : [decisions, model, 'read_model' as const];
    const diff = `${from} ${where ? `${where} AND` : 'WHERE'} ${rowHash(src)} GLOBAL NOT IN (SELECT ${rowHash(otherSrc)} FROM ${other} ${where})`;
    const [n] = await queryRows<{ n: number }>(store, `SELECT count() AS n FROM ${diff}`, params);
    // the usual answer: nothing differs, and the second pass over both tables is not needed
    if (!Number(n?.n)) return { count: 0, rows: [] };
    const rows = await queryRows<ReadModelRow>(
      store,
      `SELECT toString(tenant_id) AS tenantId, subject_id AS subjectId, toString(event_id) AS eventId,
              kafka_partition AS chain, toString(occurred_at) AS occurredAt
       FROM ${diff} ORDER BY tenant_id, subject_id, occurred_at LIMIT {limit:UInt32}`,
      params,
    );
    return { count: Number(n?.n ?? 0), rows: rows.map((r) => ({ ...r, chain: Number(r.chain) })) };
  };
  // One pass over each table first: the usual answer is that both hold the same rows, and the
  // NOT IN passes below (each reading both tables) are needed only to count and name differences.
  const [presence] = await queryRows<{ d: number; m: number }>(
    store,
    `SELECT countIf(NOT in_d) AS d, countIf(NOT in_m) AS m
     FROM (SELECT DISTINCT ${rowHash('decisions')} AS h, true AS in_d FROM ${decisions} ${where}) AS a
     GLOBAL FULL OUTER JOIN (SELECT DISTINCT ${rowHash('read_model')} AS h, true AS in_m FROM ${model} ${where}) AS b USING h`,
    params,
  );
  if (presence && !Number(presence.d) && !Number(presence.m)) return { checked: true, missing: none, extra: none };
  const [missing, extra] = await Promise.all([side('decisions'), side('read_model')]);
  return { checked: true, missing, extra };
}
