/**
 * SDK benchmark (`pnpm bench:sdk`), against the local broker and registry (infra/infra.sh up).
 *
 * Each side runs in a fresh process of its own (bench/sdk-child.ts), one per side and repetition,
 * interleaved SDK / peer so that load from other processes on the machine hits both; this process
 * only creates the topics, starts the children and gathers their figures over IPC.
 *
 *   sdk.record_overhead_p50_us / _p99_us  time record() takes on the calling thread (validate, fill,
 *                                         encode, append to spool + queue), per call, timer cost
 *                                         subtracted; measured in bursts while the sender runs
 *   sdk.throughput_eps                    events/s from the first record() to flush() resolving
 *                                         (acks=all, idempotent producer, default options, spool on
 *                                         with fsync 'batch'), peer: a plain kafkajs producer
 *                                         sending the same framed Avro values with sendBatch in
 *                                         batches of the same byte size, acks=all, after a warm-up
 *                                         of as many events as the SDK's process records before
 *                                         its timed run (20 k + the overhead calls)
 *   sdk.cpu_us_per_event                  process CPU (user + system, all threads) per event over
 *                                         the throughput run; peer: the same for the kafkajs run
 *   sdk.rss_mib                           peak RSS (kernel high-water mark) of the SDK's process
 *                                         over its whole life (default queue bound, 32 MiB);
 *                                         median over repetitions, max beside it; the peer's
 *                                         process the same (kafkajs.rss_mib)
 *   sdk.rss_sustained_mib                 the SDK alone at full speed for --sustain seconds (default
 *                                         20; 0 skips it), RSS sampled every second: peak, with the
 *                                         first and last samples — flat or growing; peer: the plain
 *                                         kafkajs producer the same way, in its own process
 *   sdk.rss_baseline_mib                  the SDK's process before any client (Node + tsx +
 *                                         modules + the event pool)
 *
 * Runs the TypeScript sources under tsx (the packages' custos-source condition): tsx's loader is part
 * of the baseline. The packed side runs the built packages (only its child's own file goes through tsx).
 * Each figure is the median of --reps repetitions (default 5; BENCH_REPS also works); the load
 * average is printed and recorded. `pnpm bench:sdk -- --reps 7 --events 400000 --sustain 60`;
 * `--sender inline` runs the SDK with kafkajs on the caller's thread instead of its sender thread.
 * `--packed` also runs the SDK as a service outside the workspace gets it: the four packages packed
 * (scripts/pack.sh) and installed with npm into a temporary project, kafkajs from the registry
 * (stock, so the SDK takes its ordinary-messages path), the same child run from there; each
 * repetition then runs workspace SDK, packed SDK, the plain producer on that project's (stock)
 * kafkajs and the workspace peer back to back; the packed figures come out as `sdk_packed.*`
 * against the stock producer (`kafkajs_stock.*`).
 * Writes bench/results/sdk.json.
 */
import { execFileSync, fork } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
// The root has no workspace dependencies of its own, so the packages are imported by path.
import { createKafka, ensureTopics } from '../packages/kafka/src/index.js';
import { topics } from '../schemas/src/index.js';
import { benchArgs } from './cli-args.js';
import type { Sample } from './sdk-child.js';

const here = dirname(fileURLToPath(import.meta.url));
const brokers = process.env.KAFKA_BROKERS ?? '127.0.0.1:9092';
const registryUrl = process.env.SCHEMA_REGISTRY_URL ?? 'http://127.0.0.1:8081/apis/ccompat/v7';
const { values: args } = benchArgs(
  {
    command: 'pnpm bench:sdk',
    summary:
      'The SDK’s record() overhead, throughput (acks=all, spool on), CPU per event and memory, each side in a fresh\n' +
      'process (bench/sdk-child.ts), against a plain kafkajs producer sending the same framed Avro values. Needs the local\n' +
      'Kafka and registry (KAFKA_BROKERS, SCHEMA_REGISTRY_URL).',
    prints:
      'a line per run and a table of sdk.record_overhead_p50_us/_p99_us, sdk.throughput_eps, sdk.cpu_us_per_event,\n' +
      'sdk.rss_* with their kafkajs peers (with --packed also sdk_packed.*); writes bench/results/sdk.json.',
  },
  {
    reps: {
      type: 'string',
      default: process.env.BENCH_REPS ?? '5',
      arg: 'R',
      help: 'repetitions (figures are medians; or BENCH_REPS)',
    },
    events: {
      type: 'string',
      default: process.env.BENCH_EVENTS ?? '200000',
      arg: 'N',
      help: 'events per throughput run (or BENCH_EVENTS)',
    },
    sustain: {
      type: 'string',
      default: process.env.BENCH_SUSTAIN ?? '20',
      arg: 'S',
      help: 'seconds of the sustained-memory run, 0 skips it (or BENCH_SUSTAIN)',
    },
    // where the SDK's producer runs: 'thread' (the default, a sender thread) or 'inline'
    sender: { type: 'string', default: 'thread', arg: 'WHERE', help: 'the SDK’s producer on its sender thread, or inline' },
    packed: { type: 'boolean', default: false, help: 'also run the SDK as packed and installed with npm outside the workspace' },
  },
);
if (args.sender !== 'thread' && args.sender !== 'inline') throw new Error(`--sender: 'thread' or 'inline', not '${args.sender}'`);
const REPS = Number(args.reps);
const N = Number(args.events);
const SUSTAIN_S = Number(args.sustain);
const OVERHEAD_CALLS = process.env.BENCH_OVERHEAD_CALLS ?? '100000';
const RSS_TARGET_MIB = 200;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const load = () =>
  loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');

interface SdkResult {
  p50: number;
  p99: number;
  eps: number;
  cpu: number;
  /** of cpu, the caller's thread; the rest is the sender thread's */
  callerCpu: number;
  /** events of the throughput run sent from the spool (out of memory past maxQueueBytes) */
  spooled: number;
  baselineMib: number;
  rssMib: number;
}
interface PeerResult {
  eps: number;
  cpu: number;
  baselineMib: number;
  rssMib: number;
}
interface SustainResult {
  seconds: number;
  events: number;
  recordEps: number;
  deliveredEps: number;
  cpu: number;
  spooled: number;
  replayed: number;
  baselineMib: number;
  rssMib: number;
  samples: Sample[];
}

/**
 * The SDK as packed and installed with npm outside the workspace: a temporary project with the
 * tarballs installed (kafkajs and the rest from the registry) and a copy of sdk-child.ts whose
 * imports name the packages instead of the workspace's sources.
 */
function packedProject(): string {
  const dir = mkdtempSync(join(tmpdir(), 'custos-bench-sdk-packed-'));
  const out = execFileSync('bash', [join(here, '..', 'scripts', 'pack.sh'), join(dir, 'tarballs')], { encoding: 'utf8' });
  const tarballs = out.split('\n').filter((l) => l.endsWith('.tgz'));
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'bench-sdk-packed', private: true, type: 'module' }));
  execFileSync('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', ...tarballs], { cwd: dir, stdio: 'inherit' });
  const child = readFileSync(join(here, 'sdk-child.ts'), 'utf8')
    .replace("'../packages/kafka/src/index.js'", "'@custos/kafka'")
    .replace("'../packages/sdk/src/index.js'", "'@custos/sdk'")
    .replace("'../schemas/src/index.js'", "'@custos/schemas'");
  writeFileSync(join(dir, 'sdk-child.ts'), child);
  return dir;
}
let packedDir: string | undefined;

/** Runs one side in a fresh process (inheriting tsx's loader flags) and returns what it reports. */
function child<T>(side: 'sdk' | 'peer' | 'sustain' | 'peer-sustain', prefix: string, packed = false): Promise<T> {
  return new Promise((resolve, reject) => {
    // The packed side runs from its project with plain Node, as a service would: Node strips the
    // child's types itself, and the packages resolve to their built files (no source condition, no
    // tsx loader thread in the process being measured).
    const env = packed
      ? { ...process.env, NODE_OPTIONS: (process.env.NODE_OPTIONS ?? '').replace('--conditions=custos-source', '') }
      : process.env;
    const p = fork(
      join(packed ? packedDir! : here, 'sdk-child.ts'),
      [
        `--side=${side}`,
        `--prefix=${prefix}`,
        `--events=${N}`,
        `--overhead=${OVERHEAD_CALLS}`,
        `--sustain=${SUSTAIN_S}`,
        `--brokers=${brokers}`,
        `--registry=${registryUrl}`,
        `--sender=${args.sender}`,
      ],
      // BENCH_CHILD_FLAGS: extra Node/V8 flags for the children only (diagnostics, e.g. --trace-gc-nvp)
      {
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
        cwd: packed ? packedDir! : process.cwd(),
        env,
        execArgv: [
          ...(packed ? ['--disable-warning=ExperimentalWarning'] : process.execArgv),
          ...(process.env.BENCH_CHILD_FLAGS?.split(' ').filter(Boolean) ?? []),
        ],
      },
    );
    let got: { ok: true; result: T } | { ok: false; error: string } | undefined;
    p.on('message', (m) => {
      got = m as typeof got;
    });
    p.on('error', reject);
    p.on('exit', (code) => {
      if (got?.ok) resolve(got.result);
      else reject(new Error(`bench: ${side} process exited with ${code}: ${got && !got.ok ? got.error : 'no result'}`));
    });
  });
}

async function main(): Promise<void> {
  const prefix = `bench-sdk-${Date.now()}.`;
  const t = topics({ prefix });
  const kafka = createKafka({ brokers: brokers.split(','), clientId: 'bench-admin' });
  const admin = kafka.admin();
  await admin.connect();
  await ensureTopics(admin, [t.accessEvents, t.subjectState]);
  await admin.disconnect();

  if (args.packed) packedDir = packedProject();
  const sdkRuns: SdkResult[] = [];
  const packedRuns: SdkResult[] = [];
  const stockPeerRuns: PeerResult[] = [];
  const peerRuns: PeerResult[] = [];
  const loadBefore = load();
  console.error(`load average before: ${loadBefore} (${cpus().length} CPUs)`);
  for (let r = 0; r < REPS; r++) {
    const s = await child<SdkResult>('sdk', prefix);
    if (packedDir !== undefined) {
      const q = await child<SdkResult>('sdk', prefix, true);
      packedRuns.push(q);
      // the same plain producer on the registry's kafkajs: the stock path's own peer
      const sp = await child<PeerResult>('peer', prefix, true);
      stockPeerRuns.push(sp);
      console.error(
        `rep ${r + 1}/${REPS}: packed SDK (stock kafkajs): record p50 ${q.p50.toFixed(2)} µs p99 ${q.p99.toFixed(2)} µs, ${q.eps.toFixed(0)} ev/s ${q.cpu.toFixed(2)} µs CPU/ev (caller's thread ${q.callerCpu.toFixed(2)}; ${q.spooled} via the spool), peak rss ${q.rssMib} MiB; stock kafkajs ${sp.eps.toFixed(0)} ev/s ${sp.cpu.toFixed(2)} µs CPU/ev, peak rss ${sp.rssMib} MiB; ratio ${(q.eps / sp.eps).toFixed(2)}`,
      );
    }
    const k = await child<PeerResult>('peer', prefix);
    sdkRuns.push(s);
    peerRuns.push(k);
    console.error(
      `rep ${r + 1}/${REPS}: record p50 ${s.p50.toFixed(2)} µs p99 ${s.p99.toFixed(2)} µs, sdk ${s.eps.toFixed(0)} ev/s ${s.cpu.toFixed(2)} µs CPU/ev (caller's thread ${s.callerCpu.toFixed(2)}; ${s.spooled} via the spool), kafkajs ${k.eps.toFixed(0)} ev/s ${k.cpu.toFixed(2)} µs CPU/ev, ratio ${(s.eps / k.eps).toFixed(2)}, peak rss sdk ${s.rssMib} / kafkajs ${k.rssMib} MiB (baselines ${s.baselineMib} / ${k.baselineMib}), load ${load()}`,
    );
  }
  let sustained: SustainResult | undefined;
  let peerSustained: SustainResult | undefined;
  if (SUSTAIN_S > 0) {
    const show = (who: string, x: SustainResult) => {
      for (const y of x.samples) {
        console.error(
          `  ${y.s.toFixed(1).padStart(5)} s  rss ${y.rssMib} MiB  heap ${y.heapMib} of ${y.heapTotalMib} MiB (young ${y.newSpaceMib})  external ${y.externalMib} MiB  ${y.eps} ev/s`,
        );
      }
      console.error(
        `  ${who}: ${x.events} events at ${x.recordEps} ev/s (delivered ${x.deliveredEps} ev/s), ${x.cpu.toFixed(2)} µs CPU/ev, spooled ${x.spooled} replayed ${x.replayed}, peak rss ${x.rssMib} MiB`,
      );
    };
    console.error(`sustained run: the SDK alone at full speed for ${SUSTAIN_S} s, load ${load()}`);
    sustained = await child<SustainResult>('sustain', prefix);
    show('sdk', sustained);
    console.error(`the same for the plain kafkajs producer, load ${load()}`);
    peerSustained = await child<SustainResult>('peer-sustain', prefix);
    show('kafkajs', peerSustained);
  }
  const loadAfter = load();

  const sdk = median(sdkRuns.map((x) => x.eps));
  const peer = median(peerRuns.map((x) => x.eps));
  const sdkCpu = median(sdkRuns.map((x) => x.cpu));
  const peerCpu = median(peerRuns.map((x) => x.cpu));
  const sdkRss = sdkRuns.map((x) => x.rssMib);
  const peerRss = peerRuns.map((x) => x.rssMib);
  const figures: Record<string, unknown>[] = [
    { name: 'sdk.record_overhead_p50_us', value: +median(sdkRuns.map((x) => x.p50)).toFixed(2), unit: 'µs' },
    { name: 'sdk.record_overhead_p99_us', value: +median(sdkRuns.map((x) => x.p99)).toFixed(2), unit: 'µs' },
    {
      name: 'sdk.throughput_eps',
      value: Math.round(sdk),
      unit: 'events/s',
      peer: { name: 'kafkajs.throughput_eps', value: Math.round(peer) },
      ratio: +(sdk / peer).toFixed(3),
      // under load the two medians can come from differently loaded moments: the median of the
      // per-repetition ratios (each pair run back to back) and the CPU ratio are steadier
      ratio_median_of_pairs: +median(sdkRuns.map((x, i) => x.eps / peerRuns[i]!.eps)).toFixed(3),
      cpu_ratio: +(peerCpu / sdkCpu).toFixed(3),
    },
    {
      name: 'sdk.cpu_us_per_event',
      value: +sdkCpu.toFixed(2),
      unit: 'µs',
      peer: { name: 'kafkajs.cpu_us_per_event', value: +peerCpu.toFixed(2) },
    },
    {
      name: 'sdk.rss_mib',
      value: median(sdkRss),
      unit: 'MiB',
      max: Math.max(...sdkRss),
      peer: { name: 'kafkajs.rss_mib', value: median(peerRss), max: Math.max(...peerRss) },
      ratio: +(median(sdkRss) / median(peerRss)).toFixed(3),
    },
  ];
  if (sustained !== undefined && peerSustained !== undefined) {
    const xs = sustained.samples;
    const ps = peerSustained.samples;
    figures.push({
      name: 'sdk.rss_sustained_mib',
      value: sustained.rssMib,
      unit: 'MiB',
      seconds: sustained.seconds,
      events: sustained.events,
      record_eps: sustained.recordEps,
      spooled: sustained.spooled,
      first: xs[0]?.rssMib,
      last: xs[xs.length - 1]?.rssMib,
      samples: xs.map((x) => x.rssMib),
      peer: {
        name: 'kafkajs.rss_sustained_mib',
        value: peerSustained.rssMib,
        events: peerSustained.events,
        first: ps[0]?.rssMib,
        last: ps[ps.length - 1]?.rssMib,
        samples: ps.map((x) => x.rssMib),
      },
      ratio: +(sustained.rssMib / peerSustained.rssMib).toFixed(3),
    });
  }
  figures.push({ name: 'sdk.rss_baseline_mib', value: median(sdkRuns.map((x) => x.baselineMib)), unit: 'MiB' });
  if (packedRuns.length > 0) {
    const q = median(packedRuns.map((x) => x.eps));
    const qRss = packedRuns.map((x) => x.rssMib);
    const stockPeer = median(stockPeerRuns.map((x) => x.eps));
    const stockRss = stockPeerRuns.map((x) => x.rssMib);
    figures.push(
      { name: 'sdk_packed.record_overhead_p50_us', value: +median(packedRuns.map((x) => x.p50)).toFixed(2), unit: 'µs' },
      { name: 'sdk_packed.record_overhead_p99_us', value: +median(packedRuns.map((x) => x.p99)).toFixed(2), unit: 'µs' },
      {
        // against the same plain producer on the same (registry) kafkajs
        name: 'sdk_packed.throughput_eps',
        value: Math.round(q),
        unit: 'events/s',
        peer: { name: 'kafkajs_stock.throughput_eps', value: Math.round(stockPeer) },
        ratio: +(q / stockPeer).toFixed(3),
        ratio_median_of_pairs: +median(packedRuns.map((x, i) => x.eps / stockPeerRuns[i]!.eps)).toFixed(3),
        cpu_ratio: +(median(stockPeerRuns.map((x) => x.cpu)) / median(packedRuns.map((x) => x.cpu))).toFixed(3),
      },
      {
        name: 'sdk_packed.rss_mib',
        value: median(qRss),
        unit: 'MiB',
        max: Math.max(...qRss),
        peer: { name: 'kafkajs_stock.rss_mib', value: median(stockRss), max: Math.max(...stockRss) },
        ratio: +(median(qRss) / median(stockRss)).toFixed(3),
      },
    );
  }
  const rssWorst = Math.max(Math.max(...sdkRss), ...packedRuns.map((x) => x.rssMib), sustained?.rssMib ?? 0);
  const result = {
    suite: 'sdk',
    when: new Date().toISOString(),
    machine: { cpus: cpus().length, node: process.version, loadavg: { before: loadBefore, after: loadAfter } },
    runtime:
      'tsx (TypeScript sources); with --packed also the built packages installed with npm; each side in a fresh process per repetition',
    sdk_sender: args.sender,
    repetitions: REPS,
    events: N,
    figures,
  };
  const out = join(here, 'results');
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'sdk.json'), `${JSON.stringify(result, null, 2)}\n`);

  console.log(
    `SDK benchmark — medians of ${REPS} repetitions (each side in its own fresh process), ${N} events per throughput run, ${brokers}, under tsx; load average ${loadBefore} before, ${loadAfter} after (${cpus().length} CPUs)`,
  );
  console.table(
    figures.map((f) => {
      const peerFig = f.peer as { name: string; value: number; max?: number } | undefined;
      let more = '';
      if ('ratio_median_of_pairs' in f) more = `pairs ${f.ratio_median_of_pairs} / cpu ${f.cpu_ratio}`;
      else if (f.name === 'sdk.rss_mib' || f.name === 'sdk_packed.rss_mib') more = `max ${f.max} (peer max ${peerFig?.max})`;
      else if (f.name === 'sdk.rss_sustained_mib') {
        const p = f.peer as { first: number; last: number };
        more = `${f.seconds} s: first ${f.first}, last ${f.last} (peer ${p.first} → ${p.last})`;
      }
      return {
        figure: f.name,
        value: f.value,
        unit: f.unit,
        peer: peerFig ? `${peerFig.name} ${peerFig.value}` : '',
        ratio: 'ratio' in f ? f.ratio : '',
        more,
      };
    }),
  );
  console.log(
    `RSS target (< ${RSS_TARGET_MIB} MiB, default queue bound): ${rssWorst < RSS_TARGET_MIB ? 'met' : 'NOT met'} (worst: ${rssWorst} MiB, the SDK's own process)`,
  );
  console.log(`written to ${join(out, 'sdk.json')}`);
  if (packedDir !== undefined) rmSync(packedDir, { recursive: true, force: true });
  const admin2 = kafka.admin();
  await admin2.connect();
  await admin2.deleteTopics({ topics: [t.accessEvents.name, t.subjectState.name] }).catch(() => {});
  await admin2.disconnect();
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
