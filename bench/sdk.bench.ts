/**
 * SDK benchmark (`pnpm bench:sdk`), against the local broker and registry (infra/infra.sh up).
 *
 *   sdk.record_overhead_p50_us / _p99_us  time record() takes on the calling thread (validate, fill,
 *                                         encode, append to spool + queue), per call, timer cost
 *                                         subtracted; measured in bursts while the sender runs
 *   sdk.throughput_eps                    events/s from the first record() to flush() resolving
 *                                         (acks=all, idempotent producer, default options, spool on
 *                                         with fsync 'batch'), peer: a plain kafkajs producer
 *                                         sending the same framed Avro values with sendBatch in
 *                                         batches of the same byte size, acks=all
 *   sdk.cpu_us_per_event                  process CPU (user + system, all threads) per event over
 *                                         the throughput run; peer: the same for the kafkajs run
 *   sdk.rss_mib                           peak RSS of the process, sampled every 20 ms while the
 *                                         SDK runs (default queue bound, 32 MiB); the process also
 *                                         runs the peer between SDK runs, and the heap V8 sized for
 *                                         the peer stays (kafkajs.rss_mib: the same for the peer's
 *                                         runs); sdk.rss_baseline_mib is the process before any
 *                                         client (Node + tsx + modules + event pools)
 *
 * Runs under tsx, as this repository runs its services (`tsx src/main.ts`; the packages export
 * their TypeScript sources, there is no compiled build): tsx's loader is part of the baseline.
 * Each figure is the median of --reps repetitions (default 5; BENCH_REPS also works), interleaved
 * SDK / peer so that load from other processes on the machine hits both; the load average is
 * printed and recorded. `pnpm bench:sdk -- --reps 7 --events 400000`. Writes bench/results/sdk.json.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
// The root has no workspace dependencies of its own, so the packages are imported by path.
import { AvroCodec, createKafka, ensureTopics } from '../packages/kafka/src/index.js';
import { type AccessEventInput, createAuditClient } from '../packages/sdk/src/index.js';
import { accessEventAvro, toAvro, topics } from '../schemas/src/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const brokers = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');
const registryUrl = process.env.SCHEMA_REGISTRY_URL ?? 'http://127.0.0.1:8081/apis/ccompat/v7';
// `pnpm bench:sdk -- --reps 3` passes the `--` through: drop it.
const { values: args } = parseArgs({
  args: process.argv.slice(2).filter((a) => a !== '--'),
  options: {
    reps: { type: 'string', default: process.env.BENCH_REPS ?? '5' },
    events: { type: 'string', default: process.env.BENCH_EVENTS ?? '200000' },
  },
});
const REPS = Number(args.reps);
const N = Number(args.events);
const OVERHEAD_CALLS = Number(process.env.BENCH_OVERHEAD_CALLS ?? 100_000);
const BATCH_BYTES = 512 * 1024; // the SDK's default batchMaxBytes

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const pct = (sorted: Float64Array, p: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;

// A realistic mix: 200 actors, 5000 subjects, a few categories and fields.
function makeEvents(n: number): AccessEventInput[] {
  const out: AccessEventInput[] = [];
  for (let i = 0; i < n; i++) {
    out.push({
      tenantId: i % 7 === 0 ? 'client-acme' : 'spera',
      actor: { id: `s-${(i * 7919) % 200}`, type: i % 11 === 0 ? 'processor' : 'staff' },
      subject: { id: `cust-${(i * 104729) % 5000}`, type: 'customer' },
      categories: i % 3 === 0 ? ['personal.contact', 'personal.identity'] : ['personal.contact'],
      fields: ['email', 'phone'],
      action: 'read',
      purpose: 'service.support',
      source: { requestId: `req-${i}` },
    });
  }
  return out;
}

const pool = makeEvents(10_000);
/** peak RSS of the phase running now (SDK or peer) */
let phase: 'sdk' | 'peer' | undefined;
const rssPeak = { sdk: 0, peer: 0 };
const rssTimer = setInterval(() => {
  if (phase !== undefined) rssPeak[phase] = Math.max(rssPeak[phase], process.memoryUsage.rss());
}, 20);
const cpuPerEvent = (since: NodeJS.CpuUsage) => {
  const u = process.cpuUsage(since);
  return (u.user + u.system) / N;
};
const load = () =>
  loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');

async function withClient<T>(prefix: string, f: (c: ReturnType<typeof createAuditClient>) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'custos-bench-spool-'));
  const client = createAuditClient({
    brokers,
    schemaRegistryUrl: registryUrl,
    service: 'bench',
    topicPrefix: prefix,
    spool: { dir },
  });
  try {
    await client.start();
    return await f(client);
  } finally {
    await client.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Per-call time of record() in bursts of 200 calls, yielding to the sender between bursts. */
async function overhead(prefix: string): Promise<{ p50: number; p99: number }> {
  return withClient(prefix, async (client) => {
    const times = new Float64Array(OVERHEAD_CALLS);
    // warm up (JIT, arena, producer)
    for (let i = 0; i < 20_000; i++) {
      client.record(pool[i % pool.length]!);
      if (i % 200 === 0) await tick();
    }
    await client.flush();
    // the cost of reading the clock itself
    const empty = new Float64Array(10_000);
    for (let i = 0; i < empty.length; i++) {
      const t0 = process.hrtime.bigint();
      empty[i] = Number(process.hrtime.bigint() - t0);
    }
    empty.sort();
    const clock = pct(empty, 0.5);
    for (let i = 0; i < OVERHEAD_CALLS; i++) {
      const e = pool[i % pool.length]!;
      const t0 = process.hrtime.bigint();
      client.record(e);
      times[i] = Number(process.hrtime.bigint() - t0) - clock;
      if (i % 200 === 199) await tick();
    }
    await client.flush();
    times.sort();
    return { p50: pct(times, 0.5) / 1000, p99: pct(times, 0.99) / 1000 };
  });
}

async function sdkThroughput(prefix: string): Promise<{ eps: number; cpu: number }> {
  return withClient(prefix, async (client) => {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    for (let i = 0; i < N; i++) {
      client.record(pool[i % pool.length]!);
      if (i % 1000 === 999) await tick();
    }
    const r = await client.flush(120_000);
    if (!r.delivered) throw new Error('bench: SDK did not deliver within 120 s');
    return { eps: N / ((performance.now() - t0) / 1000), cpu: cpuPerEvent(c0) };
  });
}

async function kafkajsThroughput(
  prefix: string,
  values: { key: Buffer; value: Buffer }[],
): Promise<{ eps: number; cpu: number }> {
  const kafka = createKafka({ brokers, clientId: 'bench-kafkajs' });
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  const topic = `${prefix}access-events`;
  try {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    let batch: { key: Buffer; value: Buffer }[] = [];
    let bytes = 0;
    for (let i = 0; i < N; i++) {
      const m = values[i % values.length]!;
      batch.push(m);
      bytes += m.value.length + m.key.length;
      if (bytes >= BATCH_BYTES || i === N - 1) {
        await producer.sendBatch({ topicMessages: [{ topic, messages: batch }], acks: -1 });
        batch = [];
        bytes = 0;
      }
    }
    return { eps: N / ((performance.now() - t0) / 1000), cpu: cpuPerEvent(c0) };
  } finally {
    await producer.disconnect();
  }
}

async function main(): Promise<void> {
  const prefix = `bench-sdk-${Date.now()}.`;
  const t = topics({ prefix });
  const kafka = createKafka({ brokers, clientId: 'bench-admin' });
  const admin = kafka.admin();
  await admin.connect();
  await ensureTopics(admin, [t.accessEvents, t.subjectState]);
  await admin.disconnect();

  // The peer sends exactly the SDK's bytes: framed Avro of the same events, keyed by actor id.
  const codec = AvroCodec.connect(registryUrl);
  const reg = await codec.register(t.accessEvents.subject, accessEventAvro);
  const values = pool.map((e, i) => ({
    key: Buffer.from(e.actor.id),
    value: reg.encode(
      toAvro(accessEventAvro, {
        ...e,
        eventId: `0190b0a0-0000-7000-8000-${String(i).padStart(12, '0')}`,
        occurredAt: new Date().toISOString(),
        recordCount: 1,
        source: { ...e.source, service: 'bench' },
      }),
    ),
  }));

  const baselineRss = process.memoryUsage.rss(); // modules loaded, event pools built, no client yet
  const p50s: number[] = [];
  const p99s: number[] = [];
  const sdkEps: number[] = [];
  const peerEps: number[] = [];
  const sdkCpu: number[] = [];
  const peerCpu: number[] = [];
  const loadBefore = load();
  console.error(`load average before: ${loadBefore} (${cpus().length} CPUs)`);
  for (let r = 0; r < REPS; r++) {
    phase = 'sdk';
    const o = await overhead(prefix);
    p50s.push(o.p50);
    p99s.push(o.p99);
    const s = await sdkThroughput(prefix);
    sdkEps.push(s.eps);
    sdkCpu.push(s.cpu);
    phase = 'peer';
    const k = await kafkajsThroughput(prefix, values);
    phase = undefined;
    peerEps.push(k.eps);
    peerCpu.push(k.cpu);
    console.error(
      `rep ${r + 1}/${REPS}: record p50 ${o.p50.toFixed(2)} µs p99 ${o.p99.toFixed(2)} µs, sdk ${s.eps.toFixed(0)} ev/s ${s.cpu.toFixed(2)} µs CPU/ev, kafkajs ${k.eps.toFixed(0)} ev/s ${k.cpu.toFixed(2)} µs CPU/ev, ratio ${(s.eps / k.eps).toFixed(2)}, peak rss sdk ${(rssPeak.sdk / 2 ** 20).toFixed(0)} / kafkajs ${(rssPeak.peer / 2 ** 20).toFixed(0)} MiB, load ${load()}`,
    );
  }
  clearInterval(rssTimer);
  const loadAfter = load();

  const sdk = median(sdkEps);
  const peer = median(peerEps);
  const figures = [
    { name: 'sdk.record_overhead_p50_us', value: +median(p50s).toFixed(2), unit: 'µs' },
    { name: 'sdk.record_overhead_p99_us', value: +median(p99s).toFixed(2), unit: 'µs' },
    {
      name: 'sdk.throughput_eps',
      value: Math.round(sdk),
      unit: 'events/s',
      peer: { name: 'kafkajs.throughput_eps', value: Math.round(peer) },
      ratio: +(sdk / peer).toFixed(3),
      // under load the two medians can come from differently loaded moments: the median of the
      // per-repetition ratios (each pair run back to back) and the CPU ratio are steadier
      ratio_median_of_pairs: +median(sdkEps.map((x, i) => x / peerEps[i]!)).toFixed(3),
      cpu_ratio: +(median(peerCpu) / median(sdkCpu)).toFixed(3),
    },
    {
      name: 'sdk.cpu_us_per_event',
      value: +median(sdkCpu).toFixed(2),
      unit: 'µs',
      peer: { name: 'kafkajs.cpu_us_per_event', value: +median(peerCpu).toFixed(2) },
    },
    {
      name: 'sdk.rss_mib',
      value: +(rssPeak.sdk / 2 ** 20).toFixed(1),
      unit: 'MiB',
      peer: { name: 'kafkajs.rss_mib', value: +(rssPeak.peer / 2 ** 20).toFixed(1) },
    },
    { name: 'sdk.rss_baseline_mib', value: +(baselineRss / 2 ** 20).toFixed(1), unit: 'MiB' },
  ];
  const result = {
    suite: 'sdk',
    when: new Date().toISOString(),
    machine: { cpus: cpus().length, node: process.version, loadavg: { before: loadBefore, after: loadAfter } },
    runtime: 'tsx (TypeScript sources, as the services run)',
    repetitions: REPS,
    events: N,
    figures,
  };
  const out = join(here, 'results');
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'sdk.json'), `${JSON.stringify(result, null, 2)}\n`);

  console.log(
    `SDK benchmark — medians of ${REPS} repetitions, ${N} events per throughput run, ${brokers.join(',')}, under tsx; load average ${loadBefore} before, ${loadAfter} after (${cpus().length} CPUs)`,
  );
  console.table(
    figures.map((f) => ({
      figure: f.name,
      value: f.value,
      unit: f.unit,
      peer: 'peer' in f && f.peer ? `${f.peer.name} ${f.peer.value}` : '',
      ratio: 'ratio' in f ? f.ratio : '',
      'pairs / cpu': 'ratio_median_of_pairs' in f ? `${f.ratio_median_of_pairs} / ${f.cpu_ratio}` : '',
    })),
  );
  console.log(`written to ${join(out, 'sdk.json')}`);
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
