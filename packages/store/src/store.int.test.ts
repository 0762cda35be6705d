import type { Decision } from '@custos/schemas';
import { infraEnv, testStore } from '@custos/test/support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStore, type Store } from './client.js';
import { insertDecisions, toRow } from './decisions.js';
import { loadMigrations, migrate } from './migrations.js';

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

describe('store on real ClickHouse', () => {
  let store: Store;
  beforeAll(async () => {
    const { database, chdbPath } = testStore('store');
    store = createStore({ url: infraEnv().clickhouseUrl, database, chdbPath });
  });
  afterAll(async () => {
    await store.client.command({ query: `DROP DATABASE IF EXISTS ${store.database}` });
    await store.close();
  });

  it('applies migrations once and again harmlessly', async () => {
    const first = await migrate(store);
    expect(first.applied).toEqual(loadMigrations().map((m) => m.version));
    const second = await migrate(store);
    expect(second.applied).toEqual([]);
    expect(second.alreadyApplied).toEqual(first.applied);
  });

  it('refuses a migration edited after it was applied', async () => {
    const edited = loadMigrations().map((m, i) => (i === 0 ? { ...m, checksum: 'changed' } : m));
    await expect(migrate(store, edited)).rejects.toThrow(/edited after it was applied/);
  });

  it('stores a re-delivered batch once', async () => {
    const rows = [toRow(decision, 0, '41')];
    await insertDecisions(store, rows, 'decisions-0-41-41');
    await insertDecisions(store, rows, 'decisions-0-41-41');
    const rs = await store.client.query({
      query: `SELECT count() AS n, any(outcome) AS outcome, any(codes) AS codes FROM ${store.table('decisions')} WHERE tenant_id = {t:String} AND subject_id = {s:String}`,
      query_params: { t: 'spera', s: 'cust-1001' },
      format: 'JSONEachRow',
    });
    expect(await rs.json()).toEqual([{ n: 1, outcome: 'deny', codes: ['ROLE_NOT_AUTHORIZED'] }]);
  });
});
