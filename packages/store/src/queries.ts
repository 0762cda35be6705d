/**
 * The audit questions the store is laid out for, as fixed SQL with parameters: who accessed a
 * subject (primary key), what an actor accessed (the by_actor projection), and violations grouped by
 * code and department (one month partition, joined with the actor directory).
 *
 * No FINAL: the sink stores every topic record once, so reports read plain rows; a byte-identical
 * copy of a chain entry (a batch written twice by a fenced-out sink) is merged away by ClickHouse
 * and can be excluded meanwhile with `LIMIT 1 BY event_id`, which these queries do.
 */
import { queryRows, type Store } from './client.js';
import { chTime } from './decisions.js';

export interface AccessSummary {
  event_id: string;
  occurred_at: string;
  actor_id: string;
  subject_id: string;
  subject_type: string;
  outcome: string;
  codes: string[];
  categories: string[];
  action: string;
  purpose: string;
  recipient_id: string;
}

const COLS =
  'event_id, occurred_at, actor_id, subject_id, subject_type, outcome, codes, categories, action, purpose, recipient_id';
const t = (d: Date) => chTime(d.toISOString());

/** Who accessed subject S of tenant T in [from, to). */
export function accessesBySubject(
  store: Store,
  q: { tenantId: string; subjectId: string; from: Date; to: Date; limit?: number },
): Promise<AccessSummary[]> {
  return queryRows<AccessSummary>(
    store,
    `SELECT ${COLS} FROM ${store.table('decisions')}
     WHERE tenant_id = {tenant:String} AND subject_id = {subject:String}
       AND occurred_at >= {from:DateTime64(3, 'UTC')} AND occurred_at < {to:DateTime64(3, 'UTC')}
     ORDER BY occurred_at DESC, event_id LIMIT 1 BY event_id LIMIT {limit:UInt32}`,
    { tenant: q.tenantId, subject: q.subjectId, from: t(q.from), to: t(q.to), limit: q.limit ?? 1000 },
  );
}

/** What actor A accessed in tenant T in [from, to). */
export function accessesByActor(
  store: Store,
  q: { tenantId: string; actorId: string; from: Date; to: Date; limit?: number },
): Promise<AccessSummary[]> {
  return queryRows<AccessSummary>(
    store,
    `SELECT ${COLS} FROM ${store.table('decisions')}
     WHERE tenant_id = {tenant:String} AND actor_id = {actor:String}
       AND occurred_at >= {from:DateTime64(3, 'UTC')} AND occurred_at < {to:DateTime64(3, 'UTC')}
     ORDER BY occurred_at DESC, event_id LIMIT 1 BY event_id LIMIT {limit:UInt32}`,
    { tenant: q.tenantId, actor: q.actorId, from: t(q.from), to: t(q.to), limit: q.limit ?? 1000 },
  );
}

export interface ViolationCount {
  code: string;
  department: string;
  violations: number;
}

/** Denied accesses in [from, to), by reason code and the actor's department ('' when unknown). */
export function violationsByCodeAndDepartment(
  store: Store,
  q: { from: Date; to: Date; tenantId?: string },
): Promise<ViolationCount[]> {
  return queryRows<ViolationCount>(
    store,
    `SELECT code, department, count() AS violations
     FROM (
       SELECT actor_id, arrayJoin(codes) AS code FROM ${store.table('decisions')}
       WHERE outcome = 'deny' AND occurred_at >= {from:DateTime64(3, 'UTC')} AND occurred_at < {to:DateTime64(3, 'UTC')}
         ${q.tenantId ? 'AND tenant_id = {tenant:String}' : ''}
     ) AS v
     LEFT JOIN (
       SELECT actor_id, argMax(department, updated_at) AS department FROM ${store.table('actor_directory')} GROUP BY actor_id
     ) AS d USING (actor_id)
     GROUP BY code, department ORDER BY violations DESC, code, department`,
    { from: t(q.from), to: t(q.to), ...(q.tenantId ? { tenant: q.tenantId } : {}) },
  );
}

/** Loads departments from the policy bundle's staff directory. */
export async function syncActorDirectory(
  store: Store,
  staff: readonly { id: string; department?: string | undefined }[],
): Promise<void> {
  const values = staff.map((s) => ({ actor_id: s.id, department: s.department ?? '' }));
  if (values.length === 0) return;
  await store.client.insert({ table: store.table('actor_directory'), values, format: 'JSONEachRow' });
}
