/**
 * Decisions per second of the compiled policy evaluator on one core, against a naive evaluator that
 * scans the bundle's arrays for every event. Both get the same subject state and bulk window modules,
 * so the figure isolates rule evaluation. Run: pnpm bench:policy
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  compileBundle,
  type Evaluator,
  naiveEvaluate,
  type PolicyBundle,
  parseBundleText,
  SubjectStateStore,
} from '../packages/policy/src/index.js';
import { EventMix } from './event-mix.js';

type AccessEvent = Parameters<Evaluator['evaluate']>[0];

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const EVENTS = 200_000;
const REPS = 7;

function generate(): { events: AccessEvent[]; state: SubjectStateStore } {
  const mix = new EventMix();
  const events: AccessEvent[] = [];
  for (let i = 0; i < EVENTS; i++) events.push(mix.next());
  const state = new SubjectStateStore();
  for (let i = 0; i < 2_000; i++) state.apply(mix.stateChange(i));
  return { events, state };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

const loaded = parseBundleText(readFileSync(resolve(root, 'policies/example-org.json'), 'utf8'));
if (!loaded.ok) throw new Error(`policies/example-org.json is invalid: ${JSON.stringify(loaded.issues)}`);
const bundle: PolicyBundle = loaded.value.bundle;
const evaluator = compileBundle(bundle, loaded.value.policyVersion);
const { events, state } = generate();

type Run = (e: AccessEvent, ctx: Parameters<Evaluator['evaluate']>[1]) => { outcome: string; reasons: Array<{ code: string }> };
const compiled: Run = (e, ctx) => evaluator.evaluate(e, ctx);
const naive: Run = (e, ctx) => naiveEvaluate(bundle, e, ctx, loaded.value.policyVersion);

function pass(run: Run): { perSecond: number; outcomes: Record<string, number>; codes: string[] } {
  const ctx = { subjectState: state, bulk: evaluator.createBulkWindow() };
  const outcomes: Record<string, number> = { allow: 0, flag: 0, deny: 0 };
  const codes: string[] = new Array(events.length);
  const start = process.hrtime.bigint();
  for (let i = 0; i < events.length; i++) {
    const j = run(events[i]!, ctx);
    outcomes[j.outcome]!++;
    codes[i] = j.reasons.length === 0 ? j.outcome : `${j.outcome}:${j.reasons.map((r) => r.code).join(',')}`;
  }
  const ns = Number(process.hrtime.bigint() - start);
  return { perSecond: events.length / (ns / 1e9), outcomes, codes };
}

// Warm-up, and a check that both evaluators agree on every event of the mix.
const a = pass(compiled);
const b = pass(naive);
const mismatches = a.codes.filter((c, i) => c !== b.codes[i]).length;
if (mismatches > 0) throw new Error(`compiled and naive evaluators disagree on ${mismatches} events`);
const codeCounts = new Map<string, number>();
for (const c of a.codes)
  for (const code of c.split(':')[1]?.split(',') ?? []) codeCounts.set(code, (codeCounts.get(code) ?? 0) + 1);

const compiledRuns: number[] = [];
const naiveRuns: number[] = [];
for (let r = 0; r < REPS; r++) {
  compiledRuns.push(pass(compiled).perSecond);
  naiveRuns.push(pass(naive).perSecond);
}
const value = Math.round(median(compiledRuns));
const peer = Math.round(median(naiveRuns));
const ratio = Math.round((value / peer) * 100) / 100;

const pct = (n: number) => `${((n / events.length) * 100).toFixed(1)} %`;
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
console.log(
  `policy bench: ${fmt(events.length)} events on ${loaded.value.policyVersion}, one core, median of ${REPS} runs after a warm-up`,
);
console.log(
  `mix: allow ${pct(a.outcomes.allow!)}, flag ${pct(a.outcomes.flag!)}, deny ${pct(a.outcomes.deny!)}; codes ${[...codeCounts].map(([c, n]) => `${c} ${n}`).join(', ')}`,
);
console.log('compiled and naive agree on every event\n');
console.log('| evaluator | decisions/s (median) | min | max |');
console.log('|---|---:|---:|---:|');
console.log(
  `| compiled (policy.decisions_per_s) | ${fmt(value)} | ${fmt(Math.min(...compiledRuns))} | ${fmt(Math.max(...compiledRuns))} |`,
);
console.log(`| naive (naive.decisions_per_s) | ${fmt(peer)} | ${fmt(Math.min(...naiveRuns))} | ${fmt(Math.max(...naiveRuns))} |`);
console.log(`\nratio compiled/naive: ${ratio}`);

const results = {
  suite: 'policy',
  when: new Date().toISOString(),
  machine: { cpus: availableParallelism(), node: process.version },
  figures: [
    { name: 'policy.decisions_per_s', value, unit: 'decisions/s', peer: { name: 'naive.decisions_per_s', value: peer }, ratio },
  ],
};
mkdirSync(resolve(root, 'bench/results'), { recursive: true });
writeFileSync(resolve(root, 'bench/results/policy.json'), `${JSON.stringify(results, null, 2)}\n`);
console.log('wrote bench/results/policy.json');
