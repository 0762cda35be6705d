/**
 * Periodic reports and verification in worker threads (heavy.ts): the same answers as on the request
 * thread, scoped the same way, a 504 naming the deadline when a task runs past it (its thread ended),
 * 429 with Retry-After to a credential over its share, and 503 with Retry-After when the queue is full.
 */
import { generateKeyPairSync } from 'node:crypto';
import { createStore, migrate, type Store } from '@custos/store';
import { infraEnv, testStore } from '@custos/test/support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HeavyPool, heavyIntegrity } from './heavy.js';
import { storeIntegrity } from './integrity.js';
import { ACME_AUDITOR_KEY, loadFixtures, startTestApi, TEST_KEYS, type TestServer } from './testing/index.js';

let store: Store;
let inline: TestServer;
let offThread: TestServer;
let pool: HeavyPool;
const now = () => new Date('2026-11-15T00:00:00Z');
const limits = { timeoutS: 30, maxRows: 200_000, maxRangeDays: 400, rateLimitPerMin: 0 };
const { publicKey } = generateKeyPairSync('ed25519');

beforeAll(async () => {
  const { database, chdbPath } = testStore('heavy');
  store = createStore({ url: infraEnv().clickhouseUrl, database, chdbPath });
  await migrate(store);
  await loadFixtures(store);
  const integrity = storeIntegrity(store, { trusted: [publicKey] });
  pool = new HeavyPool(store, { database, mode: store.mode, limits, integrity: heavyIntegrity([publicKey]) }, 2);
  inline = await startTestApi({ store, now, integrity });
  offThread = await startTestApi({ store, now, integrity, heavy: pool });
});
afterAll(async () => {
  await inline?.close();
  await offThread?.close();
  await pool?.close();
  await store?.client.command({ query: `DROP DATABASE IF EXISTS ${store.database}` }).catch(() => {});
  await store?.close();
});

const get = (api: TestServer, path: string, key: string = TEST_KEYS.admin.key) =>
  fetch(`${api.url}${path}`, { headers: { authorization: `Bearer ${key}`, 'x-purpose': 'legal.compliance' } });

describe('heavy work in worker threads', () => {
  it('answers periodic reports and verifications as the request thread does', async () => {
    for (const path of [
      '/v1/reports/periodic?period=2026-10',
      '/v1/reports/periodic?period=2026-10&tenantId=client-acme',
      '/v1/integrity/verify?from=2026-10-01T00:00:00Z&to=2026-11-01T00:00:00Z',
      '/v1/integrity/verify?from=2026-10-01T00:00:00Z&to=2026-11-01T00:00:00Z&tenantId=spera',
    ]) {
      const [a, b] = await Promise.all([get(inline, path), get(offThread, path)]);
      expect(b.status).toBe(200);
      const [ja, jb] = await Promise.all([a.json(), b.json()]);
      // verification names the moment it checked
      // (and so does the report's content hash)
      const drop = (x: unknown) =>
        JSON.parse(JSON.stringify(x, (k, v) => (k === 'checkedAt' || k === 'contentSha256' ? undefined : v)));
      expect(drop(jb)).toEqual(drop(ja));
    }
    for (const format of ['csv', 'pdf']) {
      const path = `/v1/reports/periodic?period=2026-10&format=${format}`;
      const [a, b] = await Promise.all([get(inline, path), get(offThread, path)]);
      expect(b.status).toBe(200);
      expect(b.headers.get('content-type')).toBe(a.headers.get('content-type'));
      expect(b.headers.get('x-content-sha256')).toMatch(/^[0-9a-f]{64}$/);
      const body = Buffer.from(await b.arrayBuffer());
      expect(body.length).toBeGreaterThan(100);
      const other = Buffer.from(await a.arrayBuffer());
      if (format === 'csv') expect(body.toString('utf8').split('\n')[0]).toBe(other.toString('utf8').split('\n')[0]);
    }
  });

  it('a tenant-scoped caller gets the verdict only, from the worker too', async () => {
    const res = await get(offThread, '/v1/integrity/verify?from=2026-10-01T00:00:00Z&to=2026-11-01T00:00:00Z', ACME_AUDITOR_KEY);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { checkpoints: unknown[]; verification: Record<string, unknown> };
    expect(body.checkpoints).toEqual([]);
    expect(body.verification.rows).toBeUndefined();
  });

  it('ends a task at its deadline (504 naming it), refuses a credential over its share (429), and recovers', async () => {
    const slowPool = new HeavyPool(store, { database: store.database, mode: store.mode, limits, integrity: 'unavailable' }, 1);
    const tight = await startTestApi({
      store,
      now,
      heavy: slowPool,
      limits: { ...limits, heavyDeadlineS: 0.001, heavyQueue: 0 },
    });
    try {
      const res = await get(tight, '/v1/reports/periodic?period=2026-10&format=pdf');
      expect(res.status).toBe(504);
      expect(((await res.json()) as { error: string }).error).toMatch(/deadline of 0\.001 s/);
      // a burst from one credential: one at a time may run (or its late task's thread is still being
      // ended); the rest is the caller sending too much (429), not the service being unable (503)
      const burst = await Promise.all(
        Array.from({ length: 4 }, () => get(tight, '/v1/reports/periodic?period=2026-10&format=pdf')),
      );
      const statuses = burst.map((r) => r.status);
      expect(statuses).not.toContain(503);
      const tooMuch = burst.find((r) => r.status === 429);
      if (!tooMuch) throw new Error(`no 429 in ${statuses.join(',')}`);
      expect(Number(tooMuch.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(((await tooMuch.json()) as { error: string }).error).toMatch(/already has \d+ periodic/);
      await Promise.all(burst.filter((r) => r !== tooMuch).map((r) => r.arrayBuffer()));
    } finally {
      await tight.close();
      await slowPool.close();
    }
    const relaxed = new HeavyPool(store, { database: store.database, mode: store.mode, limits, integrity: 'unavailable' }, 1);
    const ok = await startTestApi({ store, now, heavy: relaxed });
    try {
      const res = await get(ok, '/v1/reports/periodic?period=2026-10');
      expect(res.status).toBe(200);
      await res.arrayBuffer();
    } finally {
      await ok.close();
      await relaxed.close();
    }
  });
});
