/**
 * The tamper matrix's cases for the search's read model (`accesses_by_time`), as tamper.int.test.ts
 * runs its own: the real sink stores decisions from a real topic into chDB and stops gracefully;
 * then, on a copy of the store, someone with full write access to ClickHouse alters, deletes and
 * inserts rows of the search's read model alone (the chain and the subject read model untouched), and
 * the default `custos verify` must exit 1 naming each row and the table.
 */
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sinkProcessFixture } from '@custos/sink/testing';
import { waitFor } from '@custos/test/support';
import { describe, expect, it } from 'vitest';
import { finished, runScript } from '../testing/processes.js';

const N = 300;

interface Finding {
  kind: string;
  severity: string;
  detectedBy: string;
  chain?: number;
  eventId?: string;
  message: string;
}

describe('tamper matrix: the search read model', () => {
  it('the default custos verify names an altered, a deleted and an inserted row of accesses_by_time', async () => {
    const { topics, env, admin, committed } = await sinkProcessFixture('tamper-search', {
      n: N,
      publishBatch: 300,
      checkpointMaxRows: 100,
      maxBatchRows: 100,
    });
    const copies: string[] = [];
    try {
      const sink = runScript(env, 'services/sink/src/main.ts');
      const sinkDone = finished(sink);
      await waitFor(async () => (await committed()) >= N, {
        what: `${N} rows committed by the sink`,
        timeoutMs: 120_000,
        everyMs: 300,
      });
      expect(await committed()).toBe(N);
      sink.kill('SIGTERM');
      const stopped = await sinkDone;
      expect(stopped.code, stopped.err).toBe(0);

      const clean = await finished(runScript(env, 'packages/cli/src/bin.ts', ['verify']));
      expect(clean.code, clean.out).toBe(0);
      expect(clean.out).not.toMatch(/\[(warning|info|error)\]/);

      const dir = mkdtempSync(join(tmpdir(), 'custos-chdb-tamper-search-'));
      copies.push(dir);
      cpSync(env.CHDB_PATH as string, dir, { recursive: true });
      const caseEnv = { ...env, CHDB_PATH: dir };
      const t = await finished(runScript(caseEnv, 'packages/cli/src/testing/tamper-child.ts', ['search-read-model']));
      expect(t.code, t.err).toBe(0);
      const what = JSON.parse(t.out.trim()) as { chain: number; altered: string; deleted: string; inserted: string };

      const v = await finished(runScript(caseEnv, 'packages/cli/src/bin.ts', ['verify', '--json']));
      const text = await finished(runScript(caseEnv, 'packages/cli/src/bin.ts', ['verify']));
      expect(v.code, text.out).toBe(1);
      expect(text.code).toBe(1);
      expect(text.out).toMatch(/^FAILED/);
      expect(text.out).toMatch(/accesses_by_time/);
      const report = JSON.parse(v.out) as { ok: boolean; findings: Finding[]; sources: string[] };
      expect(report.ok).toBe(false);
      expect(report.sources).toContain('read-model');
      const errors = report.findings.filter((f) => f.severity === 'error');
      // only the search's read model differs: the chain and the subject read model are intact
      expect(
        errors.every((f) => f.kind === 'read_model_differs' && f.detectedBy === 'read-model'),
        text.out,
      ).toBe(true);
      expect(errors.every((f) => f.message.includes('accesses_by_time'))).toBe(true);
      const named = errors.map((f) => [f.eventId, /missing from or altered/.test(f.message) ? 'missing' : 'extra']).sort();
      expect(named, text.out).toEqual(
        [
          [what.altered, 'missing'],
          [what.altered, 'extra'],
          [what.deleted, 'missing'],
          [what.inserted, 'extra'],
        ].sort(),
      );
      expect(errors.every((f) => f.chain === what.chain)).toBe(true);
    } finally {
      for (const d of copies) rmSync(d, { recursive: true, force: true });
      await admin.deleteTopics({ topics: Object.values(topics).map((x) => x.name) }).catch(() => undefined);
      await admin.disconnect();
    }
  }, 600_000);
});
