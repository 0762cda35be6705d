/**
 * The read models — the subject report's (`subject_accesses_v2`, migration 0005) and the search's
 * (`accesses_by_time`, migration 0008) — are copies of `decisions` kept by materialized views. The
 * hash chain covers `decisions` only, so an edit of a copy would change subject reports or search
 * results unnoticed; `checkReadModels` (run by `verifyRange`) compares each with `decisions`, row for
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

/** One read model: its table and how one of its rows hashes, from its own columns or from `decisions`'. */
interface ModelSpec {
  table: string;
  hash: (src: 'read_model' | 'decisions') => string;
}

const lagOf = (src: 'read_model' | 'decisions') =>
  src === 'read_model' ? 'decided_lag_ms' : 'toUnixTimestamp64Milli(decided_at) - toUnixTimestamp64Milli(occurred_at)';
const accessOf = (src: 'read_model' | 'decisions') =>
  src === 'read_model' ? 'access' : `formatRowNoNewline('JSONCompactEachRow', ${READ_MODEL_PACKED_COLUMNS.join(', ')})`;

/** Both read models, each row hashed over all its columns, computed from `decisions` exactly as its view does. */
const MODELS: readonly ModelSpec[] = [
  {
    table: READ_MODEL_TABLE,
    hash: (src) => {
      const authority = src === 'read_model' ? 'authority' : `action = 'disclose' OR recipient_type = 'authority'`;
      return `cityHash64(toString(tenant_id), subject_id, toString(occurred_at), toString(event_id), toInt64(${lagOf(src)}),
    toString(actor_id), toUInt16(kafka_partition), toUInt8(${authority}), ${accessOf(src)})`;
    },
  },
  {
    table: SEARCH_TABLE,
    hash: (src) =>
      `cityHash64(toString(tenant_id), subject_id, toString(occurred_at), toString(event_id), toInt64(${lagOf(src)}),
    toString(actor_id), toString(actor_type), toString(outcome), toString(codes), toString(categories), toString(action),
    toString(purpose), toString(recipient_id), toUInt16(kafka_partition), ${accessOf(src)})`,
  },
];

export interface ReadModelRow {
  tenantId: string;
  subjectId: string;
  eventId: string;
  chain: number;
  occurredAt: string;
}

export interface ReadModelCheck {
  /** the read model's table */
  table: string;
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

/**
 * Compares every read model the store has (the subject report's and the search's; a store migrated
 * before them has fewer) with `decisions`. One result per read model compared.
 */
export async function checkReadModels(store: Store, opts: ReadModelCheckOptions = {}): Promise<ReadModelCheck[]> {
  const present = await queryRows<{ name: string }>(
    store,
    'SELECT name FROM system.tables WHERE database = {db:String} AND name IN {t:Array(String)}',
    { db: store.database, t: MODELS.map((m) => m.table) },
  );
  const names = new Set(present.map((r) => r.name));
  const models = MODELS.filter((m) => names.has(m.table));
  if (models.length === 0) return [];
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
  // GLOBAL: on a cluster the tables are Distributed, and the other side's set must be built once
  const side = async (m: ModelSpec, src: 'read_model' | 'decisions') => {
    const model = store.table(m.table);
    const [from, other, otherSrc] =
      src === 'read_model' ? [model, decisions, 'decisions' as const] : [decisions, model, 'read_model' as const];
    const diff = `${from} ${where ? `${where} AND` : 'WHERE'} ${m.hash(src)} GLOBAL NOT IN (SELECT ${m.hash(otherSrc)} FROM ${other} ${where})`;
    const [n] = await queryRows<{ n: number }>(store, `SELECT count() AS n FROM ${diff}`, params);
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
  // One pass over each table first, `decisions` read once for all read models: every row's hash
  // tagged 1 (from decisions) or 2 (from the read model), per read model; a hash not tagged 3 in
  // all differs. The usual answer is that none does, and the NOT IN passes below (each reading both
  // tables) are needed only to count and name differences.
  const fromDecisions = `SELECT arrayJoin([${models.map((m, i) => `(toUInt8(${i}), ${m.hash('decisions')})`).join(', ')}]) AS mh,
            mh.1 AS m, mh.2 AS h, toUInt8(1) AS tag FROM ${decisions} ${where}`;
  const fromModels = models.map(
    (m, i) => `SELECT toUInt8(${i}) AS m, ${m.hash('read_model')} AS h, toUInt8(2) AS tag FROM ${store.table(m.table)} ${where}`,
  );
  const presence = await queryRows<{ m: number; n: number }>(
    store,
    `SELECT m, countIf(tags != 3) AS n
     FROM (SELECT m, h, groupBitOr(tag) AS tags
           FROM (SELECT m, h, tag FROM (${fromDecisions}) ${fromModels.map((q) => `UNION ALL ${q}`).join(' ')})
           GROUP BY m, h)
     GROUP BY m`,
    params,
  );
  const differs = new Set(presence.filter((r) => Number(r.n) > 0).map((r) => Number(r.m)));
  const none = { count: 0, rows: [] };
  return Promise.all(
    models.map(async (m, i) => {
      if (!differs.has(i)) return { table: m.table, missing: none, extra: none };
      const [missing, extra] = await Promise.all([side(m, 'decisions'), side(m, 'read_model')]);
      return { table: m.table, missing, extra };
    }),
  );
}
