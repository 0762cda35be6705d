/**
 * The sink as a real process, killed with SIGKILL right after an insert (rows stored, offsets not
 * committed), then started again on the same chDB directory: every decision is stored exactly once
 * and the chains verify. The test process never opens the chDB directory itself (chDB binds one
 * directory per process); a last child inspects it.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { VerifyReport } from '@custos/store';
import { waitFor } from '@custos/test/support';
import { describe, expect, it } from 'vitest';
import { sinkProcessFixture } from './testing/process-fixture.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..', '..');
const N = 3000;

describe('sink killed (SIGKILL) between insert and commit', () => {
  it('stores every decision once after a restart, and the chains verify', async () => {
    const { env, admin, committed } = await sinkProcessFixture('sink-kill', {
      n: N,
      publishBatch: 500,
      checkpointMaxRows: 250,
      maxBatchRows: 200,
    });
    const run = (script: string, args: string[] = []): ChildProcess =>
      spawn(process.execPath, ['--import', 'tsx', join(here, script), ...args], {
        env,
        cwd: root,
        stdio: ['ignore', 'pipe', 'inherit'],
      });
    const exit = (c: ChildProcess) =>
      new Promise<NodeJS.Signals | number | null>((r) => c.once('exit', (code, sig) => r(sig ?? code)));

    // 1. Killed right after its 4th insert.
    const first = run('testing/kill-child.ts', ['4']);
    expect(await exit(first)).toBe('SIGKILL');
    const before = await committed();
    expect(before).toBeLessThan(N);

    // 2. The real sink on the same directory, until everything is committed; then a clean stop.
    const second = run('main.ts');
    const secondExit = exit(second);
    await waitFor(async () => (await committed()) >= N, {
      what: `the sink to commit all ${N} offsets`,
      timeoutMs: 120_000,
      everyMs: 300,
    });
    expect(await committed()).toBe(N);
    second.kill('SIGTERM');
    expect(await secondExit).toBe(0);
    await admin.disconnect();

    // 3. Inspect: count = distinct = N, and the chains verify.
    const inspect = run('testing/inspect-child.ts');
    let out = '';
    inspect.stdout?.on('data', (b) => {
      out += String(b);
    });
    expect(await exit(inspect)).toBe(0);
    const { n, distinct, report } = JSON.parse(out.trim().split('\n').at(-1) as string) as {
      n: number;
      distinct: number;
      report: VerifyReport;
    };
    expect({ n, distinct }).toEqual({ n: N, distinct: N });
    expect(report.findings.filter((f) => f.severity !== 'info')).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.checkpoints.valid).toBeGreaterThan(3);
  });
});
