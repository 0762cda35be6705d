import { generateKeyPairSync } from 'node:crypto';
import type { Decision } from '@custos/schemas';
import { infraEnv, testStore, waitFor } from '@custos/test/support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commit, emptyChain, prepare } from './chain.js';
import { appendDecisions, insertDecisions, insertPrepared, recoverChain, writeCheckpoint } from './chain-store.js';
import { createStore, queryRows, type Store, withDatabase } from './client.js';
import { INSERT_COLUMNS, readStored, toRow } from './decisions.js';
import { ChainIntegrityError } from './errors.js';
import { sampleDecisions } from './fixtures.js';
import { CLUSTER_MIGRATIONS_DIR, loadMigrations, migrate, statements } from './migrations.js';
import {
  type AccessRow,
  actorCountRows,
  afterCursor,
  codeCountRows,
  DecisionReads,
  newestAccesses,
  selectAccesses,
  subjectAccessRows,
  Where,
} from './queries.js';
import { verifyRange } from './verify.js';

const decision: Decision = {
  eventId: '00000000-0000-7000-8000-000000000001',
  decidedAt: '2026-03-02T10:00:01.000Z',
  outcome: 'deny',
  reasons: [{ code: 'ROLE_NOT_AUTHORIZED', message: 'no grant' }],
  basis: [],
  policyVersion: 'v1',
  event: {
    eventId: '00000000-0000-7000-8000-000000000001',
    occurredAt: '2026-03-02T10:00:00.000Z',
    tenantId: 'spera',
    actor: { id: 's-asha', type: 'staff' },
    subject: { id: 'cust-1001', type: 'customer' },
    categories: ['client.financial'],
    action: 'read',
    purpose: 'service.support',
    source: { service: 'crm' },
  },
};

const { privateKey } = generateKeyPairSync('ed25519');

describe('store on real ClickHouse', () => {
  let root: Store;
  let n = 0;
  /** a fresh database on the file's one connection */
  const fresh = async () => {
    const s = withDatabase(root, `${root.database}_${n++}`);
    await migrate(s);
    return s;
  };
  beforeAll(async () => {
    const { database, chdbPath } = testStore('store');
    root = createStore({ url: infraEnv().clickhouseUrl, database, chdbPath });
  });
  afterAll(async () => {
    for (let i = 0; i < n; i++) await root.client.command({ query: `DROP DATABASE IF EXISTS ${root.database}_${i}` });
    await root.client.command({ query: `DROP DATABASE IF EXISTS ${root.database}` });
    await root.close();
  });

  it('applies migrations once and again harmlessly', async () => {
    const first = await migrate(root);
    expect(first.applied).toEqual(loadMigrations().map((m) => m.version));
    const second = await migrate(root);
    expect(second.applied).toEqual([]);
    expect(second.alreadyApplied).toEqual(first.applied);
    const cols = await queryRows<{ name: string }>(
      root,
      `SELECT name FROM system.columns WHERE database = {db:String} AND table = 'decisions' ORDER BY position`,
      {
        db: root.database,
      },
    );
    expect(cols.map((c) => c.name)).toEqual([...INSERT_COLUMNS, 'stored_at']);
  });

  it("applies a query's settings to that query only", async () => {
    const two = 'SELECT number FROM system.numbers LIMIT 2';
    await expect(queryRows(root, two, {}, { max_result_rows: 1, result_overflow_mode: 'throw' })).rejects.toThrow();
    // chDB's session would have kept them (a `SET`) had they been passed as clickhouse_settings
    expect(await queryRows(root, two)).toHaveLength(2);
    const [q] = await queryRows<{ n: unknown }>(
      root,
      'SELECT toUInt64(1) AS n',
      {},
      { output_format_json_quote_64bit_integers: 1 },
    );
    expect(q?.n).toBe('1');
    const [r] = await queryRows<{ n: unknown }>(root, 'SELECT toUInt64(1) AS n');
    expect(r?.n).toBe(1);
    // readStored quotes 64-bit integers for itself only
    await readStored(root, '0', {});
    const [after] = await queryRows<{ n: unknown }>(root, 'SELECT toUInt64(1) AS n');
    expect(after?.n).toBe(1);
  });

  it('parses every statement of the cluster variant (no cluster here to run them on)', async () => {
    const all = loadMigrations(CLUSTER_MIGRATIONS_DIR);
    expect(all.map((m) => m.version)).toEqual(loadMigrations().map((m) => m.version));
    for (const m of all) {
      for (const q of statements(m.sql, 'custos', 'c1')) {
        await expect(
          root.client.query({ query: `EXPLAIN AST ${q}`, format: 'TabSeparated' }),
          `${m.name}: ${q}`,
        ).resolves.toBeDefined();
      }
    }
  });

  it('refuses a migration edited after it was applied', async () => {
    const edited = loadMigrations().map((m, i) => (i === 0 ? { ...m, checksum: 'changed' } : m));
    await expect(migrate(root, edited)).rejects.toThrow(/edited after it was applied/);
  });

  it('applies the configured retention and legal holds once', async () => {
    const s = await fresh();
    const retention = { days: 400, holds: [{ id: 'KOL-1', tenantId: 'spera', until: '2031-01-01' }] };
    expect((await migrate(s, undefined, { retention })).retentionChanged).toBe(true);
    expect((await migrate(s, undefined, { retention })).retentionChanged).toBe(false);
    const tables = new Map(
      (
        await queryRows<{ name: string; q: string }>(
          s,
          `SELECT name, create_table_query AS q FROM system.tables WHERE database = {db:String}`,
          { db: s.database },
        )
      ).map((t) => [t.name, t.q]),
    );
    expect(tables.get('decisions')).toMatch(
      /TTL greatest\(toDateTime\(decided_at, 'UTC'\) \+ toIntervalDay\(400\), if\(tenant_id = 'spera'/,
    );
    // the subject read model (0005) gets the same TTL, its decided_at written out
    expect(tables.get('subject_accesses_v2')).toMatch(
      /TTL greatest\(toDateTime\(occurred_at \+ toIntervalMillisecond\(decided_lag_ms\), 'UTC'\) \+ toIntervalDay\(400\), if\(tenant_id = 'spera'/,
    );
    // 0004's read model is gone, and nothing feeds it
    expect([...tables.keys()].filter((n) => n.startsWith('subject_accesses')).sort()).toEqual([
      'subject_accesses_v2',
      'subject_accesses_v2_mv',
    ]);
  });

  it('stores a re-delivered batch once, chained', async () => {
    const s = await fresh();
    const rows = [toRow(decision, 0, '41')];
    await insertDecisions(s, rows, 'decisions-0-41-41');
    await insertDecisions(s, rows, 'decisions-0-41-41');
    const found = await queryRows(
      s,
      `SELECT count() AS n, any(outcome) AS outcome, any(codes) AS codes, any(chain_seq) AS seq FROM ${s.table('decisions')} WHERE tenant_id = {t:String} AND subject_id = {s:String}`,
      { t: 'spera', s: 'cust-1001' },
    );
    expect(found).toEqual([{ n: 1, outcome: 'deny', codes: ['ROLE_NOT_AUTHORIZED'], seq: 1 }]);
    const report = await verifyRange(s, { trusted: [] });
    expect(report.ok).toBe(true);
  });

  it('reads back every kind of value exactly as it was chained', async () => {
    const s = await fresh();
    const odd: Decision = {
      ...decision,
      eventId: '0190A1B2-C3D4-7E5F-8A9B-0C1D2E3F4A5B',
      reasons: [{ code: 'X', message: 'quote " backslash \\ tab \t newline \n emoji 🙂 nul \u0000 slash /' }],
      event: {
        ...decision.event,
        subject: { id: 'ünïcødé-✓', type: 'employee' },
        attributes: { '10': 'ten', '2': 'two', b: '', a: "it's" },
        dataCollectedAt: '2020-01-01T00:00:00.000Z',
        recordCount: 2_000_000_000,
        fields: ['email'],
        recipient: { id: 'p-metricly', type: 'processor' },
        legalBasis: 'court-order:KOL-2026-0042',
        source: { service: 'crm', requestId: 'r', traceId: 't', ip: '::1' },
      },
    };
    await appendDecisions(s, [toRow(odd, 3, '9007199254740993'), toRow(decision, 3, '9007199254740999')]);
    const [row] = await readStored(s, 'kafka_partition = 3', {});
    expect(row?.event_id).toBe('0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b');
    expect(row?.kafka_offset).toBe('9007199254740993');
    expect((await verifyRange(s, { trusted: [] })).ok).toBe(true);
  });

  it('answers the API questions from its read models', async () => {
    const s = await fresh();
    const ds = sampleDecisions(2000, {
      start: Date.parse('2026-10-01T00:00:00Z'),
      spanMs: 20 * 86_400_000,
      actors: 40,
      subjects: 300,
      denyRate: 0.2,
    });
    const rows = ds.map((d, i) => toRow(d, i % 3, String(i)));
    await appendDecisions(s, rows);
    // a batch stored twice (identical copies, as a fenced-out sink could): each decision is answered once
    await s.client.command({
      query: `INSERT INTO ${s.table('decisions')} SELECT * FROM ${s.table('decisions')} WHERE kafka_offset < 300`,
    });
    const db = new DecisionReads(s, { timeoutS: 30, maxRows: 100_000 });
    const pick = ds.find((d) => d.event.actor.id === 's-1') as Decision;
    const tenant = pick.event.tenantId;
    const month = { from: new Date('2026-10-01T00:00:00Z'), to: new Date('2026-11-01T00:00:00Z') };
    const bySubject = await subjectAccessRows(db, {
      tenantId: tenant,
      subjectId: pick.event.subject.id,
      range: month,
      limit: 1000,
    });
    expect(bySubject.map((r) => r.event_id)).toContain(pick.eventId);

    // the search: newest first, one tenant or all, each decision once, paged by cursor
    const expected = ds
      .filter((d) => d.event.tenantId === tenant && d.event.actor.id === 's-1')
      .sort((a, b) => (a.event.occurredAt < b.event.occurredAt ? 1 : -1));
    const w = selectAccesses(new Where().range(month.from, month.to), { actorId: 's-1' });
    const page = await newestAccesses(db, w, [tenant], expected.length + 1);
    expect(page.map((r) => r.event_id).sort()).toEqual(expected.map((d) => d.eventId).sort());
    expect(page.map((r) => r.occurred_at)).toEqual([...page.map((r) => r.occurred_at)].sort().reverse());
    const first = await newestAccesses(db, w.copy(), [tenant], 3);
    const last = first[2] as AccessRow;
    const next = await newestAccesses(
      db,
      afterCursor(w.copy(), { occurredAt: last.occurred_at, eventId: last.event_id }),
      [tenant],
      3,
    );
    expect([...first, ...next].map((r) => r.event_id)).toEqual(page.slice(0, 6).map((r) => r.event_id));
    const everyTenant = await newestAccesses(db, w.copy(), '*', 5000);
    expect(everyTenant.length).toBe(ds.filter((d) => d.event.actor.id === 's-1').length);

    const deny = new Where().range(month.from, month.to).add(`outcome = 'deny'`);
    const denied = ds.filter((d) => d.outcome === 'deny');
    expect((await actorCountRows(db, deny)).reduce((a, r) => a + Number(r.total), 0)).toBe(denied.length);
    const byCode = await codeCountRows(db, deny);
    expect(byCode.reduce((a, r) => a + r.count, 0)).toBe(denied.reduce((a, d) => a + d.reasons.length, 0));
  });

  it('a search over every tenant lists the stored tenants once per TTL, and finds a new tenant from the next list on', async () => {
    const s = await fresh();
    const start = Date.parse('2026-10-01T00:00:00Z');
    const ds = sampleDecisions(200, { start, spanMs: 86_400_000, actors: 20 });
    await appendDecisions(
      s,
      ds.map((d, i) => toRow(d, i % 3, String(i))),
    );
    const db = new DecisionReads(s, { timeoutS: 30, maxRows: 100_000, tenantListTtlMs: 500 });
    const month = new Where().range(new Date('2026-10-01T00:00:00Z'), new Date('2026-11-01T00:00:00Z'));
    expect(await newestAccesses(db, month.copy(), '*', 1000)).toHaveLength(200);
    // within the TTL, the list is not read again
    const listed = db.storedTenants();
    expect(db.storedTenants()).toBe(listed);
    expect(await listed).toEqual([...new Set(ds.map((d) => d.event.tenantId))].sort());
    // a tenant's first rows: found once the list is read again
    const newcomer = sampleDecisions(5, { start: start + 3_600_000, spanMs: 60_000 }).map((d) => ({
      ...d,
      event: { ...d.event, tenantId: 'client-new' },
    }));
    await appendDecisions(
      s,
      newcomer.map((d, i) => toRow(d, 3, String(i))),
    );
    await waitFor(
      async () => (await newestAccesses(db, month.copy(), '*', 1000)).filter((r) => r.tenant_id === 'client-new').length === 5,
      { timeoutMs: 10_000, what: 'the new tenant in a search over every tenant' },
    );
    expect(await newestAccesses(db, month.copy(), '*', 1000)).toHaveLength(205);
  });

  it('recovers a chain: head, window and the rows since its last checkpoint', async () => {
    const s = await fresh();
    const ds = sampleDecisions(250, { start: Date.parse('2026-10-01T00:00:00Z'), spanMs: 86_400_000 });
    const state = emptyChain(0, 100);
    for (let i = 0; i < ds.length; i += 50) {
      const p = prepare(
        state,
        ds.slice(i, i + 50).map((d, j) => ({ offset: String(i + j), row: toRow(d, 0, String(i + j)) })),
      );
      await insertPrepared(s, p);
      commit(state, p);
      if (i === 100) await writeCheckpoint(s, state, 'decisions', privateKey);
    }
    const back = await recoverChain(s, 0, { window: 100, trusted: [privateKey] });
    expect(back.seq).toBe(250);
    expect(back.hash).toBe(state.hash);
    expect(back.offset).toBe(249n);
    expect(back.recent.size).toBe(100);
    expect(back.segment).toMatchObject({ prevSeq: 150, rows: 100 });
    // A modified row after the checkpoint: the sink must not build on it.
    await s.client.command({
      query: `ALTER TABLE ${s.table('decisions')} UPDATE purpose = 'sale' WHERE chain_seq = 200 SETTINGS mutations_sync = 2`,
    });
    await expect(recoverChain(s, 0, { window: 100, trusted: [privateKey] })).rejects.toThrow(ChainIntegrityError);
  });
});
