/**
 * The subject report's read model (`subject_accesses_v2`, migration 0005) against `decisions`: the same
 * accesses, value for value, including strings that need escaping, nulls, copies of a decision, rows
 * inserted before the view existed (the migration's backfill) and the subject-facing variant.
 */
import { createStore, loadMigrations, migrate, type Store, toRow } from '@custos/store';
import { infraEnv, testStore } from '@custos/test/support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadDirectory } from './app.js';
import { ACCESS_COLUMNS, type AccessRow, AuditDb, accessFromRow } from './db.js';
import { subjectData } from './queries.js';
import { SubjectReads, uuidOrderKey } from './subject-reads.js';
import { fixtureDecisions, insertRows } from './testing/index.js';

let store: Store;
let db: AuditDb;
const dir = loadDirectory();
const range = { from: new Date('2016-01-01T00:00:00Z'), to: new Date('2027-01-01T00:00:00Z') };

const tricky = [
  'quote " and \' apostrophe',
  'back\\slash, tab\tand newline\nand CR\r',
  'emoji 🦉, Devanagari देवनागरी, NUL-free control \u0001\u001f',
  '{"looks":"like json"}',
];

beforeAll(async () => {
  const { database, chdbPath } = testStore('subject');
  store = createStore({ url: infraEnv().clickhouseUrl, database, chdbPath });
  // rows stored before migration 0004, and between 0004 and 0005 (when 0004's read model was fed),
  // reach the read model through 0005's backfill
  await migrate(store, loadMigrations().slice(0, 3));
  const ds = fixtureDecisions();
  const rows = ds.map((x, i) => toRow(x, 0, String(i))) as unknown as Record<string, unknown>[];
  await insertRows(store, rows.slice(0, 6));
  await migrate(store, loadMigrations().slice(0, 4));
  await insertRows(store, rows.slice(6, 10));
  await migrate(store);
  // …and rows stored after it through the materialized view, one of them twice (a stored copy)
  const cust = rows.find((r) => r.subject_id === 'cust-1001') as Record<string, unknown>;
  const extra = tricky.map((text, i) => ({
    ...cust,
    event_id: `00000000-0000-4000-8000-00000000000${i}`,
    occurred_at: `2026-09-0${i + 1} 10:00:00.123`,
    decided_at: `2026-09-0${i + 1} 10:00:00.456`,
    codes: ['ROLE_NOT_AUTHORIZED'],
    reason_messages: [text],
    legal_basis: text,
    source_service: `svc-${i}`,
    data_collected_at: i % 2 ? '2020-01-02 03:04:05.678' : null,
    record_count: 4_000_000_000 + i,
    ...(i === 3 ? { action: 'disclose', recipient_id: 'a-kolkata-police', recipient_type: 'authority' } : {}),
  }));
  // two accesses in the same millisecond, whose event ids ClickHouse orders unlike their text
  const tie = ['aaaaaaaa-0000-4000-8000-000000000001', '11111111-0000-4000-8000-000000000002'].map((event_id) => ({
    ...cust,
    event_id,
    occurred_at: '2026-09-20 10:00:00.000',
  }));
  await insertRows(store, [...rows.slice(10), ...extra, extra[0] as object, ...tie]);
  db = new AuditDb(store, { timeoutS: 30, maxRows: 100_000 });
});
afterAll(async () => {
  await store?.client.command({ query: `DROP DATABASE IF EXISTS ${store.database}` }).catch(() => {});
  await store?.close();
});

/** The accesses of a subject as read from `decisions` itself. */
async function fromDecisions(tenantId: string, subjectId: string, variant: 'full' | 'subject') {
  const rows = await db.rows<AccessRow>(
    `SELECT DISTINCT ${ACCESS_COLUMNS} FROM ${db.decisions}
     WHERE tenant_id = {t:String} AND subject_id = {s:String}
       ${variant === 'subject' ? `AND NOT has(codes, 'LEGAL_DISCLOSURE')` : ''}
     ORDER BY occurred_at DESC, event_id DESC`,
    { t: tenantId, s: subjectId },
  );
  return rows.map((r) => accessFromRow(r, dir));
}

describe('subject_accesses_v2 (the subject report read model)', () => {
  it('holds every decision: backfilled, then fed by the view', async () => {
    const count = async (t: string) =>
      Number((await db.rows<{ n: number }>(`SELECT uniqExact(event_id) AS n FROM ${store.table(t)}`, {}))[0]?.n);
    expect(await count('subject_accesses_v2')).toBe(await count('decisions'));
  });

  for (const variant of ['full', 'subject'] as const) {
    it(`answers the same accesses as decisions (${variant})`, async () => {
      const pairs = await db.rows<{ tenant_id: string; subject_id: string }>(
        `SELECT DISTINCT tenant_id, subject_id FROM ${db.decisions} ORDER BY tenant_id, subject_id`,
        {},
      );
      expect(pairs.length).toBeGreaterThan(3);
      for (const { tenant_id, subject_id } of pairs) {
        const data = await subjectData(db, dir, tenant_id, subject_id, range, variant);
        expect(data.accesses).toEqual(await fromDecisions(tenant_id, subject_id, variant));
      }
    });
  }

  it('keeps strings, nulls and numbers as they are', async () => {
    const data = await subjectData(db, dir, 'spera', 'cust-1001', range, 'full');
    for (const text of tricky) {
      expect(data.accesses.some((a) => a.legalBasis === text && a.reasons[0]?.message === text)).toBe(true);
    }
    expect(data.accesses.filter((a) => a.eventId === '00000000-0000-4000-8000-000000000000')).toHaveLength(1);
    expect(data.accesses.find((a) => a.eventId === '00000000-0000-4000-8000-000000000001')?.dataCollectedAt).toBe(
      '2020-01-02T03:04:05.678Z',
    );
    expect(data.accesses.find((a) => a.eventId === '00000000-0000-4000-8000-000000000002')?.recordCount).toBe(4_000_000_002);
    expect(data.disclosures?.map((a) => a.eventId)).toContain('00000000-0000-4000-8000-000000000003');
  });

  it('batches concurrent reports and answers each as if read alone', async () => {
    const pairs = await db.rows<{ tenant_id: string; subject_id: string }>(
      `SELECT DISTINCT tenant_id, subject_id FROM ${db.decisions} ORDER BY tenant_id, subject_id`,
      {},
    );
    const oct = { from: new Date('2026-10-01T00:00:00Z'), to: new Date('2026-10-06T00:00:00Z') };
    const asks = pairs.flatMap((p) =>
      (['full', 'subject'] as const).flatMap((variant) => [range, oct].map((r) => ({ ...p, variant, r }))),
    );
    const alone: unknown[] = [];
    for (const a of asks) alone.push(await subjectData(db, dir, a.tenant_id, a.subject_id, a.r, a.variant));
    const together = await Promise.all(asks.map((a) => subjectData(db, dir, a.tenant_id, a.subject_id, a.r, a.variant)));
    expect(together).toEqual(alone);
  });

  it('leaves a subject with more rows than a batch reads to the caller', async () => {
    const reads = new SubjectReads(db, { limit: 3, maxBatch: 64, maxInFlight: 1 });
    const [many, few, none] = await Promise.all([
      reads.read('spera', 'cust-1001', range.from, range.to, false),
      reads.read('spera', 'cust-1001', range.from, range.to, true),
      reads.read('spera', 'nobody', range.from, range.to, false),
    ]);
    expect(many).toBeUndefined();
    expect(few).toBeUndefined();
    expect(none).toEqual([]);
    // the first goes at once, the two that arrived meanwhile go together
    expect(reads.stats).toEqual({ batches: 2, subjects: 3 });
  });

  it('orders event ids as ClickHouse does', async () => {
    const ids = (
      await db.rows<{ u: string }>('SELECT toString(generateUUIDv4(number)) AS u FROM numbers(2000) ORDER BY toUUID(u)', {})
    ).map((r) => r.u);
    const mine = [...ids].sort((a, b) => (uuidOrderKey(a) < uuidOrderKey(b) ? -1 : 1));
    expect(mine).toEqual(ids);
    const data = await subjectData(db, dir, 'spera', 'cust-1001', range, 'full');
    const tied = data.accesses.filter((a) => a.occurredAt === '2026-09-20T10:00:00.000Z').map((a) => a.eventId);
    expect(tied).toEqual(['11111111-0000-4000-8000-000000000002', 'aaaaaaaa-0000-4000-8000-000000000001']);
  });
});
