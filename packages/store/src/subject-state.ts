/**
 * The history of subject-state changes (table `subject_state_history`, migration 0007): every change
 * read from the `subject-state` topic, identified by its position there. The topic is compacted and
 * keeps only the latest change per family; the history keeps them all.
 */
import { type Store, settingsClause } from './client.js';
import { chTime, isoTime } from './decisions.js';

export interface SubjectStateRow {
  tenantId: string;
  subjectId: string;
  /** ISO time the change took effect */
  occurredAt: string;
  eventId: string;
  change: string;
  reference: string | null;
  partition: number;
  offset: string;
}

export interface StoredSubjectStateRow extends SubjectStateRow {
  storedAt: string;
}

const COLUMNS = [
  'tenant_id',
  'subject_id',
  'occurred_at',
  'event_id',
  'change',
  'reference',
  'kafka_partition',
  'kafka_offset',
] as const;

/**
 * Inserts the rows. Idempotent: the same positions inserted again are collapsed by the table's
 * engine, and readers take one row per position meanwhile.
 */
export async function insertSubjectStateRows(store: Store, rows: readonly SubjectStateRow[]): Promise<void> {
  if (rows.length === 0) return;
  const body = rows
    .map((r) =>
      JSON.stringify([
        r.tenantId,
        r.subjectId,
        chTime(r.occurredAt),
        r.eventId,
        r.change,
        r.reference,
        r.partition,
        Number(r.offset),
      ]),
    )
    .join('\n');
  await store.insertRaw({
    table: store.table('subject_state_history'),
    columns: COLUMNS,
    format: 'JSONCompactEachRow',
    body: Buffer.from(`${body}\n`),
  });
}

/** The highest offset of `partition` the history holds (-1 when none): records at or below it are stored. */
export async function storedSubjectStateOffset(store: Store, partition: number): Promise<bigint> {
  const rs = await store.client.query({
    query: `SELECT toString(max(kafka_offset)) AS o, count() AS n FROM ${store.table('subject_state_history')}
            WHERE kafka_partition = {partition:UInt16}`,
    query_params: { partition },
    format: 'JSONEachRow',
  });
  const [r] = await rs.json<{ o: string; n: number }>();
  return r && Number(r.n) > 0 ? BigInt(r.o) : -1n;
}

/** A row as the history query returns it (`subjectStateRow` maps it). */
export interface SubjectStateRaw {
  tenant_id: string;
  subject_id: string;
  occurred_at: string;
  event_id: string;
  change: string;
  reference: string | null;
  kafka_partition: number;
  kafka_offset: number | string;
  stored_at: string;
}

/**
 * The query of one subject's history in one tenant (or in each of `tenants`, `*` for all), oldest
 * first by the time each change took effect, then by its position on the topic; one row per
 * position. Without SETTINGS and LIMIT: callers add their own.
 */
export function subjectStateHistoryQuery(
  store: Store,
  q: { subjectId: string; tenants: '*' | readonly string[] },
): { sql: string; params: Record<string, unknown> } {
  const tenantSql = q.tenants === '*' ? '' : 'AND tenant_id IN {tenants:Array(String)}';
  return {
    sql: `SELECT tenant_id, subject_id, occurred_at, toString(event_id) AS event_id, change, reference, kafka_partition,
                 kafka_offset, min(stored_at) OVER (PARTITION BY kafka_partition, kafka_offset) AS stored_at
          FROM ${store.table('subject_state_history')}
          WHERE subject_id = {subjectId:String} ${tenantSql}
          ORDER BY occurred_at, kafka_partition, kafka_offset
          LIMIT 1 BY kafka_partition, kafka_offset`,
    params: { subjectId: q.subjectId, ...(q.tenants === '*' ? {} : { tenants: [...q.tenants] }) },
  };
}

export function subjectStateRow(r: SubjectStateRaw): StoredSubjectStateRow {
  return {
    tenantId: r.tenant_id,
    subjectId: r.subject_id,
    occurredAt: isoTime(r.occurred_at),
    eventId: r.event_id,
    change: r.change,
    reference: r.reference,
    partition: Number(r.kafka_partition),
    offset: String(r.kafka_offset),
    storedAt: isoTime(r.stored_at),
  };
}

/** One subject's history (see `subjectStateHistoryQuery`). */
export async function subjectStateHistory(
  store: Store,
  q: { subjectId: string; tenants: '*' | readonly string[]; limit?: number; settings?: Record<string, number | string> },
): Promise<StoredSubjectStateRow[]> {
  const { sql, params } = subjectStateHistoryQuery(store, q);
  const rs = await store.client.query({
    query: `${sql}\nLIMIT {limit:UInt32}${settingsClause(q.settings ?? {})}`,
    query_params: { ...params, limit: q.limit ?? 10_000 },
    format: 'JSONEachRow',
  });
  return (await rs.json<SubjectStateRaw>()).map(subjectStateRow);
}
