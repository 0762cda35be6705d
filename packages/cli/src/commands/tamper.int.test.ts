/**
 * The tamper matrix: the real sink (a process of its own) stores decisions from a real topic into
 * chDB, checkpoints them, witnesses every checkpoint and head on the witness topic and stops
 * gracefully. Then, on a copy of the store per case, someone with full write access to ClickHouse
 * changes it (a child process, plain SQL), and the default `custos verify` (a process of its own,
 * reading the witness topic) must exit 1 and name what happened and where. The untouched store
 * verifies with exit 0 and prints no warning. The test process never opens a chDB directory itself
 * (chDB binds one directory per process); children do.
 */
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sinkProcessFixture } from '@custos/sink/testing';
import { waitFor } from '@custos/test/support';
import { describe, expect, it } from 'vitest';
import { finished, runScript } from '../testing/processes.js';

const N = 900;

interface Finding {
  kind: string;
  severity: string;
  detectedBy: string;
  chain?: number;
  seq?: number;
  toSeq?: number;
  message: string;
}

const run = runScript;
const finish = finished;

describe('tamper matrix: the default custos verify against the real sink, Kafka and chDB', () => {
  it('passes a clean store without warnings and fails (exit 1) naming each kind of tampering', async () => {
    const { topics, env, admin, committed } = await sinkProcessFixture('tamper', {
      n: N,
      publishBatch: 300,
      checkpointMaxRows: 100,
      maxBatchRows: 100,
    });
    const copies: string[] = [];
    try {
      const sink = run(env, 'services/sink/src/main.ts');
      const sinkDone = finish(sink);
      await waitFor(async () => (await committed()) >= N, {
        what: `${N} rows committed by the sink`,
        timeoutMs: 120_000,
        everyMs: 300,
      });
      expect(await committed()).toBe(N);
      sink.kill('SIGTERM');
      expect((await sinkDone).code).toBe(0);

      // Clean: exit 0, checked against the witness, not one warning or info line.
      const clean = await finish(run(env, 'packages/cli/src/bin.ts', ['verify']));
      expect(clean.err).not.toMatch(/^custos/m);
      expect(clean.code, clean.out).toBe(0);
      expect(clean.out).toMatch(
        new RegExp(`^OK: ${N} rows in 3 chain\\(s\\), \\d+ genuine checkpoint\\(s\\); checked against .*witness`),
      );
      expect(clean.out).not.toMatch(/\[(warning|info|error)\]/);

      const tamper = async (kind: string) => {
        const dir = mkdtempSync(join(tmpdir(), `custos-chdb-tamper-${kind}-`));
        copies.push(dir);
        cpSync(env.CHDB_PATH as string, dir, { recursive: true });
        const caseEnv = { ...env, CHDB_PATH: dir };
        const t = await finish(run(caseEnv, 'packages/cli/src/testing/tamper-child.ts', [kind]));
        expect(t.code, t.err).toBe(0);
        const what = JSON.parse(t.out.trim()) as {
          chain: number;
          seq: number;
          toSeq?: number;
          chains?: number[];
          eventId?: string;
        };
        const v = await finish(run(caseEnv, 'packages/cli/src/bin.ts', ['verify', '--json']));
        const text = await finish(run(caseEnv, 'packages/cli/src/bin.ts', ['verify']));
        expect(v.code, `${kind}: ${text.out}`).toBe(1);
        expect(text.code).toBe(1);
        expect(text.out).toMatch(/^FAILED/);
        const report = JSON.parse(v.out) as { ok: boolean; findings: Finding[] };
        expect(report.ok).toBe(false);
        const errors = report.findings.filter((f) => f.severity === 'error');
        return { what, errors, dir, out: text.out, has: (k: string) => errors.filter((f) => f.kind === k) };
      };

      {
        const { what, has, out, dir } = await tamper('modified');
        expect(
          has('modified').map((f) => [f.chain, f.seq]),
          out,
        ).toContainEqual([what.chain, what.seq]);
        // One decision's inclusion proof: valid on the untouched store, refused on the modified one.
        const proof = await finish(run(env, 'packages/cli/src/bin.ts', ['verify', '--event', what.eventId as string, '--json']));
        expect(proof.code, proof.out + proof.err).toBe(0);
        const p = JSON.parse(proof.out) as {
          ok: boolean;
          proof: { chain: number; seq: number; path: string[]; checkpoint: { payload: string } };
        };
        expect(p.ok).toBe(true);
        expect([p.proof.chain, p.proof.seq]).toEqual([what.chain, what.seq]);
        expect(JSON.parse(p.proof.checkpoint.payload).merkleRoot).toMatch(/^[0-9a-f]{64}$/);
        const bad = await finish(
          run({ ...env, CHDB_PATH: dir }, 'packages/cli/src/bin.ts', ['verify', '--event', what.eventId as string]),
        );
        expect(bad.code, bad.out + bad.err).toBe(1);
        expect(bad.out).toMatch(/^FAILED: .*do not give the tree head their checkpoint signed/);
      }
      {
        const { what, has, out } = await tamper('deleted-middle');
        expect(
          has('deleted').map((f) => [f.chain, f.seq, f.toSeq]),
          out,
        ).toEqual([[what.chain, what.seq, what.seq]]);
      }
      {
        const { what, has, out } = await tamper('newest-rows');
        expect(
          has('deleted').map((f) => [f.chain, f.seq, f.toSeq]),
          out,
        ).toEqual([[what.chain, what.seq, what.toSeq]]);
      }
      {
        // With the checkpoints and the read-model rows: ClickHouse alone is consistent, the witness is not.
        const { what, has, out } = await tamper('newest-rows-and-checkpoints');
        expect(
          has('deleted').map((f) => [f.chain, f.seq, f.toSeq, f.detectedBy]),
          out,
        ).toEqual([[what.chain, what.seq, what.toSeq, 'witness']]);
        expect(has('checkpoint_missing').length, out).toBeGreaterThan(0);
        expect(has('checkpoint_missing').every((f) => f.chain === what.chain && f.detectedBy === 'witness')).toBe(true);
      }
      {
        const { what, has, out } = await tamper('whole-chain');
        const del = has('deleted');
        expect(
          del.map((f) => [f.chain, f.seq, f.toSeq]),
          out,
        ).toEqual([[what.chain, 1, what.toSeq]]);
        expect(del[0]?.message).toMatch(/whole chain/);
        expect(has('checkpoint_missing').length).toBeGreaterThan(0);
        expect(has('head_missing').length).toBeGreaterThan(0);
      }
      {
        const { what, has, out } = await tamper('truncated');
        expect(
          has('deleted')
            .map((f) => f.chain)
            .sort(),
          out,
        ).toEqual([...(what.chains ?? [])].sort());
        expect(has('deleted').every((f) => f.seq === 1)).toBe(true);
      }
      {
        const { what, has, out } = await tamper('reordered');
        expect(
          has('reordered').map((f) => [f.chain, f.seq]),
          out,
        ).toContainEqual([what.chain, what.seq]);
      }
      {
        const { what, has, out } = await tamper('forged-row');
        expect(
          has('inserted').map((f) => [f.chain, f.seq, f.detectedBy]),
          out,
        ).toEqual([[what.chain, what.seq, 'witness']]);
      }
      {
        const { what, has, out } = await tamper('forged-checkpoint');
        expect(
          has('forged_checkpoint').map((f) => [f.chain, f.seq]),
          out,
        ).toContainEqual([what.chain, what.seq]);
      }
      {
        // Signed with the real key (its holder turned attacker) for rows rewritten in ClickHouse: the
        // witness still holds the checkpoint it replaced, and the two genuine checkpoints disagree.
        const { what, has, out } = await tamper('replayed-checkpoint');
        expect(
          has('checkpoint_missing').map((f) => f.chain),
          out,
        ).toContain(what.chain);
        expect(
          [...has('fork'), ...has('rewritten')].map((f) => f.chain),
          out,
        ).toContain(what.chain);
      }
      {
        // The key's holder again, now also replacing the newest head with one over the rewritten
        // history: it does not extend the head the witness holds for the same seq.
        const { what, has, out } = await tamper('rewritten-head');
        expect(
          has('inconsistent_head').map((f) => [f.chain, f.toSeq]),
          out,
        ).toContainEqual([what.chain, what.toSeq]);
        expect(has('head_missing').length, out).toBeGreaterThan(0);
        // On the untouched store the newest head extends the one before it (the consistency proof).
        const good = await finish(run(env, 'packages/cli/src/bin.ts', ['verify', '--consistency']));
        expect(good.code, good.out + good.err).toBe(0);
        expect(good.out).toMatch(/^OK: head [0-9a-f]{16}… extends head [0-9a-f]{16}…/);
      }
    } finally {
      for (const d of copies) rmSync(d, { recursive: true, force: true });
      await admin.deleteTopics({ topics: Object.values(topics).map((t) => t.name) }).catch(() => undefined);
      await admin.disconnect();
    }
  }, 1_200_000);
});
