/**
 * `client.record()` alone, in process, no Kafka: the CPU and the allocation it costs the caller's
 * thread per access event (validation, UUIDv7, Avro, the frame in the arena, the spool's writes and
 * CRCs, the queue). Each variant gets one client, with a fake Kafka whose producer never connects
 * (the send loop retries every 200 ms, so nothing is sent or copied), a spool on /dev/shm (or the
 * temp dir) and an 8 MiB memory bound: past a warm-up the memory queue is in a steady state (the
 * oldest events leave it for the spool as new ones come, as acknowledged ones would), rather than
 * growing its arrays. Events come from the realistic mix (bench/event-mix.ts) without `eventId` and
 * `occurredAt`, which the SDK fills, as a service would record them (`--given` keeps them).
 *
 * Prints medians over the repetitions: CPU µs/event of the caller's thread (process.threadCpuUsage;
 * the spool's fdatasync runs on libuv's pool and is not in it) and of the process, wall µs/event, and
 * bytes allocated per event on the JS heap (v8.GCProfiler: what each GC found in use minus what the
 * previous one left, plus the growth since the last).
 *
 * Variants (`--variant label=DIR`, repeatable; default: this tree) load packages/sdk/src from DIR,
 * e.g. a `git archive HEAD packages/sdk tsconfig.base.json` copy with packages/sdk/node_modules
 * linked to this tree's; repetitions interleave the variants, their order rotating.
 *
 *   nice -n 10 pnpm exec tsx bench/sdk-record.bench.ts [--events 100000] [--reps 7] [--variant base=scratch/sdk-base] [--given]
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { GCProfiler, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type * as ClientModule from '../packages/sdk/src/client.js';
import type { AccessEventInput } from '../packages/sdk/src/validate.js';
import { EventMix } from './event-mix.js';

const root = resolve(import.meta.dirname, '..');
const { values: args } = parseArgs({
  args: process.argv.slice(2).filter((a) => a !== '--'),
  options: {
    events: { type: 'string', default: '100000' },
    reps: { type: 'string', default: '7' },
    variant: { type: 'string', multiple: true },
    // keep the mix's own eventId and occurredAt (validated instead of generated)
    given: { type: 'boolean', default: false },
  },
});
const N = Number(args.events);
const REPS = Number(args.reps);
const BURST = 1000; // record() calls between yields to the event loop (the spool's timers run there)

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const load = () =>
  loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');
const tick = () => new Promise<void>((r) => setImmediate(r));
const spoolRoot = existsSync('/dev/shm') ? '/dev/shm' : tmpdir();

// ---- the events --------------------------------------------------------------------------------------

const mix = new EventMix(20261128);
const events: AccessEventInput[] = [];
for (let i = 0; i < Math.min(N, 50_000); i++) {
  const { eventId, occurredAt, ...e } = mix.next();
  events.push(args.given ? { ...e, eventId, occurredAt } : e);
}

// ---- variants ----------------------------------------------------------------------------------------

interface Variant {
  label: string;
  client: typeof ClientModule;
  dir?: string;
  instance?: ReturnType<typeof ClientModule.createAuditClient>;
}

const specs = args.variant ?? [`current=${root}`];
const variants: Variant[] = [];
for (const spec of specs) {
  const eq = spec.indexOf('=');
  const dir = resolve(root, eq < 0 ? spec : spec.slice(eq + 1));
  const client = (await import(join(dir, 'packages/sdk/src/client.ts'))) as typeof ClientModule;
  variants.push({ label: eq < 0 ? spec : spec.slice(0, eq), client });
}

const silent = { trace() {}, debug() {}, info() {}, warn() {}, error() {}, fatal() {}, child: () => silent };
/** A Kafka whose producer never connects: the send loop backs off and nothing leaves. */
const nowhere = {
  producer: () => ({
    connect: async () => {
      throw Object.assign(new Error('bench: no broker'), { retriable: true });
    },
    disconnect: async () => {},
    sendBatch: async () => {
      throw new Error('bench: unreachable');
    },
  }),
  admin: () => ({
    connect: async () => {},
    disconnect: async () => {},
    listTopics: async () => [],
    describeCluster: async () => ({ brokers: [{ nodeId: 1 }] }),
    describeConfigs: async () => ({ resources: [] }),
    createTopics: async () => true,
    fetchTopicMetadata: async ({ topics }: { topics: string[] }) => ({
      topics: topics.map((name) => ({ name, partitions: [{ partitionId: 0, leader: 1 }] })),
    }),
  }),
};
const registry = { register: async (subject: string) => ({ id: subject.includes('access') ? 101 : 102 }) };

type Options = Parameters<typeof ClientModule.createAuditClient>[0];
function newClient(v: Variant, dir: string) {
  const opts: Options = {
    brokers: ['nowhere:9092'],
    schemaRegistryUrl: 'http://nowhere',
    service: 'bench',
    spool: { dir },
    logger: silent,
    kafka: nowhere as unknown as NonNullable<Options['kafka']>,
    codec: registry as unknown as NonNullable<Options['codec']>,
    retry: { initialMs: 200, maxMs: 200 },
    maxQueueBytes: 8 * 1024 * 1024,
    closeTimeoutMs: 1,
  };
  return v.client.createAuditClient(opts);
}

interface Sample {
  thread: number;
  cpu: number;
  wall: number;
  alloc: number;
}
const samples = new Map<string, Sample[]>();

/** What the JS heap took in during the profile: per GC, in use before it minus left after the previous. */
function allocated(profile: ReturnType<GCProfiler['stop']>, startUsed: number, endUsed: number): number {
  let total = 0;
  let after = startUsed;
  for (const s of profile?.statistics ?? []) {
    total += s.beforeGC.heapStatistics.usedHeapSize - after;
    after = s.afterGC.heapStatistics.usedHeapSize;
  }
  return total + endUsed - after;
}

async function run(v: Variant, measure: boolean): Promise<void> {
  if (v.instance === undefined) {
    v.dir = mkdtempSync(join(spoolRoot, 'custos-sdk-record-'));
    v.instance = newClient(v, v.dir);
  }
  const client = v.instance;
  await tick();
  gc();
  const prof = new GCProfiler();
  const used0 = process.memoryUsage().heapUsed;
  prof.start();
  const c0 = process.cpuUsage();
  const t0 = process.threadCpuUsage();
  const w0 = performance.now();
  for (let i = 0; i < N; i++) {
    client.record(events[i % events.length]!);
    if (i % BURST === BURST - 1) await tick();
  }
  await tick();
  const w1 = performance.now();
  const t1 = process.threadCpuUsage(t0);
  const c1 = process.cpuUsage(c0);
  const used1 = process.memoryUsage().heapUsed;
  const profile = prof.stop();
  if (measure) {
    const list = samples.get(v.label) ?? [];
    list.push({
      thread: (t1.user + t1.system) / N,
      cpu: (c1.user + c1.system) / N,
      wall: ((w1 - w0) * 1000) / N,
      alloc: allocated(profile, used0, used1) / N,
    });
    samples.set(v.label, list);
  }
}

const loadStart = load();
console.log(
  `record(): ${N} events per repetition${args.given ? ' (eventId and occurredAt given)' : ''}, ${REPS} reps (+1 warm-up), variants ${variants.map((v) => v.label).join(', ')}; spool in ${spoolRoot}; load average ${loadStart}`,
);
// warm-up: the JIT, and the queue to its steady state (8 MiB of frames ≈ 35 k events)
for (const v of variants) await run(v, false);
for (let rep = 0; rep < REPS; rep++) {
  for (let k = 0; k < variants.length; k++) await run(variants[(rep + k) % variants.length]!, true);
}
const loadEnd = load();
for (const v of variants) {
  await v.instance?.close();
  if (v.dir !== undefined) rmSync(v.dir, { recursive: true, force: true });
}

const fmt = (x: number, d = 3) => x.toFixed(d).padStart(8);
console.log(`\nmedians per event (range of caller-thread CPU in brackets)`);
console.log(
  `${'variant'.padEnd(12)} ${'thread µs'.padStart(9)} ${'cpu µs'.padStart(8)} ${'wall µs'.padStart(8)} ${'bytes'.padStart(8)}`,
);
for (const v of variants) {
  const list = samples.get(v.label)!;
  const m = (f: keyof Sample) => median(list.map((x) => x[f]));
  const th = list.map((x) => x.thread).sort((a, b) => a - b);
  console.log(
    `${v.label.padEnd(12)} ${fmt(m('thread')).padStart(9)} ${fmt(m('cpu'))} ${fmt(m('wall'))} ${fmt(m('alloc'), 0)}   [${th[0]!.toFixed(3)}–${th[th.length - 1]!.toFixed(3)}]`,
  );
}
console.log(`\nload average at start ${loadStart}, at end ${loadEnd}`);
