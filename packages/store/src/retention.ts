/**
 * Retention of the audit trail: rows are deleted by a TTL on decided_at (when the record was made,
 * which follows the chain order), `days` after it — at least 365 (DPDP Rules 8(3)) — and never while
 * a legal hold covering the row is in force. The TTL is derived from configuration and applied with
 * ALTER … MODIFY TTL when it changed (not a migration: migrations describe structure, this is policy).
 */
import { queryRows, type Store } from './client.js';

export interface LegalHold {
  /** a reference, e.g. a case number */
  id: string;
  /** rows of this tenant (all tenants when absent) */
  tenantId?: string | undefined;
  /** rows of this subject (all subjects when absent) */
  subjectId?: string | undefined;
  /** rows of this actor (all actors when absent) */
  actorId?: string | undefined;
  /** held until this date (YYYY-MM-DD, UTC); held indefinitely when absent */
  until?: string | undefined;
}

export interface RetentionConfig {
  days: number;
  holds: LegalHold[];
}

export const MIN_RETENTION_DAYS = 365;
/** The latest DateTime ClickHouse represents comfortably; "held until released". */
const INDEFINITE = '2105-12-31 00:00:00';

/** A ClickHouse string literal. */
export function sqlString(s: string): string {
  return `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/**
 * The TTL for the configured retention and holds. `decidedAt` is the SQL for decided_at in the table
 * the TTL is for (a column in `decisions`; an expression in the read model, whose decided_at is an
 * ALIAS, which a TTL cannot use).
 */
export function ttlExpression(cfg: RetentionConfig, decidedAt = 'decided_at'): string {
  if (!Number.isInteger(cfg.days) || cfg.days < MIN_RETENTION_DAYS) {
    throw new Error(`audit retention must be at least ${MIN_RETENTION_DAYS} days, not ${cfg.days}`);
  }
  const base = `toDateTime(${decidedAt}, 'UTC') + toIntervalDay(${cfg.days})`;
  if (cfg.holds.length === 0) return base;
  const terms = cfg.holds.map((h) => {
    const conds = [
      h.tenantId !== undefined ? `tenant_id = ${sqlString(h.tenantId)}` : '',
      h.subjectId !== undefined ? `subject_id = ${sqlString(h.subjectId)}` : '',
      h.actorId !== undefined ? `actor_id = ${sqlString(h.actorId)}` : '',
    ].filter(Boolean);
    if (h.until !== undefined && !/^\d{4}-\d{2}-\d{2}$/.test(h.until))
      throw new Error(`legal hold ${h.id}: until must be YYYY-MM-DD`);
    const until = `toDateTime(${sqlString(h.until ? `${h.until} 00:00:00` : INDEFINITE)}, 'UTC')`;
    return conds.length ? `if(${conds.join(' AND ')}, ${until}, toDateTime(0, 'UTC'))` : until;
  });
  return `greatest(${base}, ${terms.join(', ')})`;
}

/**
 * The tables the retention TTL applies to, each with the store_meta key of the TTL last applied to it
 * and its decided_at: `decisions`, `subject_accesses_v2` (migration 0005, the subject report's read
 * model) and `accesses_by_time` (migration 0008, the search's), which must hold exactly the rows
 * `decisions` holds. (0004's read model is dropped by
 * 0005, which every migration run applies before the retention.)
 */
const TTL_TABLES = [
  { table: 'decisions', metaKey: 'decisions.ttl', decidedAt: 'decided_at' },
  {
    table: 'subject_accesses_v2',
    metaKey: 'subject_accesses_v2.ttl',
    decidedAt: 'occurred_at + toIntervalMillisecond(decided_lag_ms)',
  },
  {
    table: 'accesses_by_time',
    metaKey: 'accesses_by_time.ttl',
    decidedAt: 'occurred_at + toIntervalMillisecond(decided_lag_ms)',
  },
] as const;

/** Applies the configured TTL if it differs from the one last applied. Returns whether it changed. */
export async function applyRetention(
  store: Store,
  cfg: RetentionConfig,
  opts: { cluster?: string | undefined } = {},
): Promise<boolean> {
  const meta = store.table('store_meta');
  const tables = await queryRows<{ name: string }>(store, 'SELECT name FROM system.tables WHERE database = {db:String}', {
    db: store.database,
  });
  const existing = new Set(tables.map((t) => t.name));
  let changed = false;
  for (const { table, metaKey, decidedAt } of TTL_TABLES) {
    const expr = ttlExpression(cfg, decidedAt);
    const local = opts.cluster ? `${table}_local` : table;
    if (!existing.has(local)) continue;
    const [cur] = await queryRows<{ value: string }>(
      store,
      `SELECT argMax(value, updated_at) AS value FROM ${meta} WHERE key = {k:String} GROUP BY key`,
      { k: metaKey },
    );
    if (cur?.value === expr) continue;
    // Rewrites the TTL information of existing parts (a background mutation), so a new or lengthened
    // hold protects rows already stored, and a shorter retention applies to them too.
    // On a cluster the TTL belongs to the replicated local tables, altered everywhere.
    const target = opts.cluster ? `${store.table(local)} ON CLUSTER ${opts.cluster}` : store.table(table);
    await store.client.command({ query: `ALTER TABLE ${target} MODIFY TTL ${expr}` });
    await store.client.insert({ table: meta, values: [{ key: metaKey, value: expr }], format: 'JSONEachRow' });
    changed = true;
  }
  return changed;
}

/** The oldest decided_at a row may have and still be required to exist (no hold considered). */
export function retentionHorizon(days: number, now = Date.now()): Date {
  return new Date(now - days * 86_400_000);
}
