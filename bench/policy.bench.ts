/**
 * Decisions per second of the compiled policy evaluator on one core, against Open Policy Agent judging
 * the same events with the Rego translation of the rules (bench/opa: OPA's Go API, one prepared query
 * per event; the same outcomes and codes on every event are checked first), and against a naive
 * evaluator that scans the bundle's arrays for every event (the same subject state and bulk window
 * modules, so that figure isolates rule evaluation). Run: pnpm bench:policy [--events N] [--reps R]
 * [--no-opa] (OPA is built by scripts/opa.sh when missing; that needs Go).
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
import type { SubjectStateChange } from '../schemas/src/index.js';
import { benchArgs } from './cli-args.js';
import { EventMix } from './event-mix.js';
import { ensureOpa } from './opa/binary.js';
import { measureOpa, normaliseCodes, type OpaRun } from './opa/measure.js';

type AccessEvent = Parameters<Evaluator['evaluate']>[0];

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { values: args } = benchArgs(
  {
    command: 'pnpm bench:policy',
    summary:
      'Decisions/s of the compiled policy evaluator on one core over the realistic event mix, against a naive evaluator\n' +
      'and against Open Policy Agent judging the same events with the Rego translation of the rules (bench/opa; same\n' +
      'outcomes and codes checked first; OPA is built by scripts/opa.sh when missing, which needs Go).',
    prints:
      'a table of policy.decisions_per_s with its peers naive.decisions_per_s and opa.decisions_per_s (and their ratios);\n' +
      'writes bench/results/policy.json.',
  },
  {
    events: { type: 'string', default: '200000', arg: 'N', help: 'events judged per repetition' },
    reps: { type: 'string', default: '7', arg: 'R', help: 'repetitions (figures are medians)' },
    opa: { type: 'boolean', default: true, help: 'also measure OPA' },
    // OPA judges ~100× slower: the first N events of the same run (a stationary mix) keep it to minutes
    'opa-events': { type: 'string', default: '20000', arg: 'N', help: 'events OPA judges (the first N of the same run)' },
  },
);
const EVENTS = Number(args.events);
const REPS = Number(args.reps);

function generate(): { events: AccessEvent[]; state: SubjectStateStore; changes: SubjectStateChange[] } {
  const mix = new EventMix();
  const events: AccessEvent[] = [];
  for (let i = 0; i < EVENTS; i++) events.push(mix.next());
  const state = new SubjectStateStore();
  const changes: SubjectStateChange[] = [];
  for (let i = 0; i < 2_000; i++) changes.push(mix.stateChange(i));
  for (const c of changes) state.apply(c);
  return { events, state, changes };
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
const { events, state, changes } = generate();

type Run = (e: AccessEvent, ctx: Parameters<Evaluator['evaluate']>[1]) => { outcome: string; reasons: Array<{ code: string }> };
const compiled: Run = (e, ctx) => evaluator.evaluate(e, ctx);
const naive: Run = (e, ctx) => naiveEvaluate(bundle, e, ctx, loaded.value.policyVersion);

function pass(run: Run): { perSecond: number; cpuUs: number; outcomes: Record<string, number>; codes: string[] } {
  const ctx = { subjectState: state, bulk: evaluator.createBulkWindow() };
  const outcomes: Record<string, number> = { allow: 0, flag: 0, deny: 0 };
  const codes: string[] = new Array(events.length);
  const cpu0 = process.cpuUsage();
  const start = process.hrtime.bigint();
  for (let i = 0; i < events.length; i++) {
    const j = run(events[i]!, ctx);
    outcomes[j.outcome]!++;
    codes[i] = j.reasons.length === 0 ? j.outcome : `${j.outcome}:${j.reasons.map((r) => r.code).join(',')}`;
  }
  const ns = Number(process.hrtime.bigint() - start);
  const cpu = process.cpuUsage(cpu0);
  return { perSecond: events.length / (ns / 1e9), cpuUs: (cpu.user + cpu.system) / events.length, outcomes, codes };
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
const compiledCpu: number[] = [];
const naiveRuns: number[] = [];
for (let r = 0; r < REPS; r++) {
  const c = pass(compiled);
  compiledRuns.push(c.perSecond);
  compiledCpu.push(c.cpuUs);
  naiveRuns.push(pass(naive).perSecond);
}
// Process CPU per decision (all threads, the garbage collectors' too) on both sides: on a loaded
// machine wall time says how much of a core each engine got as much as how fast it judges, and the
// two engines are timed minutes apart; CPU time is far less sensitive to that.
const cpuUs = median(compiledCpu);
const value = Math.round(median(compiledRuns));
const peer = Math.round(median(naiveRuns));
const ratio = Math.round((value / peer) * 100) / 100;

// OPA in its own process after ours (two cores: side by side would make each the other's noise).
let opa: OpaRun | undefined;
let opaValue: number | undefined;
let opaCpuUs: number | undefined;
let opaBuilt = args.opa;
if (opaBuilt) {
  try {
    ensureOpa();
  } catch (err) {
    // No Go on this machine: the figure goes without its outside peer, and says so.
    console.error(`policy bench: no Open Policy Agent to compare with: ${(err as Error).message}`);
    opaBuilt = false;
  }
}
if (opaBuilt) {
  const some = events.slice(0, Math.min(EVENTS, Number(args['opa-events'])));
  console.log(`policy bench: Open Policy Agent on the first ${some.length.toLocaleString('en-US')} of those events (bench/opa)…`);
  opa = await measureOpa(evaluator, some, changes, Math.min(REPS, 3));
  const differ = opa.codes.reduce((n, c, i) => n + (normaliseCodes(c) === normaliseCodes(a.codes[i]!) ? 0 : 1), 0);
  if (opa.codes.length !== some.length || differ > 0) {
    const i = opa.codes.findIndex((c, j) => normaliseCodes(c) !== normaliseCodes(a.codes[j]!));
    throw new Error(
      `OPA and the policy engine disagree on ${differ} of ${some.length} events; first: ${JSON.stringify(events[i])} → OPA ${opa.codes[i]}, engine ${a.codes[i]}`,
    );
  }
  opaValue = Math.round(median(opa.rates));
  opaCpuUs = median(opa.cpuUs);
}

const pct = (n: number) => `${((n / events.length) * 100).toFixed(1)} %`;
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
console.log(
  `policy bench: ${fmt(events.length)} events on ${loaded.value.policyVersion}, one core, median of ${REPS} runs after a warm-up`,
);
console.log(
  `mix: allow ${pct(a.outcomes.allow!)}, flag ${pct(a.outcomes.flag!)}, deny ${pct(a.outcomes.deny!)}; codes ${[...codeCounts].map(([c, n]) => `${c} ${n}`).join(', ')}`,
);
console.log(
  `compiled and naive agree on every event${opa ? `; OPA ${opa.version} agrees on every one of the ${opa.codes.length.toLocaleString('en-US')} it judged` : ''}\n`,
);
console.log('| evaluator | decisions/s (median) | min | max |');
console.log('|---|---:|---:|---:|');
console.log(
  `| compiled (policy.decisions_per_s) | ${fmt(value)} | ${fmt(Math.min(...compiledRuns))} | ${fmt(Math.max(...compiledRuns))} |`,
);
console.log(`| naive (naive.decisions_per_s) | ${fmt(peer)} | ${fmt(Math.min(...naiveRuns))} | ${fmt(Math.max(...naiveRuns))} |`);
if (opa && opaValue)
  console.log(
    `| Open Policy Agent ${opa.version}, Go API, ${opa.codes.length.toLocaleString('en-US')} events (opa.decisions_per_s) | ${fmt(opaValue)} | ${fmt(Math.min(...opa.rates))} | ${fmt(Math.max(...opa.rates))} |`,
  );
console.log(
  `\nCPU µs per decision (process, all threads): compiled ${cpuUs.toFixed(2)}${opaCpuUs !== undefined ? `; OPA ${opaCpuUs.toFixed(1)} (×${Math.round(opaCpuUs / cpuUs)})` : ''}`,
);
console.log(`ratio compiled/naive: ${ratio}${opaValue ? `; compiled/OPA: ${Math.round((value / opaValue) * 100) / 100}` : ''}`);

const results = {
  suite: 'policy',
  when: new Date().toISOString(),
  machine: { cpus: availableParallelism(), node: process.version },
  figures: [
    opaValue
      ? {
          name: 'policy.decisions_per_s',
          value,
          unit: 'decisions/s',
          peer: { name: 'opa.decisions_per_s', value: opaValue },
          ratio: Math.round((value / opaValue) * 100) / 100,
        }
      : { name: 'policy.decisions_per_s', value, unit: 'decisions/s' },
    opaCpuUs !== undefined
      ? {
          name: 'policy.cpu_us_per_decision',
          value: Number(cpuUs.toFixed(3)),
          unit: 'µs',
          peer: { name: 'opa.cpu_us_per_decision', value: Number(opaCpuUs.toFixed(1)) },
          ratio: Math.round((opaCpuUs / cpuUs) * 100) / 100,
        }
      : { name: 'policy.cpu_us_per_decision', value: Number(cpuUs.toFixed(3)), unit: 'µs' },
    {
      name: 'policy.decisions_per_s_vs_naive',
      value,
      unit: 'decisions/s',
      peer: { name: 'naive.decisions_per_s', value: peer },
      ratio,
    },
  ],
};
mkdirSync(resolve(root, 'bench/results'), { recursive: true });
writeFileSync(resolve(root, 'bench/results/policy.json'), `${JSON.stringify(results, null, 2)}\n`);
console.log('wrote bench/results/policy.json');
