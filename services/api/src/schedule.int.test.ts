/** One tick of the report schedule on real ClickHouse: last month's report in every format, with checksums. */
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createStore, migrate, type Store } from '@custos/store';
import { infraEnv, testStore } from '@custos/test/support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadDirectory } from './app.js';
import { MemoryRecorder } from './audit.js';
import { startReportSchedule } from './schedule.js';
import type { PeriodicReport } from './schemas.js';
import { loadFixtures, silentLogger } from './testing/index.js';

let store: Store;
beforeAll(async () => {
  const { database, chdbPath } = testStore('schedule');
  store = createStore({ url: infraEnv().clickhouseUrl, database, chdbPath });
  await migrate(store);
  await loadFixtures(store);
});
afterAll(async () => {
  await store?.client.command({ query: `DROP DATABASE IF EXISTS ${store.database}` }).catch(() => {});
  await store?.close();
});

describe('the report schedule', () => {
  it('writes the previous month’s report and its checksum in each format on a tick', async () => {
    const outDir = mkdtempSync(join(tmpdir(), 'custos-reports-'));
    const recorder = new MemoryRecorder();
    const schedule = startReportSchedule({
      cron: '0 2 1 * *',
      period: 'month',
      formats: ['json', 'csv', 'pdf'],
      outDir,
      tenants: ['*', 'client-acme'],
      actor: 's-ira',
      purpose: 'legal.compliance',
      store,
      directory: loadDirectory(),
      recorder,
      logger: silentLogger(),
    });
    try {
      expect(schedule.nextRun()?.getUTCDate()).toBe(1);
      expect(schedule.nextRun()?.getUTCHours()).toBe(2);
      const files = await schedule.tick(new Date('2026-11-01T02:00:00Z'));
      expect(files).toHaveLength(6);
      const names = readdirSync(outDir).sort();
      expect(names).toEqual(
        ['access-report-2026-10-all', 'access-report-2026-10-client-acme']
          .flatMap((b) => ['csv', 'json', 'pdf'].flatMap((f) => [`${b}.${f}`, `${b}.${f}.sha256`]))
          .sort(),
      );
      for (const f of files) {
        const body = readFileSync(f.path);
        const sum = createHash('sha256').update(body).digest('hex');
        expect(readFileSync(`${f.path}.sha256`, 'utf8')).toBe(`${sum}  ${f.path.split('/').pop()}\n`);
      }
      const all = JSON.parse(readFileSync(join(outDir, 'access-report-2026-10-all.json'), 'utf8')) as PeriodicReport;
      expect(all.period.label).toBe('2026-10');
      expect(all.totals.total).toBeGreaterThan(60);
      const acme = JSON.parse(readFileSync(join(outDir, 'access-report-2026-10-client-acme.json'), 'utf8')) as PeriodicReport;
      expect(acme.tenants).toEqual(['client-acme']);
      expect(acme.totals.total).toBe(3);
      expect(recorder.events.map((e) => [e.tenantId, e.actor.id, e.action, e.purpose, e.attributes?.trigger])).toEqual([
        ['*', 's-ira', 'export', 'legal.compliance', 'schedule'],
        ['client-acme', 's-ira', 'export', 'legal.compliance', 'schedule'],
      ]);
    } finally {
      schedule.stop();
    }
  });

  it('refuses a bad cron expression at start', () => {
    expect(() =>
      startReportSchedule({
        cron: '61 * * * *',
        period: 'month',
        formats: ['json'],
        outDir: tmpdir(),
        tenants: ['*'],
        actor: 's-ira',
        purpose: 'legal.compliance',
        store,
        directory: loadDirectory(),
        logger: silentLogger(),
      }),
    ).toThrow();
  });
});
