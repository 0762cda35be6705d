/** Bad input and abuse: percent-escapes, CSV formulas, report file modes, weighted per-credential rate limits, proxies. */
import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from '@custos/test/support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadDirectory } from './app.js';
import { HttpError } from './errors.js';
import { Gate } from './gate.js';
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
    const g = new Gate(1, 1, 200);
    let release!: () => void;
    const slow = new Promise<void>((r) => {
      release = r;
    });
    const first = g.run('report', 'cred-a', () => slow.then(() => 'first'));
    const second = g.run('report', 'cred-b', async () => 'second');
    const settled = Promise.allSettled([first, second]);
    await expect(g.run('report', 'cred-c', async () => 'third')).rejects.toMatchObject({ status: 503 });
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
    await waitFor(() => g.inFlight === 0, { what: 'the late run to leave its slot', timeoutMs: 5000, everyMs: 5 });
    await expect(g.run('report', 'cred-a', async () => 'next')).resolves.toBe('next');
  });

  it('answers 429 to a caller over its share and 503 when the service is full, both with Retry-After', async () => {
    const gate = new Gate(1, 1, 60_000, 1);
    const a = pending();
    const running = gate.run('report', 'cred-a', () => a.done);
    // the same caller again: it is sending too much
    const tooMuch = await refusal(gate.run('report', 'cred-a', async () => 'x'));
    expect(tooMuch.status).toBe(429);
    expect(Number(tooMuch.retryAfter)).toBeGreaterThan(0);
    expect(tooMuch.message).toMatch(/this credential already has 1 report request/);
    // another caller waits in the queue…
    const b = pending();
    const waiting = gate.run('report', 'cred-b', () => b.done);
    // …and a third finds the queue full: the service cannot take more
    const full = await refusal(gate.run('report', 'cred-c', async () => 'x'));
    expect(full.status).toBe(503);
    expect(Number(full.retryAfter)).toBeGreaterThan(0);
    a.end();
    expect(await running).toBe('done');
    b.end();
    expect(await waiting).toBe('done');
    // shares are given back when the work ends
    expect(await gate.run('report', 'cred-a', async () => 'again')).toBe('again');
    expect(await gate.run('report', 'cred-c', async () => 'c')).toBe('c');
    expect(gate.inFlight).toBe(0);
  });

  it("keeps a caller's share taken until its work has really ended, past the deadline", async () => {
    const gate = new Gate(2, 0, 20, 1);
    const a = pending();
    const late = await refusal(gate.run('verification', 'cred-a', () => a.done));
    expect(late.status).toBe(504);
    // the work goes on (its thread is being ended): the caller's share and the slot stay taken
    expect((await refusal(gate.run('verification', 'cred-a', async () => 'x'))).status).toBe(429);
    expect(await gate.run('verification', 'cred-b', async () => 'b')).toBe('b');
    a.end();
    await a.done;
    await new Promise((r) => setImmediate(r));
    expect(await gate.run('verification', 'cred-a', async () => 'a')).toBe('a');
  });

  it('a refused request gives its share back', async () => {
    const gate = new Gate(1, 0, 60_000, 2);
    const a = pending();
    const running = gate.run('report', 'cred-a', () => a.done);
    expect((await refusal(gate.run('report', 'cred-b', async () => 'x'))).status).toBe(503);
    expect((await refusal(gate.run('report', 'cred-b', async () => 'x'))).status).toBe(503);
    a.end();
    await running;
    expect(await gate.run('report', 'cred-b', async () => 'b')).toBe('b');
  });
});

/** A task that runs until `end` is called. */
function pending() {
  let end: () => void = () => {};
  const done = new Promise<string>((r) => {
    end = () => r('done');
  });
  return { done, end };
}

const refusal = async (p: Promise<unknown>) => {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(HttpError);
  const h = err as HttpError;
  return { status: h.status, retryAfter: h.headers?.['Retry-After'], message: h.message };
};
