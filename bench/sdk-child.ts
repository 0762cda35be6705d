/**
 * One side of the SDK benchmark in a process of its own (forked by bench/sdk.bench.ts, one fresh
 * process per side and repetition), so that peak RSS is that side's alone: nothing the other side
 * made V8 size its heap for stays behind.
 *
 *   sdk      warm-up + record() overhead (20 k + --overhead calls), then --events timed events
 *   peer     warm-up of the same number of events, then --events timed, with a plain kafkajs producer
 *   sustain  the SDK at full speed for --sustain seconds, RSS sampled every second
 *   peer-sustain  the same for the plain kafkajs producer (10 000 events per sendBatch round)
 *
 * Reports one JSON message to the parent over IPC, or on stdout when run by hand (the topics must
 * exist): `tsx bench/sdk-child.ts --side=sustain --sustain=60 --prefix=… --brokers=… --registry=…`.
 * Peak RSS is the kernel's high-water mark of the process (VmHWM), or the 20 ms samples where /proc
 * is not there.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { getHeapSpaceStatistics } from 'node:v8';
import { AvroCodec, createKafka } from '../packages/kafka/src/index.js';
import { type AccessEventInput, createAuditClient } from '../packages/sdk/src/index.js';
import { accessEventAvro, toAvro, topics } from '../schemas/src/index.js';

const { values: args } = parseArgs({
  options: {
    side: { type: 'string' },
    prefix: { type: 'string' },
    events: { type: 'string', default: '200000' },
    overhead: { type: 'string', default: '100000' },
    sustain: { type: 'string', default: '20' },
    brokers: { type: 'string' },
    registry: { type: 'string' },
    sender: { type: 'string', default: 'thread' },
  },
});
const side = args.side as 'sdk' | 'peer' | 'sustain' | 'peer-sustain';
const prefix = args.prefix!;
const N = Number(args.events);
const OVERHEAD_CALLS = Number(args.overhead);
const WARMUP = 20_000;
const SUSTAIN_S = Number(args.sustain);
const brokers = args.brokers!.split(',');
const registryUrl = args.registry!;
const BATCH_BYTES = 512 * 1024; // the SDK's default batchMaxBytes

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));
const pct = (sorted: Float64Array, p: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
const MiB = (b: number) => +(b / 2 ** 20).toFixed(1);

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

let rssMax = 0;
const rssTimer = setInterval(() => {
  rssMax = Math.max(rssMax, process.memoryUsage.rss());
}, 20);
/** the kernel's peak RSS of this process (bytes), or the sampled one */
function peakRss(): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
    if (m) return Math.max(rssMax, Number(m[1]) * 1024);
  } catch {}
  return Math.max(rssMax, process.memoryUsage.rss());
}
const cpuPerEvent = (since: NodeJS.CpuUsage, n: number) => {
  const u = process.cpuUsage(since);
  return (u.user + u.system) / n;
};

async function withClient<T>(f: (c: ReturnType<typeof createAuditClient>) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'custos-bench-spool-'));
  const client = createAuditClient({
    brokers,
    schemaRegistryUrl: registryUrl,
    service: 'bench',
    topicPrefix: prefix,
    spool: { dir },
    // the default (a sender thread) or kafkajs on the caller's thread (`--sender inline`)
    senderThread: args.sender !== 'inline',
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
async function overhead(client: ReturnType<typeof createAuditClient>): Promise<{ p50: number; p99: number }> {
  const times = new Float64Array(OVERHEAD_CALLS);
  // warm up (JIT, arena, producer)
  for (let i = 0; i < WARMUP; i++) {
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
}

async function sdkThroughput(
  client: ReturnType<typeof createAuditClient>,
): Promise<{ eps: number; cpu: number; callerCpu: number; spooled: number }> {
  const spooled0 = client.metrics().spooled;
  const c0 = process.cpuUsage();
  const t0Caller = process.threadCpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < N; i++) {
    client.record(pool[i % pool.length]!);
    if (i % 1000 === 999) await tick();
  }
  const r = await client.flush(120_000);
  if (!r.delivered) throw new Error('bench: SDK did not deliver within 120 s');
  // events that went out of memory and were sent from the spool: a burst that outran the sender
  const caller = process.threadCpuUsage(t0Caller);
  return {
    eps: N / ((performance.now() - t0) / 1000),
    cpu: cpuPerEvent(c0, N),
    // of that, the caller's thread (record(), the spool, batching); the rest is the sender thread
    callerCpu: (caller.user + caller.system) / N,
    spooled: client.metrics().spooled - spooled0,
  };
}

async function sdk() {
  const baseline = process.memoryUsage.rss();
  return withClient(async (client) => {
    const o = await overhead(client);
    const s = await sdkThroughput(client);
    // BENCH_MEMORY_DETAIL=1: where the SDK process's memory is after the throughput run (diagnostics)
    if (process.env.BENCH_MEMORY_DETAIL) {
      const sp = Object.fromEntries(getHeapSpaceStatistics().map((x) => [x.space_name, MiB(x.space_size)]));
      const w = (
        client as unknown as {
          transport?: { worker?: { getHeapStatistics(): Promise<{ total_heap_size: number; external_memory: number }> } };
        }
      ).transport?.worker;
      const ws = await w?.getHeapStatistics();
      const smaps = readFileSync('/proc/self/status', 'utf8').match(/Rss\w+:\s+\d+ kB/g);
      console.error(
        'memory detail',
        JSON.stringify({
          mu: Object.fromEntries(Object.entries(process.memoryUsage()).map(([k, v]) => [k, MiB(v)])),
          sp,
          worker: ws && { total: MiB(ws.total_heap_size), ext: MiB(ws.external_memory) },
          smaps,
          hwm: MiB(peakRss()),
        }),
      );
    }
    return {
      ...o,
      eps: s.eps,
      cpu: s.cpu,
      callerCpu: s.callerCpu,
      spooled: s.spooled,
      baselineMib: MiB(baseline),
      rssMib: MiB(peakRss()),
    };
  });
}

export interface Sample {
  s: number;
  rssMib: number;
  heapMib: number;
  /** V8's committed heap, and of it the young generation (semi-spaces): what RSS follows */
  heapTotalMib: number;
  newSpaceMib: number;
  externalMib: number;
  eps: number;
}

/** An inspector session on this process, for the heap-profile diagnostics below (loaded on demand). */
async function inspectorSession() {
  const { Session } = await import('node:inspector/promises');
  const { writeFileSync } = await import('node:fs');
  const session = new Session();
  session.connect();
  return {
    session,
    save(file: string, data: unknown) {
      writeFileSync(file, JSON.stringify(data));
      session.disconnect();
    },
  };
}

/**
 * BENCH_ALLOC_PROFILE=FILE: a sampling heap profile of the sustained run that keeps objects the GC
 * collected too (what was allocated, by call site; `--heap-prof` keeps only survivors). Diagnostics.
 */
async function allocProfile(): Promise<(() => Promise<void>) | undefined> {
  const file = process.env.BENCH_ALLOC_PROFILE;
  if (!file) return undefined;
  if (process.env.BENCH_SURVIVOR_PROFILE) {
    throw new Error('BENCH_ALLOC_PROFILE and BENCH_SURVIVOR_PROFILE: one at a time (V8 has one sampling heap profiler)');
  }
  const { session, save } = await inspectorSession();
  await session.post('HeapProfiler.startSampling', {
    samplingInterval: 16384,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true,
  });
  return async () => save(`${file}.${side}.heapprofile`, (await session.post('HeapProfiler.stopSampling')).profile);
}

/**
 * BENCH_SURVIVOR_PROFILE=FILE: what would survive a scavenge — objects allocated in short windows
 * (50 ms, every second) and still alive at the window's end, by call site. Diagnostics for V8's
 * young-generation growth, which follows the bytes that survive scavenges.
 */
async function survivorProfile(): Promise<(() => Promise<void>) | undefined> {
  const file = process.env.BENCH_SURVIVOR_PROFILE;
  if (!file) return undefined;
  const { session, save } = await inspectorSession();
  const profiles: unknown[] = [];
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      await new Promise((r) => setTimeout(r, 950));
      if (stopped) break;
      await session.post('HeapProfiler.startSampling', { samplingInterval: 512 });
      await new Promise((r) => setTimeout(r, 50));
      profiles.push((await session.post('HeapProfiler.stopSampling')).profile);
    }
  })();
  return async () => {
    stopped = true;
    await loop;
    save(`${file}.${side}.json`, profiles);
  };
}

/** Runs `step` (handles some events, returns how many) for SUSTAIN_S seconds; memory every second. */
async function sustained(step: () => Promise<number>) {
  const stopProfile = await allocProfile();
  const stopSurvivors = await survivorProfile();
  const samples: Sample[] = [];
  let done = 0;
  let lastDone = 0;
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  let next = t0 + 1000;
  const end = t0 + SUSTAIN_S * 1000;
  for (;;) {
    done += await step();
    const now = performance.now();
    if (now >= next) {
      const m = process.memoryUsage();
      samples.push({
        s: +((now - t0) / 1000).toFixed(1),
        rssMib: MiB(m.rss),
        heapMib: MiB(m.heapUsed),
        heapTotalMib: MiB(m.heapTotal),
        newSpaceMib: MiB(getHeapSpaceStatistics().find((x) => x.space_name === 'new_space')?.space_size ?? 0),
        // arrayBuffers is part of external
        externalMib: MiB(m.external),
        eps: Math.round(((done - lastDone) * 1000) / (now - next + 1000)),
      });
      lastDone = done;
      next += 1000;
      if (now >= end) break;
    }
  }
  await stopProfile?.();
  await stopSurvivors?.();
  return { samples, events: done, seconds: (performance.now() - t0) / 1000, c0, t0 };
}

async function sustain() {
  const baseline = process.memoryUsage.rss();
  return withClient(async (client) => {
    let i = 0;
    const run = await sustained(async () => {
      for (let j = 0; j < 1000; j++) {
        const p = client.record(pool[i++ % pool.length]!);
        if (p !== undefined) await p;
      }
      await tick();
      return 1000;
    });
    const r = await client.flush(180_000);
    if (!r.delivered) throw new Error('bench: SDK did not deliver the sustained run within 180 s');
    const m = client.metrics();
    return {
      seconds: +run.seconds.toFixed(1),
      events: run.events,
      recordEps: Math.round(run.events / run.seconds),
      deliveredEps: Math.round(run.events / ((performance.now() - run.t0) / 1000)),
      cpu: cpuPerEvent(run.c0, run.events),
      spooled: m.spooled,
      replayed: m.replayed,
      baselineMib: MiB(baseline),
      rssMib: MiB(peakRss()),
      samples: run.samples,
    };
  });
}

async function peer() {
  const baseline = process.memoryUsage.rss();
  const t = topics({ prefix });
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
  // plain kafkajs, as the target specifies: not our client's producer defaults (its faster partitioner)
  const kafka = createKafka({ brokers, clientId: 'bench-kafkajs', plainProducers: true });
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  const send = async (n: number) => {
    let batch: { key: Buffer; value: Buffer }[] = [];
    let bytes = 0;
    for (let i = 0; i < n; i++) {
      const m = values[i % values.length]!;
      batch.push(m);
      bytes += m.value.length + m.key.length;
      if (bytes >= BATCH_BYTES || i === n - 1) {
        await producer.sendBatch({ topicMessages: [{ topic: t.accessEvents.name, messages: batch }], acks: -1 });
        batch = [];
        bytes = 0;
      }
    }
  };
  try {
    if (side === 'peer-sustain') {
      const run = await sustained(async () => {
        await send(values.length);
        return values.length;
      });
      return {
        seconds: +run.seconds.toFixed(1),
        events: run.events,
        recordEps: Math.round(run.events / run.seconds),
        deliveredEps: Math.round(run.events / run.seconds),
        cpu: cpuPerEvent(run.c0, run.events),
        spooled: 0,
        replayed: 0,
        baselineMib: MiB(baseline),
        rssMib: MiB(peakRss()),
        samples: run.samples,
      };
    }
    // as many untimed events as the SDK's process records before its timed run
    await send(WARMUP + OVERHEAD_CALLS);
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    await send(N);
    const eps = N / ((performance.now() - t0) / 1000);
    return { eps, cpu: cpuPerEvent(c0, N), baselineMib: MiB(baseline), rssMib: MiB(peakRss()) };
  } finally {
    await producer.disconnect();
  }
}

/** To the parent over IPC; run by hand (no IPC channel), as JSON on stdout. */
function report(msg: object, code: number): void {
  if (process.send) process.send(msg, () => process.exit(code));
  else {
    console.log(JSON.stringify(msg));
    process.exit(code);
  }
}

const run = side === 'sdk' ? sdk : side === 'sustain' ? sustain : peer;
run().then(
  (result) => {
    clearInterval(rssTimer);
    report({ ok: true, result }, 0);
  },
  (err: unknown) => {
    clearInterval(rssTimer);
    report({ ok: false, error: err instanceof Error ? (err.stack ?? err.message) : String(err) }, 1);
  },
);
