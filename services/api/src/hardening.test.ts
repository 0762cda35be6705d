/** Bad input and abuse: percent-escapes, CSV formulas, report file modes, weighted per-credential rate limits, proxies. */
import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadDirectory } from './app.js';
import { trustProxySetting, WeightedLimiter } from './rate-limit.js';
import { csvCell, sectionedCsv } from './report/render.js';
import { writePeriodicReport } from './report/writer.js';
import { emptyStore, startTestApi, TEST_KEYS, type TestServer } from './testing/index.js';

let api: TestServer;
beforeAll(async () => {
  api = await startTestApi({ store: emptyStore() });
});
afterAll(() => api.close());
const auth = { authorization: `Bearer ${TEST_KEYS.admin.key}`, 'x-purpose': 'security' };

describe('malformed percent-escapes', () => {
  for (const p of ['/v1/subjects/%E0%A4/report?tenantId=spera', '/v1/subjects/%ZZ/report', '/v1/actors/%/activity']) {
    it(`${p} is a 400`, async () => {
      const res = await fetch(`${api.url}${p}`, { headers: auth });
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: string }).error).toMatch(/percent-escape/);
    });
  }
});

describe('CSV cells', () => {
  it('text that starts like a formula cannot run in a spreadsheet', () => {
    for (const s of ['=HYPERLINK("http://x")', '+1+1', '-2+3', '@SUM(A1)', '\tx', '\rx']) expect(csvCell(s)).toBe(`'${s}`);
    expect(csvCell('court-order:1')).toBe('court-order:1');
    expect(csvCell(-5)).toBe(-5);
    const csv = sectionedCsv([['k', '=1+1']], [{ title: 't', columns: ['a'], rows: [['@x'], [null]] }]);
    expect(csv).not.toMatch(/(^|,)[=@]/m);
  });
});

describe('report files', () => {
  it('are written readable by their owner only', async () => {
    const outDir = join(mkdtempSync(join(tmpdir(), 'custos-reports-')), 'out');
    const files = await writePeriodicReport({
      store: emptyStore(),
      directory: loadDirectory(),
      period: '2026-10',
      formats: ['json', 'csv'],
      outDir,
      tenant: '*',
      actor: 's-ira',
      purpose: 'legal.compliance',
      trigger: 'test',
    });
    expect(files).toHaveLength(2);
    for (const f of files) {
      expect(statSync(f.path).mode & 0o777).toBe(0o600);
      expect(statSync(`${f.path}.sha256`).mode & 0o777).toBe(0o600);
    }
    expect(statSync(outDir).mode & 0o777).toBe(0o700);
  });
});

describe('per-credential rate limits', () => {
  it('weigh requests by cost, per key, per window', () => {
    let now = 60_000;
    const l = new WeightedLimiter(10, 60_000, () => now);
    l.consume('a', 10);
    expect(() => l.consume('a', 1)).toThrow(/rate limited/);
    l.consume('b', 3);
    now += 60_000;
    l.consume('a', 10);
  });

  it('a credential cannot spend more than its budget on expensive routes', async () => {
    const limited = await startTestApi({ store: emptyStore(), limits: { rateLimitPerMin: 25 } });
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 3; i++) {
        const res = await fetch(`${limited.url}/v1/reports/periodic?period=2026-10`, { headers: auth });
        statuses.push(res.status);
        await res.arrayBuffer();
      }
      // 10 units each: the third would make 30 > 25
      expect(statuses).toEqual([200, 200, 429]);
      // a cheap request still fits
      expect((await fetch(`${limited.url}/v1/accesses`, { headers: auth })).status).toBe(200);
    } finally {
      await limited.close();
    }
  });

  it('API_TRUST_PROXY', () => {
    expect(trustProxySetting(undefined)).toBe(false);
    expect(trustProxySetting('2')).toBe(2);
    expect(trustProxySetting('loopback, 10.0.0.0/8')).toEqual(['loopback', '10.0.0.0/8']);
  });
});

describe('the heavy-work gate', () => {
  it('runs at most its concurrency, queues a few, refuses the rest (503), and answers 504 at the deadline', async () => {
    const { Gate } = await import('./gate.js');
    const g = new Gate(1, 1, 200);
    let release!: () => void;
    const slow = new Promise<void>((r) => {
      release = r;
    });
    const first = g.run('report', () => slow.then(() => 'first'));
    const second = g.run('report', async () => 'second');
    const settled = Promise.allSettled([first, second]);
    await expect(g.run('report', async () => 'third')).rejects.toMatchObject({ status: 503 });
    // the first is late: its caller gets 504 naming the deadline, its slot stays taken until it ends;
    // the second waited too long
    const [a, b] = await settled;
    expect(a).toMatchObject({
      status: 'rejected',
      reason: { status: 504, message: expect.stringContaining('deadline of 0.2 s') },
    });
    expect(b).toMatchObject({ status: 'rejected', reason: { status: 504 } });
    expect(g.inFlight).toBe(1);
    release();
    await new Promise((r) => setTimeout(r, 10));
    expect(g.inFlight).toBe(0);
    await expect(g.run('report', async () => 'next')).resolves.toBe('next');
  });
});
