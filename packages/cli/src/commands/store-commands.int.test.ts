/** `custos migrate`, `custos checkpoint list|export` and `custos verify` against real ClickHouse. */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  commit,
  createStore,
  emptyChain,
  insertPrepared,
  prepare,
  type Store,
  sampleDecisions,
  toRow,
  writeCheckpoint,
} from '@custos/store';
import { infraEnv, testStore } from '@custos/test/support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCheckpointExport, runCheckpointList } from './checkpoint.js';
import { runMigrate } from './migrate.js';
import { runVerify } from './verify.js';

const { privateKey } = generateKeyPairSync('ed25519');
const trusted = [privateKey];
let store: Store;
const io = () => {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, stdout: { write: (s: string) => out.push(s) > 0 }, stderr: { write: (s: string) => err.push(s) > 0 } };
};

beforeAll(async () => {
  const { database, chdbPath } = testStore('cli_store');
  store = createStore({ url: infraEnv().clickhouseUrl, database, chdbPath });
});
afterAll(async () => {
  await store?.client.command({ query: `DROP DATABASE IF EXISTS ${store.database}` }).catch(() => {});
  await store?.close();
});

describe('store commands', () => {
  it('migrate applies the migrations and the retention, then nothing', async () => {
    const o = io();
    expect(await runMigrate({}, { store, retention: { days: 730, holds: [] }, stdout: o.stdout })).toBe(0);
    expect(o.out.join('')).toMatch(
      /applied 1, 2, 3, 4, 5, 6, 7, 8, 9, 10; retention 730 days, 0 legal hold\(s\) \(TTL updated\)/,
    );
    const again = io();
    await runMigrate({}, { store, retention: { days: 730, holds: [] }, stdout: again.stdout });
    expect(again.out.join('')).toMatch(
      /applied nothing \(already applied: 1, 2, 3, 4, 5, 6, 7, 8, 9, 10\); retention 730 days, 0 legal hold\(s\)\n/,
    );
  });

  it('checkpoint list and export, then verify clean, then verify naming a tampered row', async () => {
    const ds = sampleDecisions(300, { start: Date.parse('2026-10-01T00:00:00Z'), spanMs: 5 * 86_400_000 });
    for (const chain of [0, 1]) {
      const state = emptyChain(chain, 1000);
      for (let i = 0; i < 150; i += 50) {
        const p = prepare(
          state,
          ds
            .slice(chain * 150 + i, chain * 150 + i + 50)
            .map((d, j) => ({ offset: String(i + j), row: toRow(d, chain, String(i + j)) })),
        );
        await insertPrepared(store, p);
        commit(state, p);
        await writeCheckpoint(store, state, 'decisions', privateKey);
      }
    }
    const list = io();
    expect(await runCheckpointList({}, { store, trusted, ...list })).toBe(0);
    expect(list.out).toHaveLength(6);
    expect(list.out[0]).toMatch(/^chain 0 {2}seq 1…50 {2}50 rows .* genuine\n$/);

    const dir = mkdtempSync(join(tmpdir(), 'custos-cli-cp-'));
    const exp = io();
    await runCheckpointExport({ out: dir }, { store, trusted, ...exp });
    expect(readdirSync(dir)).toHaveLength(6);

    const clean = io();
    expect(await runVerify({ checkpoints: dir }, { store, trusted, ...clean })).toBe(0);
    expect(clean.out.join('')).toMatch(/^OK: 300 rows in 2 chain\(s\), 6 genuine checkpoint\(s\), 6 exported/);

    await store.client.command({
      query: `ALTER TABLE ${store.table('decisions')} UPDATE actor_id = 's-nobody' WHERE kafka_partition = 1 AND chain_seq = 77`,
      clickhouse_settings: { mutations_sync: '2' },
    });
    const bad = io();
    expect(await runVerify({ json: true }, { store, trusted, ...bad })).toBe(1);
    const report = JSON.parse(bad.out.join(''));
    expect(report.ok).toBe(false);
    const errors = report.findings.filter((f: { severity: string }) => f.severity === 'error');
    expect(errors[0]).toEqual(expect.objectContaining({ kind: 'modified', chain: 1, seq: 77 }));
    // both read models still hold the row as it was stored: each now differs from `decisions` both ways
    const differs = expect.objectContaining({ kind: 'read_model_differs', chain: 1, eventId: errors[0].eventId });
    expect(errors.slice(1)).toEqual([differs, differs, differs, differs]);
    const naming = (table: string) => errors.slice(1).filter((f: { message: string }) => f.message.includes(table)).length;
    expect([naming('subject_accesses_v2'), naming('accesses_by_time')]).toEqual([2, 2]);
  });
});
