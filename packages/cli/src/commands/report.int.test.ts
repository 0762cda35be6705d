/** `custos report` against real ClickHouse with a known audit trail. */
import { createHash, generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadDirectory, MemoryRecorder, storeIntegrity } from '@custos/api';
import { loadFixtures } from '@custos/api/testing';
import { createStore, migrate, publicKeyPem, type Store } from '@custos/store';
import { infraEnv, testStore } from '@custos/test/support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ReportOptions, runReport, runReportVerify } from './report.js';

let store: Store;
beforeAll(async () => {
  const { database, chdbPath } = testStore('cli_report');
  store = createStore({ url: infraEnv().clickhouseUrl, database, chdbPath });
  await migrate(store);
  await loadFixtures(store);
});
afterAll(async () => {
  await store?.client.command({ query: `DROP DATABASE IF EXISTS ${store.database}` }).catch(() => {});
  await store?.close();
});

const io = () => {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, stdout: { write: (s: string) => out.push(s) > 0 }, stderr: { write: (s: string) => err.push(s) > 0 } };
};
const base = (o: Partial<ReportOptions>): ReportOptions => ({
  period: '2026-10',
  format: 'pdf',
  out: mkdtempSync(join(tmpdir(), 'custos-cli-report-')),
  tenant: '*',
  actor: 's-ira',
  purpose: 'legal.compliance',
  record: true,
  ...o,
});

describe('custos report', () => {
  it('writes the PDF, CSV and JSON report with checksums and records the read', async () => {
    const o = base({ format: 'pdf,csv,json' });
    const x = io();
    const recorder = new MemoryRecorder();
    const code = await runReport(o, { store, directory: loadDirectory(), recorder, ...x });
    expect(code).toBe(0);
    const lines = x.out.join('').trim().split('\n');
    expect(lines).toHaveLength(3);
    for (const line of lines) {
      const [sum, path] = line.split('  ') as [string, string];
      expect(createHash('sha256').update(readFileSync(path)).digest('hex')).toBe(sum);
      expect(readFileSync(`${path}.sha256`, 'utf8').split('  ')[0]).toBe(sum);
    }
    expect(readFileSync(join(o.out, 'access-report-2026-10-all.pdf')).subarray(0, 5).toString()).toBe('%PDF-');
    expect(JSON.parse(readFileSync(join(o.out, 'access-report-2026-10-all.json'), 'utf8')).period.label).toBe('2026-10');
    expect(recorder.events).toEqual([
      expect.objectContaining({ actor: { id: 's-ira', type: 'staff' }, action: 'export', categories: ['audit.trail'] }),
    ]);
  });

  it('a quarter for one tenant', async () => {
    const o = base({ period: '2026-Q4', format: 'json', tenant: 'client-acme' });
    expect(await runReport(o, { store, directory: loadDirectory(), ...io() })).toBe(0);
    const r = JSON.parse(readFileSync(join(o.out, 'access-report-2026-Q4-client-acme.json'), 'utf8'));
    expect(r.totals.total).toBe(3);
  });

  it('rejects a bad period or format, and an actor outside the directory', async () => {
    const x = io();
    expect(await runReport(base({ period: '2026-13' }), { store, directory: loadDirectory(), ...x })).toBe(2);
    expect(await runReport(base({ format: 'docx' }), { store, directory: loadDirectory(), ...x })).toBe(2);
    expect(x.err.join('')).toMatch(/--period[\s\S]*--format/);
    await expect(runReport(base({ actor: 's-nobody' }), { store, directory: loadDirectory(), ...x })).rejects.toThrow(
      /staff directory/,
    );
  });

  it('signs each file; custos report verify passes the untouched report and fails an edited one (public key alone)', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const o = base({ format: 'json,csv,pdf' });
    const x = io();
    const integrity = storeIntegrity(store, { trusted: [publicKey] });
    expect(await runReport(o, { store, directory: loadDirectory(), integrity, signingKey: privateKey, ...x })).toBe(0);
    const pem = publicKeyPem(publicKey);
    const json = join(o.out, 'access-report-2026-10-all.json');
    // the same integrity section as the API's, not "unavailable"
    expect(JSON.parse(readFileSync(json, 'utf8')).integrity.verification.status).not.toBe('unavailable');
    for (const f of ['json', 'csv', 'pdf']) {
      const y = io();
      const file = join(o.out, `access-report-2026-10-all.${f}`);
      expect(runReportVerify(file, { publicKey: pem }, y), y.out.join('')).toBe(0);
      expect(y.out.join('')).toMatch(/^OK: .* is unchanged since key [0-9a-f]{16} signed it/);
    }
    // edited after signing
    const csv = join(o.out, 'access-report-2026-10-all.csv');
    writeFileSync(csv, readFileSync(csv, 'utf8').replace(/deny/, 'allow'));
    const edited = io();
    expect(runReportVerify(csv, { publicKey: pem }, edited)).toBe(1);
    expect(edited.out.join('')).toMatch(/^FAILED: .*edited after signing/);
    // a signature file re-made for the edited bytes without the key
    const sigPath = `${json}.sig.json`;
    const sig = JSON.parse(readFileSync(sigPath, 'utf8')) as { payload: string; signature: string };
    writeFileSync(json, `${readFileSync(json, 'utf8')} `);
    const sha = createHash('sha256').update(readFileSync(json)).digest('hex');
    writeFileSync(sigPath, JSON.stringify({ ...sig, payload: sig.payload.replace(/"sha256":"[0-9a-f]+"/, `"sha256":"${sha}"`) }));
    const forged = io();
    expect(runReportVerify(json, { publicKey: pem }, forged)).toBe(1);
    expect(forged.out.join('')).toMatch(/signature does not match/);
    // another key
    const other = io();
    const pdf = join(o.out, 'access-report-2026-10-all.pdf');
    expect(runReportVerify(pdf, { publicKey: publicKeyPem(generateKeyPairSync('ed25519').publicKey) }, other)).toBe(1);
    expect(other.out.join('')).toMatch(/not a trusted key/);
  });
});
