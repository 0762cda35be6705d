/**
 * `pnpm bench [suite…] [--quick]`: every benchmark suite in one go, or the named ones, each as a
 * child process of its own (a fresh heap, and a crash stays in its suite). Their output passes
 * through as they run, with a line when a suite starts, ends, or has been quiet for a minute. Each
 * writes bench/results/<suite>.json; this collects those into bench/results.json with the targets
 * (bench/targets.ts) and prints one table. A suite that fails is
 * reported and the rest still run. Exit status: 0 when every suite ran and every target was met.
 *
 *   --quick     fewer events, rows and repetitions (a smoke run: the figures are not for quoting)
 *   --list      print the suites and exit
 *
 * Ratios across suites (the SDK and the enforcer against Kafka's Java clients) are computed here
 * when both suites ran.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tcpReachable } from '../test/support/preflight.js';
import { benchArgs } from './cli-args.js';
import { describeTarget, meets, TARGETS } from './targets.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

interface Suite {
  name: string;
  script: string;
  /** what it measures, for --list */
  what: string;
  kafka: boolean;
  args?: string[];
  quickArgs?: string[];
  quickEnv?: Record<string, string>;
}

const SUITES: Suite[] = [
  {
    name: 'policy',
    script: 'bench/policy.bench.ts',
    what: 'the policy engine beside Open Policy Agent and the plain reference evaluator',
    kafka: false,
    quickArgs: ['--events', '50000', '--reps', '3', '--opa-events', '5000'],
  },
  {
    name: 'sdk',
    script: 'bench/sdk.bench.ts',
    what: 'the SDK beside a plain kafkajs producer',
    kafka: true,
    quickArgs: ['--reps', '1', '--events', '50000', '--sustain', '0'],
  },
  {
    name: 'enforcer',
    script: 'bench/enforcer.bench.ts',
    what: 'the enforcer beside a pass-through consumer/producer',
    kafka: true,
    quickArgs: ['--reps', '1', '--events', '50000', '--warmup', '50000', '--no-sized-peer'],
  },
  {
    name: 'java',
    script: 'bench/java.bench.ts',
    what: "Kafka's own Java clients (producer and consumer perf tests), the ceiling for the SDK and the enforcer",
    kafka: true,
    quickArgs: ['--records', '100000', '--reps', '1'],
  },
  {
    name: 'store',
    script: 'bench/store.bench.ts',
    what: 'the sink into chDB beside a bare @clickhouse/client insert, queries, storage, verification',
    kafka: true,
    quickArgs: ['--rows', '100000', '--reps', '1', '--query-rows', '1000000', '--queries', '50'],
  },
  {
    name: 'api',
    script: 'bench/api.bench.ts',
    what: 'the subject report, search and the monthly report over HTTP',
    kafka: false,
    quickEnv: {
      BENCH_ROWS: '1000000',
      BENCH_DURATION_S: '3',
      BENCH_REPS: '1',
      BENCH_CHDB_PATH: '.data/bench-chdb-quick',
    },
  },
];

const { values: opts, positionals } = benchArgs(
  {
    command: 'pnpm bench',
    positionals: '[suite…]',
    summary:
      `Every benchmark suite in one go (or the named ones: ${SUITES.map((s) => s.name).join(', ')}; --list describes\n` +
      'them), each as a child process of its own, with the outside peers measured in the same run.',
    prints:
      'each suite’s output as it runs, then one table of every figure against its target (bench/targets.ts); writes\n' +
      'bench/results/<suite>.json and bench/results.json. Exits 0 when every suite ran and every target was met.',
  },
  {
    quick: { type: 'boolean', default: false, help: 'fewer events, rows and repetitions (a smoke run: not for quoting)' },
    list: { type: 'boolean', default: false, help: 'print the suites and exit' },
  },
);

if (opts.list) {
  for (const s of SUITES) console.log(`${s.name.padEnd(9)} ${s.what}`);
  process.exit(0);
}
const unknown = positionals.filter((p) => !SUITES.some((s) => s.name === p));
if (unknown.length > 0) {
  console.error(`pnpm bench: no suite ${unknown.join(', ')}; the suites: ${SUITES.map((s) => s.name).join(', ')}`);
  process.exit(2);
}
const chosen = positionals.length === 0 ? SUITES : SUITES.filter((s) => positionals.includes(s.name));

interface Figure {
  name: string;
  value: number;
  unit: string;
  peer?: { name: string; value: number };
  ratio?: number;
}
interface SuiteRun {
  name: string;
  ok: boolean;
  seconds: number;
  exitCode: number | null;
  error?: string;
  figures: Figure[];
}

function runSuite(s: Suite, i: number): Promise<SuiteRun> {
  const resultFile = join(root, 'bench', 'results', `${s.name}.json`);
  const started = Date.now();
  const tag = `[bench ${i + 1}/${chosen.length} ${s.name}]`;
  console.log(`\n${tag} started (load average ${loadavg()[0]!.toFixed(2)})`);
  const args = [...(s.args ?? []), ...(opts.quick ? (s.quickArgs ?? []) : [])];
  const env = { ...process.env, ...(opts.quick ? s.quickEnv : {}) };
  const source = '--conditions=custos-source';
  if (!env.NODE_OPTIONS?.includes(source)) env.NODE_OPTIONS = `${env.NODE_OPTIONS ?? ''} ${source}`.trim();
  return new Promise((done) => {
    // Output passes through as it comes; a suite quiet for a minute (a 10 M-row load, a long
    // repetition) gets a line saying it is still running.
    const child = spawn(join(root, 'node_modules', '.bin', 'tsx'), [join(root, s.script), ...args], {
      cwd: root,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let lastOutput = Date.now();
    child.stdout.on('data', (d: Buffer) => {
      lastOutput = Date.now();
      process.stdout.write(d);
    });
    child.stderr.on('data', (d: Buffer) => {
      lastOutput = Date.now();
      process.stderr.write(d);
    });
    const QUIET_MS = 60_000;
    const heartbeat = setInterval(() => {
      if (Date.now() - lastOutput < QUIET_MS) return;
      lastOutput = Date.now();
      const m = Math.floor((Date.now() - started) / 60_000);
      console.log(`${tag} still running (${m} min, load average ${loadavg()[0]!.toFixed(2)})`);
    }, 5_000);
    const finish = (exitCode: number | null, error?: string) => {
      clearInterval(heartbeat);
      const seconds = Math.round((Date.now() - started) / 1000);
      let figures: Figure[] = [];
      let problem = error;
      if (problem === undefined && exitCode !== 0) problem = `exited with ${exitCode}`;
      if (problem === undefined) {
        // Only this run's file counts: a failed suite must not report an older run's figures.
        try {
          const r = JSON.parse(readFileSync(resultFile, 'utf8')) as { when: string; figures: Figure[] };
          if (Date.parse(r.when) < started - 1000) problem = `did not write ${resultFile}`;
          else figures = r.figures;
        } catch (e) {
          problem = `no readable ${resultFile}: ${(e as Error).message}`;
        }
      }
      console.log(`${tag} ${problem === undefined ? 'done' : `FAILED: ${problem}`} after ${seconds} s`);
      done({ name: s.name, ok: problem === undefined, seconds, exitCode, error: problem, figures });
    };
    child.on('error', (e) => finish(null, e.message));
    child.on('exit', (code, signal) => finish(code, signal ? `killed by ${signal}` : undefined));
  });
}

/** Whether something accepts connections at the first of KAFKA_BROKERS. */
const brokerUp = () => tcpReachable((process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',')[0]!, 2000);

if (chosen.some((s) => s.kafka) && !(await brokerUp())) {
  // The Kafka suites need the local broker and registry.
  const up = spawn('bash', [join(root, 'infra', 'infra.sh'), 'up'], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
  const code = await new Promise<number | null>((r) => up.on('exit', r));
  if (code !== 0) console.error(`pnpm bench: infra/infra.sh up failed (${code}); the Kafka suites will fail`);
}

const startedAt = new Date();
const loadBefore = loadavg();
const runs: SuiteRun[] = [];

/** Every figure so far with its target, and cross-suite ratios; written after each suite. */
function collect() {
  // Our Kafka throughput against Kafka's own Java clients, same run.
  const all = new Map(runs.flatMap((r) => r.figures.map((f) => [f.name, f] as const)));
  const derived: Figure[] = [];
  const against = (name: string, figure: string, peer: string) => {
    const f = all.get(figure);
    const p = all.get(peer);
    if (f === undefined || p === undefined || p.value === 0) return;
    derived.push({
      name,
      value: f.value,
      unit: f.unit,
      peer: { name: p.name, value: p.value },
      ratio: Math.round((f.value / p.value) * 1000) / 1000,
    });
  };
  against('sdk.throughput_vs_java_producer', 'sdk.throughput_eps', 'java.producer_records_per_s');
  against('enforcer.events_per_s_vs_java_consumer', 'enforcer.events_per_s', 'java.consumer_records_per_s');
  against('enforcer.events_per_s_vs_java_producer', 'enforcer.events_per_s', 'java.producer_records_per_s');
  const rows = [
    ...runs.flatMap((r) => r.figures.map((f) => ({ suite: r.name, ...f }))),
    ...derived.map((f) => ({ suite: 'ratios', ...f })),
  ].map((f) => {
    const target = TARGETS[f.name];
    const met = meets(target, f.value, f.ratio);
    return { ...f, ...(target ? { target: { ...target, met } } : {}) };
  });
  const missed = rows.filter((r) => r.target?.met === false);
  const results = {
    when: startedAt.toISOString(),
    quick: opts.quick,
    complete: runs.length === chosen.length,
    machine: {
      cpus: availableParallelism(),
      node: process.version,
      loadavg_before: loadBefore.map((x) => Number(x.toFixed(2))),
      loadavg_after: loadavg().map((x) => Number(x.toFixed(2))),
    },
    suites: runs.map(({ figures: _, ...r }) => r),
    figures: rows,
    targets_missed: missed.map((r) => r.name),
  };
  mkdirSync(join(root, 'bench', 'results'), { recursive: true });
  writeFileSync(join(root, 'bench', 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
  return { rows, missed };
}

for (const [i, s] of chosen.entries()) {
  runs.push(await runSuite(s, i));
  collect();
}
const { rows, missed } = collect();
const failed = runs.filter((r) => !r.ok);

const fmt = (n: number) => (Number.isInteger(n) ? n.toLocaleString('en-US') : String(n));
const table = [
  ['figure', 'value', 'unit', 'peer', 'ratio', 'target', ''],
  ...rows.map((r) => [
    r.name,
    fmt(r.value),
    r.unit,
    r.peer ? `${r.peer.name} ${fmt(r.peer.value)}` : '',
    r.ratio !== undefined ? `×${r.ratio}` : '',
    r.target ? describeTarget(r.target) : '',
    r.target ? (r.target.met ? 'met' : 'MISSED') : '',
  ]),
];
const widths = table[0]!.map((_, c) => Math.max(...table.map((row) => row[c]!.length)));
console.log(
  `\npnpm bench${opts.quick ? ' --quick' : ''}: ${runs.length} suites, ${fmt(rows.length)} figures, load average ${loadBefore[0]!.toFixed(2)} → ${loadavg()[0]!.toFixed(2)} on ${availableParallelism()} cores\n`,
);
for (const [i, row] of table.entries()) {
  console.log(
    row
      .map((cell, c) => (c === 1 || c === 4 ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!)))
      .join('  ')
      .trimEnd(),
  );
  if (i === 0) console.log(widths.map((w) => '-'.repeat(w)).join('  '));
}
console.log('');
for (const r of runs) console.log(`${r.ok ? 'ok    ' : 'FAILED'} ${r.name} (${r.seconds} s)${r.error ? `: ${r.error}` : ''}`);
if (missed.length > 0) console.log(`targets missed: ${missed.map((r) => r.name).join(', ')}`);
console.log('wrote bench/results.json');
process.exitCode = failed.length > 0 || missed.length > 0 ? 1 : 0;
