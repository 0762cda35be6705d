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
 *   sdk.rss_mib                           peak RSS of the process during the SDK runs (default
 *                                         queue bound, 32 MiB); sdk.rss_baseline_mib is the same
 *                                         process before any client (Node + tsx + modules + pools)
 *
 * Each figure is the median of REPS repetitions. Writes bench/results/sdk.json.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
// The root has no workspace dependencies of its own, so the packages are imported by path.
import { AvroCodec, createKafka, ensureTopics } from '../packages/kafka/src/index.js';
import { type AccessEventInput, createAuditClient } from '../packages/sdk/src/index.js';
import { accessEventAvro, toAvro, topics } from '../schemas/src/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const brokers = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');
const registryUrl = process.env.SCHEMA_REGISTRY_URL ?? 'http://127.0.0.1:8081/apis/ccompat/v7';
const REPS = Number(process.env.BENCH_REPS ?? 5);
const N = Number(process.env.BENCH_EVENTS ?? 200_000);
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
let rssPeak = 0;
const rssTimer = setInterval(() => {
  rssPeak = Math.max(rssPeak, process.memoryUsage.rss());
}, 20);

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

async function sdkThroughput(prefix: string): Promise<number> {
  return withClient(prefix, async (client) => {
    const t0 = performance.now();
    for (let i = 0; i < N; i++) {
      client.record(pool[i % pool.length]!);
      if (i % 1000 === 999) await tick();
    }
    const r = await client.flush(120_000);
    if (!r.delivered) throw new Error('bench: SDK did not deliver within 120 s');
    return N / ((performance.now() - t0) / 1000);
  });
}

async function kafkajsThroughput(prefix: string, values: { key: Buffer; value: Buffer }[]): Promise<number> {
  const kafka = createKafka({ brokers, clientId: 'bench-kafkajs' });
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  const topic = `${prefix}access-events`;
  try {
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
    return N / ((performance.now() - t0) / 1000);
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
  let sdkRss = 0;
  for (let r = 0; r < REPS; r++) {
    const o = await overhead(prefix);
    p50s.push(o.p50);
    p99s.push(o.p99);
    sdkEps.push(await sdkThroughput(prefix));
    sdkRss = Math.max(sdkRss, rssPeak);
    peerEps.push(await kafkajsThroughput(prefix, values));
    console.error(
      `rep ${r + 1}/${REPS}: record p50 ${o.p50.toFixed(2)} µs p99 ${o.p99.toFixed(2)} µs, sdk ${sdkEps[r]!.toFixed(0)} ev/s, kafkajs ${peerEps[r]!.toFixed(0)} ev/s, rss ${(sdkRss / 2 ** 20).toFixed(0)} MiB`,
    );
  }
  clearInterval(rssTimer);

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
    },
    { name: 'sdk.rss_mib', value: +(sdkRss / 2 ** 20).toFixed(1), unit: 'MiB' },
    { name: 'sdk.rss_baseline_mib', value: +(baselineRss / 2 ** 20).toFixed(1), unit: 'MiB' },
  ];
  const result = {
    suite: 'sdk',
    when: new Date().toISOString(),
    machine: { cpus: cpus().length, node: process.version },
    repetitions: REPS,
    events: N,
    figures,
  };
  const out = join(here, 'results');
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'sdk.json'), `${JSON.stringify(result, null, 2)}\n`);

  console.log(`SDK benchmark — medians of ${REPS} repetitions, ${N} events per throughput run, ${brokers.join(',')}`);
  console.table(
    figures.map((f) => ({
      figure: f.name,
      value: f.value,
      unit: f.unit,
      peer: 'peer' in f && f.peer ? `${f.peer.name} ${f.peer.value}` : '',
      ratio: 'ratio' in f ? f.ratio : '',
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
