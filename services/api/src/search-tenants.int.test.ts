/**
 * A search over every tenant reads the bundle's tenants and a list of the stored ones kept for a few
 * seconds (not a DISTINCT over every row per request): the first rows of a tenant the bundle names
 * are found at once, those of a tenant it does not name once the list is read again.
 */
import { createStore, migrate, type Store, toRow } from '@custos/store';
import { infraEnv, testStore, waitFor } from '@custos/test/support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixtureDecisions, insertRows, startTestApi, TEST_KEYS, type TestServer } from './testing/index.js';

let store: Store;
let api: TestServer;
const OCT = 'from=2026-10-01T00:00:00Z&to=2026-11-01T00:00:00Z';
const TTL_MS = 1500;
const all = fixtureDecisions();
const globex = all.filter((d) => d.event.tenantId === 'client-globex');

beforeAll(async () => {
  const { database, chdbPath } = testStore('search_tenants');
  store = createStore({ url: infraEnv().clickhouseUrl, database, chdbPath });
  await migrate(store);
  // every fixture tenant but client-globex, which the bundle names: it has no rows yet
  await insertRows(
    store,
    all.map((d, i) => toRow(d, 0, String(i))).filter((r) => r.tenant_id !== 'client-globex'),
  );
  api = await startTestApi({
    store,
    now: () => new Date('2026-11-15T00:00:00Z'),
    limits: { timeoutS: 30, maxRows: 200_000, maxRangeDays: 400, rateLimitPerMin: 0, tenantListTtlMs: TTL_MS },
  });
});
afterAll(async () => {
  await api?.close();
  await store?.client.command({ query: `DROP DATABASE IF EXISTS ${store.database}` }).catch(() => {});
  await store?.close();
});

const search = async () => {
  const res = await fetch(`${api.url}/v1/accesses?${OCT}&limit=500`, {
    headers: { authorization: `Bearer ${TEST_KEYS.admin.key}`, 'x-purpose': 'security' },
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { items: { eventId: string; tenantId: string }[] }).items;
};

describe('a search over every tenant', () => {
  it("finds a new tenant's rows: at once when the bundle names it, after the list's TTL when not", async () => {
    const listedAt = Date.now();
    const before = await search();
    expect(before.some((i) => i.tenantId === 'client-globex')).toBe(false);
    expect(globex.length).toBeGreaterThan(0);

    // the bundle's tenant: found by the next search, the stored list not yet read again
    await insertRows(
      store,
      globex.map((d, i) => toRow(d, 1, String(i))),
    );
    const next = await search();
    // (still within the TTL of the list the first search read)
    expect(Date.now() - listedAt).toBeLessThan(TTL_MS);
    expect(
      next
        .filter((i) => i.tenantId === 'client-globex')
        .map((i) => i.eventId)
        .sort(),
    ).toEqual(
      globex
        .filter((d) => d.event.occurredAt >= '2026-10-01' && d.event.occurredAt < '2026-11-01')
        .map((d) => d.eventId)
        .sort(),
    );

    // a tenant the bundle does not name: found once the stored list is read again
    const stray = all
      .slice(0, 3)
      .map((d, i) =>
        toRow(
          { ...d, eventId: `00000000-0000-7000-8000-00000000000${i}`, event: { ...d.event, tenantId: 'client-unlisted' } },
          2,
          String(i),
        ),
      );
    await insertRows(store, stray);
    const found = await waitFor(
      async () => {
        const items = (await search()).filter((i) => i.tenantId === 'client-unlisted');
        return items.length === stray.length && items;
      },
      { what: 'the unlisted tenant in a search over every tenant', timeoutMs: 20_000 },
    );
    expect(found.map((i) => i.eventId).sort()).toEqual(stray.map((r) => r.event_id).sort());
  });
});
