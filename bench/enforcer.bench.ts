/**
 * Enforcer benchmark (`pnpm bench:enforcer`), against the local broker and registry (infra/infra.sh up).
 *
 *   enforcer.events_per_s   access events/s through the real Enforcer, exactly-once on (one Kafka
 *                           transaction per batch with the offsets), over N pre-produced Avro events
 *                           (decode, validate, judge with bulk windows, encode decisions), timed
 *                           after a warm-up of --warmup events (default 500 000; both sides get
 *                           it, from the same topic: the judging thread's isolate is fresh per run,
 *                           and its JIT compiling was ~1.5 µs per event of a cold 200 k-event run;
 *                           after 100 000 both sides still ran 15-40 % slower than in steady state)
 *                           from the end of the batch that passed the warm-up to the commit that
 *                           passed warm-up + N; --warmup 0 times from the first batch, cold. Peer: a pass-through
 *                           consumer→producer with the same client and settings (same fetch sizes,
 *                           concurrency, read_committed, per-partition transactional producers,
 *                           one transaction per batch, same chunking) that copies each record's
 *                           bytes unchanged. ratio = enforcer / pass-through.
 *   enforcer.rss_mib        RSS of this process after the enforcer runs (the pass-through runs last
 *                           in each pair, so its buffers count too)
 *   with --duration S (soak): a child process produces --rate events/s for S seconds while one
 *   enforcer judges them; RSS is sampled every 5 s:
 *   enforcer.soak_events_per_s, enforcer.soak_rss_first_mib (after a warm-up of min(60 s, S/5)),
 *   enforcer.soak_rss_last_mib, enforcer.soak_rss_max_mib
 *
 *   passthrough_sized       (informative) the pass-through again, each record padded to the mean
 *                           size of the enforcer's decisions (which embed the event they judge): what
 *                           a pass-through costs when it writes as many bytes as the enforcer does.
 *                           --no-sized-peer skips it.
 *
 * Options: --events N (200000) --reps R (3) --partitions P (6) --duration S (0: no soak) --rate R (5000)
 * --judge worker|thread (inline = thread) --only enforcer|passthrough --mix realistic|flag-heavy (the event
 * mix, bench/enforcer-events.ts; the soak always uses flag-heavy); profiling: --profile DIR
 * (V8 CPU profile of the main thread per measured run; --heap-profile: allocation sampling instead),
 * --perf-marks (CLOCK_MONOTONIC marks of each run's window, first batch and last commit, for
 * `perf record -k mono`).
 * Figures are medians of R repetitions (enforcer and pass-through interleaved). Writes
 * bench/results/enforcer.json. Topics and groups are unique per run and deleted at the end.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLogger } from '../packages/config/src/index.js';
import { AvroCodec, createKafka, ensureTopics, type Kafka, type Producer } from '../packages/kafka/src/index.js';
import { accessEventAvro, topics as makeTopics, type Topics, toAvro } from '../schemas/src/index.js';
import { createPolicyJudge, Enforcer, SEND_CHUNK_BYTES, SEND_CHUNK_RECORDS } from '../services/enforcer/src/index.js';
import { benchArgs } from './cli-args.js';
import { generator, MIXES, type MixName, mixGenerator } from './enforcer-events.js';
import {
  benchDir,
  brokers,
  CpuClock,
  median,
  perfMark,
  policyFile,
  produceEvents,
  profiled,
  registryUrl,
  runEnforcer as runEnforcerIn,
  sleep,
  Window,
} from './enforcer-harness.js';

const here = benchDir;

const { values: args } = benchArgs(
  {
    command: 'pnpm bench:enforcer',
    summary:
      'Access events/s through the real Enforcer in this process, exactly-once (one Kafka transaction per batch with the\n' +
      'offsets), over --events pre-produced Avro events after a warm-up, against a pass-through consumer→producer with the\n' +
      'same client and settings; with --duration, a soak at --rate events/s with RSS sampled. Needs the local Kafka and\n' +
      'registry (KAFKA_BROKERS, SCHEMA_REGISTRY_URL).',
    prints:
      'a line per run and a table of enforcer.events_per_s (peer passthrough.events_per_s, ratio), enforcer.rss_mib, CPU\n' +
      'µs/event of both sides and, with --duration, enforcer.soak_*; writes bench/results/enforcer.json.',
  },
  {
    events: { type: 'string', default: '200000', arg: 'N', help: 'events timed per run' },
    // events each side handles before its timed window opens (JIT warm-up of the judging thread's
    // fresh isolate, for both sides alike); 0 times from the first batch, cold
    warmup: { type: 'string', default: '500000', arg: 'N', help: 'events each side handles before its timed window (0: cold)' },
    reps: { type: 'string', default: '3', arg: 'R', help: 'repetitions (figures are medians)' },
    mix: {
      type: 'string',
      default: 'realistic',
      arg: 'NAME',
      help: 'the event mix (bench/enforcer-events.ts): realistic or flag-heavy',
    },
    partitions: { type: 'string', default: '6', arg: 'P', help: 'partitions of the run’s topics' },
    duration: { type: 'string', default: '0', arg: 'S', help: 'soak for S seconds after the runs (0: no soak)' },
    rate: { type: 'string', default: '5000', arg: 'R', help: 'events/s offered during the soak' },
    // the soak's bulk window (s): short, so window state reaches its steady size early and RSS
    // growth after that is not state (the reference policy's 600 s + lateness fills for 20 min)
    'soak-window': { type: 'string', default: '60', arg: 'S', help: 'the soak policy’s bulk window, seconds' },
    concurrency: { type: 'string', default: '2', arg: 'N', help: 'partitions consumed concurrently' },
    'max-bytes': { type: 'string', default: String(4 * 1024 * 1024), arg: 'B', help: 'bytes fetched per partition' },
    judge: {
      type: 'string',
      default: 'worker',
      arg: 'WHERE',
      help: 'judge on a worker thread, or on the consumer’s (thread, inline)',
    },
    only: { type: 'string', arg: 'SIDE', help: 'profiling aid: run one side only, enforcer or passthrough (no ratio)' },
    'sized-peer': { type: 'boolean', default: true, help: 'also run a pass-through padded to the mean decision size' },
    profile: { type: 'string', arg: 'DIR', help: 'write a V8 CPU profile of the main thread per measured run to DIR' },
    'perf-marks': { type: 'boolean', default: false, help: 'print each run’s CLOCK_MONOTONIC window, for `perf record -k mono`' },
    'heap-profile': { type: 'boolean', default: false, help: 'with --profile: sample allocations instead of CPU' },
    // the soak's producer child
    produce: { type: 'string', internal: true, help: 'the soak’s producer child: seconds to produce' },
    prefix: { type: 'string', internal: true, help: 'the soak’s producer child: topic prefix' },
  },
);
const N = Number(args.events);
const WARMUP = Number(args.warmup);
const REPS = Number(args.reps);
if (!MIXES.includes(args.mix as MixName)) throw new Error(`--mix: one of ${MIXES.join(', ')}, not '${args.mix}'`);
const MIX = args.mix as MixName;
const PARTITIONS = Number(args.partitions);
const DURATION_S = Number(args.duration);
const RATE = Number(args.rate);
const CONCURRENCY = Number(args.concurrency);
const MAX_BYTES_PER_PARTITION = Number(args['max-bytes']);
if (!['worker', 'thread', 'inline'].includes(args.judge)) throw new Error(`--judge worker|thread|inline, not ${args.judge}`);
const JUDGE_IN_WORKER = args.judge === 'worker';

const MiB = 1024 * 1024;
const rssMiB = () => process.memoryUsage.rss() / MiB;

// ---- the event mix (bench/enforcer-events.ts) ---------------------------------------------------

/** Returns the bytes of the values produced. */
const produce = (kafka: Kafka, codec: AvroCodec, t: Topics, n: number, next = mixGenerator(MIX, 42, n)): Promise<number> =>
  produceEvents(kafka, codec, t, n, next, 2000);

/** --perf-marks of a run's window */
const mark = (name: string, at: number) => perfMark(args['perf-marks'], name, at);
/** --profile / --heap-profile / --perf-marks around a measured run */
const profiling = { dir: args.profile, heap: args['heap-profile'], intervalUs: 200, perfWindow: args['perf-marks'] };

// ---- the pass-through peer ---------------------------------------------------------------------

const CHUNK_BYTES = SEND_CHUNK_BYTES; // as the enforcer
const CHUNK_RECORDS = SEND_CHUNK_RECORDS;

/**
 * The peer. `pad` > 0: each record's value is copied into a buffer `pad` bytes longer (zeros) — a
 * pass-through that writes as many bytes as the enforcer does (its decisions embed the event).
 */
async function passThrough(
  kafka: Kafka,
  input: string,
  output: string,
  groupId: string,
  n: number,
  pad = 0,
): Promise<{ eps: number; windowCpu: number }> {
  const cpu = new CpuClock();
  const producers = new Map<number, Promise<Producer>>();
  const producerFor = (p: number) => {
    let pr = producers.get(p);
    if (!pr) {
      const producer = kafka.producer({
        transactionalId: `${groupId}-${input}-${p}`,
        idempotent: true,
        maxInFlightRequests: 1,
        transactionTimeout: 60_000,
      });
      pr = producer.connect().then(() => producer);
      producers.set(p, pr);
    }
    return pr;
  };
  const consumer = kafka.consumer({
    groupId,
    readUncommitted: false,
    sessionTimeout: 30_000,
    heartbeatInterval: 3000,
    maxBytesPerPartition: MAX_BYTES_PER_PARTITION,
    maxBytes: 32 * MiB,
    maxWaitTimeInMs: 500,
  });
  let done = 0;
  const w = new Window(WARMUP, n);
  let finished!: () => void;
  const all = new Promise<void>((resolve) => {
    finished = resolve;
  });
  await consumer.connect();
  await consumer.subscribe({ topic: input, fromBeginning: true });
  await consumer.run({
    autoCommit: false,
    eachBatchAutoResolve: false,
    partitionsConsumedConcurrently: CONCURRENCY,
    eachBatch: async ({ batch, resolveOffset, heartbeat }) => {
      const started = performance.now();
      const producer = await producerFor(batch.partition);
      const txn = await producer.transaction();
      let chunk: { key: Buffer | null; value: Buffer | null }[] = [];
      let bytes = 0;
      for (const m of batch.messages) {
        let value = m.value;
        if (pad > 0 && value !== null) {
          const v = Buffer.allocUnsafe(value.length + pad);
          value.copy(v);
          v.fill(0, value.length);
          value = v;
        }
        chunk.push({ key: m.key, value });
        bytes += (value?.length ?? 0) + 64;
        if (bytes >= CHUNK_BYTES || chunk.length >= CHUNK_RECORDS) {
          await txn.send({ topic: output, messages: chunk });
          chunk = [];
          bytes = 0;
        }
      }
      if (chunk.length > 0) await txn.send({ topic: output, messages: chunk });
      await txn.sendOffsets({
        consumerGroupId: groupId,
        topics: [
          {
            topic: batch.topic,
            partitions: [{ partition: batch.partition, offset: (BigInt(batch.lastOffset()) + 1n).toString() }],
          },
        ],
      });
      await txn.commit();
      resolveOffset(batch.lastOffset());
      done += batch.messages.length;
      const end = performance.now();
      if (w.batch(done, end - started, end)) finished();
      await heartbeat();
    },
  });
  await all;
  mark('passthrough-first-batch', w.t0);
  mark('passthrough-last-commit', w.t1);
  cpu.stop();
  await consumer.disconnect();
  for (const p of producers.values()) await (await p).disconnect();
  return { eps: (w.events / (w.t1 - w.t0)) * 1000, windowCpu: (cpu.at(w.t1) - cpu.at(w.t0)) / w.events };
}

const runEnforcer = (kafka: Kafka, codec: AvroCodec, t: Topics, groupId: string, n: number) =>
  runEnforcerIn(kafka, codec, t, {
    groupId,
    n,
    warmup: WARMUP,
    judgeInWorker: JUDGE_IN_WORKER,
    partitionsConsumedConcurrently: CONCURRENCY,
    maxBytesPerPartition: MAX_BYTES_PER_PARTITION,
    loggerName: 'bench-enforcer',
    perfMarks: args['perf-marks'],
  });

// ---- soak --------------------------------------------------------------------------------------

async function produceAtRate(prefix: string, seconds: number, rate: number): Promise<void> {
  const kafka = createKafka({ brokers, clientId: 'bench-enforcer-soak-producer' });
  const codec = AvroCodec.connect(registryUrl);
  const t = makeTopics({ prefix, partitions: PARTITIONS });
  const schema = await codec.register(t.accessEvents.subject, accessEventAvro);
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const next = generator(7);
  const start = performance.now();
  let sent = 0;
  while (performance.now() - start < seconds * 1000) {
    const due = Math.floor(((performance.now() - start) / 1000) * rate);
    const messages = [];
    for (; sent < due && messages.length < 5000; sent++) {
      const e: Record<string, unknown> = { ...next(), occurredAt: Date.now() };
      messages.push({ key: (e.actor as { id: string }).id, value: schema.encode(toAvro(accessEventAvro, e)) });
    }
    if (messages.length > 0) await producer.send({ topic: t.accessEvents.name, messages });
    else await sleep(20);
  }
  await producer.disconnect();
  process.stdout.write(`${JSON.stringify({ sent })}\n`);
}

async function soak(kafka: Kafka, codec: AvroCodec, prefix: string, t: Topics) {
  const child = spawn(
    process.execPath,
    [
      ...process.execArgv,
      fileURLToPath(import.meta.url),
      '--produce',
      String(DURATION_S),
      '--prefix',
      prefix,
      '--rate',
      String(RATE),
      '--partitions',
      String(PARTITIONS),
    ],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  let childOut = '';
  child.stdout.on('data', (d: Buffer) => {
    childOut += d.toString();
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const logger = createLogger('bench-enforcer-soak', 'warn');
  const bundle = JSON.parse(readFileSync(policyFile, 'utf8')) as { bulkAccess: { windowSeconds: number } };
  bundle.bulkAccess.windowSeconds = Number(args['soak-window']);
  const soakPolicy = join(mkdtempSync(join(tmpdir(), 'custos-bench-')), 'policy.json');
  writeFileSync(soakPolicy, JSON.stringify(bundle));
  const enforcer = new Enforcer({
    kafka,
    codec,
    topics: t,
    logger,
    judge: await createPolicyJudge(soakPolicy),
    groupId: `${prefix}soak`,
    policyReload: false,
    judgeInWorker: JUDGE_IN_WORKER,
  });
  await enforcer.start();
  const samples: {
    s: number;
    rss: number;
    heap: number;
    workerHeap: number;
    events: number;
    actors: number;
    entries: number;
  }[] = [];
  const start = performance.now();
  const timer = setInterval(async () => {
    const workerHeap = ((await enforcer.judgeHeapUsed()) ?? 0) / MiB;
    samples.push({
      s: Math.round((performance.now() - start) / 1000),
      rss: rssMiB(),
      heap: process.memoryUsage().heapUsed / MiB,
      workerHeap,
      events: enforcer.stats.events,
      ...enforcer.bulkStats(),
    });
    const last = samples.at(-1)!;
    console.log(
      `  soak t=${last.s}s rss=${last.rss.toFixed(0)} MiB main-thread heap=${last.heap.toFixed(0)} MiB worker heap=${last.workerHeap.toFixed(0)} MiB events=${last.events} window actors=${last.actors} entries=${last.entries}`,
    );
  }, 5000);
  await exited;
  const { sent } = JSON.parse(childOut.trim().split('\n').at(-1) ?? '{"sent":0}') as { sent: number };
  const deadline = Date.now() + 120_000;
  while (enforcer.stats.events < sent && Date.now() < deadline) await sleep(200);
  clearInterval(timer);
  const elapsed = (performance.now() - start) / 1000;
  await enforcer.stop();
  const warm = Math.min(60, DURATION_S / 5);
  const steady = samples.filter((x) => x.s >= warm);
  const mid = steady.find((x) => x.s >= DURATION_S / 2);
  return {
    mid: mid?.rss ?? Number.NaN,
    eps: enforcer.stats.events / elapsed,
    sent,
    judged: enforcer.stats.events,
    first: steady[0]?.rss ?? Number.NaN,
    last: steady.at(-1)?.rss ?? Number.NaN,
    max: Math.max(...steady.map((x) => x.rss)),
    samples,
  };
}

// ---- main --------------------------------------------------------------------------------------

async function main(): Promise<void> {
  if (args.produce !== undefined) {
    await produceAtRate(args.prefix as string, Number(args.produce), RATE);
    return;
  }
  const prefix = `bench-enforcer-${randomUUID().slice(0, 8)}.`;
  const t = makeTopics({ prefix, partitions: PARTITIONS });
  const passOut = `${prefix}passthrough-out`;
  const kafka = createKafka({ brokers, clientId: 'bench-enforcer', logger: createLogger('bench-kafka', 'error') });
  const codec = AvroCodec.connect(registryUrl);
  const admin = kafka.admin();
  await admin.connect();
  await ensureTopics(admin, [...Object.values(t), { name: passOut, partitions: PARTITIONS, config: {} }]);
  const groups: string[] = [];
  try {
    console.log(
      `enforcer bench: ${N} events after ${WARMUP} of warm-up (${MIX} mix), ${PARTITIONS} partitions, ${REPS} reps, judging on ${JUDGE_IN_WORKER ? 'a worker thread' : "the consumer's thread"}, concurrency ${CONCURRENCY}, ${cpus().length} CPUs, node ${process.version}`,
    );
    const figures: Record<string, unknown>[] = [];
    if (REPS > 0) {
      const t0 = performance.now();
      const eventBytes = (await produce(kafka, codec, t, WARMUP + N)) / (WARMUP + N);
      console.log(
        `  pre-produced ${WARMUP} + ${N} events in ${((performance.now() - t0) / 1000).toFixed(1)} s (mean value ${eventBytes.toFixed(0)} B)`,
      );

      const enf: number[] = [];
      const pass: number[] = [];
      const rss: number[] = [];
      const enfCpu: number[] = [];
      const passCpu: number[] = [];
      const sized: number[] = [];
      const sizedCpu: number[] = [];
      // CPU µs/event between the first batch and the last commit (the events/s window)
      const enfWin: number[] = [];
      const passWin: number[] = [];
      const sizedWin: number[] = [];
      let decisionBytes = Number.NaN;
      for (let r = 0; r < REPS; r++) {
        const g1 = `${prefix}enforcer-${r}`;
        groups.push(g1);
        let eps = Number.NaN;
        // CPU of this process (all threads) per event: a load-independent view of the cost
        let c = process.cpuUsage();
        if (args.only !== 'passthrough') {
          eps = await profiled(`enforcer-${r}`, profiling, async () => {
            const run = await runEnforcer(kafka, codec, t, g1, N);
            await run.enforcer.stop();
            const { decisions, decisionBytes: bytes } = run.enforcer.stats;
            decisionBytes = bytes / (decisions.allow + decisions.flag + decisions.deny);
            enfWin.push(run.windowCpu);
            return run.eps;
          });
        }
        c = process.cpuUsage(c);
        enfCpu.push((c.user + c.system) / (WARMUP + N));
        enf.push(eps);
        rss.push(rssMiB());
        const g2 = `${prefix}pass-${r}`;
        groups.push(g2);
        c = process.cpuUsage();
        const p =
          args.only === 'enforcer'
            ? Number.NaN
            : await profiled(`passthrough-${r}`, profiling, async () => {
                const run = await passThrough(kafka, t.accessEvents.name, passOut, g2, N);
                passWin.push(run.windowCpu);
                return run.eps;
              });
        c = process.cpuUsage(c);
        passCpu.push((c.user + c.system) / (WARMUP + N));
        pass.push(p);
        // The same pass-through writing records as large as the decisions: how much of the gap is
        // the output's size (kafkajs's cost, and the GC it causes, grow with the bytes produced).
        const pad = Math.max(0, Math.round(decisionBytes - eventBytes));
        let ps = Number.NaN;
        c = process.cpuUsage();
        if (args['sized-peer'] && args.only === undefined && pad > 0) {
          const g3 = `${prefix}sized-${r}`;
          groups.push(g3);
          ps = await profiled(`sized-${r}`, profiling, async () => {
            const run = await passThrough(kafka, t.accessEvents.name, passOut, g3, N, pad);
            sizedWin.push(run.windowCpu);
            return run.eps;
          });
        }
        c = process.cpuUsage(c);
        sizedCpu.push((c.user + c.system) / (WARMUP + N));
        sized.push(ps);
        console.log(
          `  rep ${r + 1}: enforcer ${eps.toFixed(0)} events/s (${enfCpu.at(-1)!.toFixed(1)} µs CPU/event, ${(enfWin.at(-1) ?? Number.NaN).toFixed(1)} in its window), pass-through ${p.toFixed(0)} events/s (${passCpu.at(-1)!.toFixed(1)} µs CPU/event, ${(passWin.at(-1) ?? Number.NaN).toFixed(1)} in its window), ratio ${(eps / p).toFixed(2)}, rss ${rss.at(-1)!.toFixed(0)} MiB` +
            (Number.isNaN(ps)
              ? ''
              : `; sized pass-through (+${pad} B/record) ${ps.toFixed(0)} events/s (${sizedCpu.at(-1)!.toFixed(1)} µs CPU/event, ${(sizedWin.at(-1) ?? Number.NaN).toFixed(1)} in its window), ratio ${(eps / ps).toFixed(2)}`),
        );
      }
      const e = median(enf);
      const p = median(pass);
      figures.push(
        {
          name: 'enforcer.events_per_s',
          value: Math.round(e),
          unit: 'events/s',
          peer: { name: 'passthrough.events_per_s', value: Math.round(p) },
          ratio: Number((e / p).toFixed(3)),
        },
        { name: 'enforcer.rss_mib', value: Math.round(median(rss)), unit: 'MiB' },
        {
          name: 'enforcer.cpu_us_per_event',
          value: Number(median(enfCpu).toFixed(2)),
          unit: 'µs',
          peer: { name: 'passthrough.cpu_us_per_event', value: Number(median(passCpu).toFixed(2)) },
          ratio: Number((median(passCpu) / median(enfCpu)).toFixed(3)),
        },
      );
      if (enfWin.length > 0 && passWin.length > 0) {
        figures.push({
          name: 'enforcer.window_cpu_us_per_event',
          value: Number(median(enfWin).toFixed(2)),
          unit: 'µs',
          peer: { name: 'passthrough.window_cpu_us_per_event', value: Number(median(passWin).toFixed(2)) },
          ratio: Number((median(passWin) / median(enfWin)).toFixed(3)),
        });
      }
      const s = median(sized);
      if (!Number.isNaN(s)) {
        figures.push(
          {
            name: 'enforcer.events_per_s_vs_sized_peer',
            value: Math.round(e),
            unit: 'events/s',
            peer: { name: 'passthrough_sized.events_per_s', value: Math.round(s) },
            ratio: Number((e / s).toFixed(3)),
          },
          {
            name: 'enforcer.decision_bytes',
            value: Math.round(decisionBytes),
            unit: 'B',
            peer: { name: 'access_event.bytes', value: Math.round(eventBytes) },
          },
          {
            name: 'passthrough_sized.cpu_us_per_event',
            value: Number(median(sizedCpu).toFixed(2)),
            unit: 'µs',
          },
          {
            name: 'passthrough_sized.window_cpu_us_per_event',
            value: Number(median(sizedWin).toFixed(2)),
            unit: 'µs',
          },
        );
      }
      console.log('');
      console.log(`| figure | value (median of ${REPS}) | target |`);
      console.log('|---|---|---|');
      console.log(`| enforcer.events_per_s | ${e.toFixed(0)} events/s | ≥ 20000 |`);
      console.log(`| passthrough.events_per_s | ${p.toFixed(0)} events/s | |`);
      const repRatios = enf.map((x, i) => x / pass[i]!);
      console.log(`| ratio (of the medians) | ${(e / p).toFixed(3)} | ≥ 0.7 |`);
      console.log(`| ratio (median of per-rep ratios) | ${median(repRatios).toFixed(3)} | |`);
      console.log(`| enforcer.rss_mib | ${median(rss).toFixed(0)} MiB | |`);
      console.log(`| CPU µs/event: enforcer / pass-through | ${median(enfCpu).toFixed(1)} / ${median(passCpu).toFixed(1)} | |`);
      if (enfWin.length > 0 && passWin.length > 0) {
        console.log(
          `| CPU µs/event in the events/s window: enforcer / pass-through | ${median(enfWin).toFixed(1)} / ${median(passWin).toFixed(1)} | |`,
        );
      }
      if (!Number.isNaN(s)) {
        console.log(
          `| sized pass-through (records of ${decisionBytes.toFixed(0)} B, not ${eventBytes.toFixed(0)} B) | ${s.toFixed(0)} events/s, ${median(sizedCpu).toFixed(1)} µs CPU/event (${median(sizedWin).toFixed(1)} in its window) | |`,
        );
        console.log(`| ratio to the sized pass-through | ${(e / s).toFixed(3)} | |`);
      }
    }

    if (DURATION_S > 0) {
      console.log(`soak: ${DURATION_S} s at ${RATE} events/s, bulk window ${args['soak-window']} s`);
      const st = makeTopics({ prefix: `${prefix}soak.`, partitions: PARTITIONS });
      await ensureTopics(admin, Object.values(st));
      groups.push(`${prefix}soak`);
      const s = await soak(kafka, codec, `${prefix}soak.`, st);
      figures.push(
        { name: 'enforcer.soak_events_per_s', value: Math.round(s.eps), unit: 'events/s' },
        { name: 'enforcer.soak_rss_first_mib', value: Math.round(s.first), unit: 'MiB' },
        { name: 'enforcer.soak_rss_mid_mib', value: Math.round(s.mid), unit: 'MiB' },
        { name: 'enforcer.soak_rss_last_mib', value: Math.round(s.last), unit: 'MiB' },
        { name: 'enforcer.soak_rss_max_mib', value: Math.round(s.max), unit: 'MiB' },
      );
      console.log(
        `| soak (${DURATION_S} s, ${RATE}/s offered, ${s.judged}/${s.sent} judged) | rss first ${s.first.toFixed(0)} / mid ${s.mid.toFixed(0)} / last ${s.last.toFixed(0)} / max ${s.max.toFixed(0)} MiB |`,
      );
      await admin.deleteTopics({ topics: Object.values(st).map((x) => x.name) }).catch(() => undefined);
    }

    const result = {
      suite: 'enforcer',
      when: new Date().toISOString(),
      machine: { cpus: cpus().length, node: process.version },
      reps: REPS,
      events: N,
      settings: {
        mix: MIX,
        warmup: WARMUP,
        judge: args.judge,
        partitionsConsumedConcurrently: CONCURRENCY,
        maxBytesPerPartition: MAX_BYTES_PER_PARTITION,
        partitions: PARTITIONS,
      },
      ...(DURATION_S > 0 ? { soak: { seconds: DURATION_S, rate: RATE, bulkWindowSeconds: Number(args['soak-window']) } } : {}),
      figures,
    };
    mkdirSync(join(here, 'results'), { recursive: true });
    writeFileSync(join(here, 'results', 'enforcer.json'), `${JSON.stringify(result, null, 2)}\n`);
    console.log('wrote bench/results/enforcer.json');
  } finally {
    await admin.deleteTopics({ topics: [...Object.values(t).map((x) => x.name), passOut] }).catch(() => undefined);
    await admin.deleteGroups(groups).catch(() => undefined);
    await admin.disconnect();
  }
}

await main();
process.exit(0);
