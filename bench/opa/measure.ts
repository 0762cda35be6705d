/**
 * Open Policy Agent's side of the policy benchmark: the same events, subject state and bulk counts
 * handed to bench/opa/driver (OPA's Go API, a prepared query evaluated per event, see
 * docs/decisions/opa-comparison.md), its decisions/s per pass, and each event's outcome and codes to
 * compare with the TypeScript engine's.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Evaluator } from '../../packages/policy/src/index.js';
import type { AccessEvent, SubjectStateChange } from '../../schemas/src/index.js';
import { ensureOpa, OPA_VERSION, opaPaths } from './binary.js';
import { opaBundleData, opaSubjectData } from './data.js';

export interface OpaRun {
  version: string;
  /** decisions/s of each timed pass */
  rates: number[];
  /** process CPU µs (all threads) per decision of each timed pass */
  cpuUs: number[];
  /** per event: "outcome" or "outcome:CODE,CODE" (codes sorted) */
  codes: string[];
}

export async function measureOpa(
  evaluator: Evaluator,
  events: readonly AccessEvent[],
  changes: readonly SubjectStateChange[],
  reps: number,
): Promise<OpaRun> {
  ensureOpa();
  // OPA keeps no state between evaluations: the bulk window's counts go in with each event, counted
  // beforehand (untimed) by a window of the engine's own.
  const bulk = evaluator.createBulkWindow();
  const staff = new Set(evaluator.bundle.staff.map((s) => s.id));
  const dir = mkdtempSync(join(tmpdir(), 'custos-opa-bench-'));
  try {
    const lines: string[] = new Array(events.length);
    for (let i = 0; i < events.length; i++) {
      const e = events[i]!;
      const known = e.actor.type === 'staff' && staff.has(e.actor.id);
      const n = known ? bulk.observe(e.actor.id, Date.parse(e.occurredAt), e.tenantId, e.subject.id) : 0;
      lines[i] = JSON.stringify({ event: e, bulk_distinct: n });
    }
    writeFileSync(join(dir, 'events.ndjson'), `${lines.join('\n')}\n`);
    writeFileSync(
      join(dir, 'data.json'),
      JSON.stringify({ policy_bundle: opaBundleData(evaluator.bundle), subjects: opaSubjectData(changes) }),
    );
    const out = join(dir, 'outcomes.txt');
    const stdout = await new Promise<string>((done, fail) => {
      const child = spawn(
        opaPaths.driver,
        [
          '-rego',
          opaPaths.rego,
          '-data',
          join(dir, 'data.json'),
          '-events',
          join(dir, 'events.ndjson'),
          '-reps',
          String(reps),
          '-out',
          out,
        ],
        { stdio: ['ignore', 'pipe', 'inherit'] },
      );
      let text = '';
      child.stdout.on('data', (d: Buffer) => {
        text += d;
      });
      child.on('error', fail);
      child.on('exit', (code) => (code === 0 ? done(text) : fail(new Error(`opa-bench exited with ${code}`))));
    });
    const r = JSON.parse(stdout) as { decisions_per_s: number[]; cpu_us_per_decision: number[] };
    return {
      version: OPA_VERSION,
      rates: r.decisions_per_s,
      cpuUs: r.cpu_us_per_decision,
      codes: readFileSync(out, 'utf8').trimEnd().split('\n'),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** "outcome:B,A" → "outcome:A,B": the engines sort codes differently. */
export function normaliseCodes(c: string): string {
  const [outcome, codes] = c.split(':');
  return codes === undefined ? outcome! : `${outcome}:${codes.split(',').sort().join(',')}`;
}
