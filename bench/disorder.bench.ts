/**
 * Out-of-order time benchmark (`pnpm bench:disorder`), against the local broker and registry.
 *
 * The same N pre-produced access events of five staff (the realistic mix, bench/event-mix.ts,
 * restricted to five people), spread over one hour of event time, drained twice: once with each
 * actor's timestamps ascending, once with the same timestamps shuffled within the hour (what a
 * service replaying an hour of spooled events produces). Reports the drain rate of each and their
 * ratio (shuffled / in order).
 *
 *   disorder.enforcer_in_order_per_s, disorder.enforcer_shuffled_per_s, disorder.enforcer_ratio
 *       the real Enforcer in this process (exactly-once, judging on a worker thread), from the
 *       first batch to the commit of the last event; median of --reps, the two orders interleaved
 *   disorder.pipeline_in_order_per_s, disorder.pipeline_shuffled_per_s, disorder.pipeline_ratio
 *       `custos start --services enforcer,sink` (enforcer, sink, embedded chDB) as a process of its
 *       own, from the enforcer's first commit to the sink having stored every decision (its group's
 *       committed offsets at the end of the decisions topic); once per order (--no-pipeline skips it)
 *
 * Options: --events N (300000) --reps R (2) --partitions P (6) --window S (3600: the hour the
 * timestamps are shuffled within) --profile DIR (V8 CPU profile of each in-process run).
 * Writes bench/results/disorder.json. Topics and groups are unique per run and deleted at the end.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createLogger } from '../packages/config/src/index.js';
import { AvroCodec, createKafka, ensureTopics, type Kafka } from '../packages/kafka/src/index.js';
import { seededRng } from '../packages/store/src/fixtures.js';
import { accessEventAvro, topics as makeTopics, type Topics, toAvro } from '../schemas/src/index.js';
import { createPolicyJudge, Enforcer } from '../services/enforcer/src/index.js';
import { EventMix } from './event-mix.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const policyFile = join(root, 'policies', 'example-org.json');
const brokers = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');
const registryUrl = process.env.SCHEMA_REGISTRY_URL ?? 'http://127.0.0.1:8081/apis/ccompat/v7';

const { values: args } = parseArgs({
  args: process.argv.slice(2).filter((a) => a !== '--'),
  allowNegative: true,
  options: {
    events: { type: 'string', default: '300000' },
    reps: { type: 'string', default: '2' },
    partitions: { type: 'string', default: '6' },
    window: { type: 'string', default: '3600' },
    pipeline: { type: 'boolean', default: true },
    // 0 skips the in-process runs
    'enforcer-reps': { type: 'string' },
    profile: { type: 'string' },
  },
});
const N = Number(args.events);
const REPS = Number(args.reps);
const ENFORCER_REPS = Number(args['enforcer-reps'] ?? REPS);
const PARTITIONS = Number(args.partitions);
const WINDOW_MS = Number(args.window) * 1000;
const STAFF = ['s-asha', 's-vikram', 's-meera', 's-rohan', 's-priya'];

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

type Order = 'in-order' | 'shuffled';

/**
 * The events of both runs: the same events and the same set of timestamps (one hour ending a minute
 * ago, evenly spaced); in order they ascend with the sequence, shuffled they are a random permutation.
 */
function events(order: Order): Record<string, unknown>[] {
  const mix = new EventMix(20261207);
  const out: Record<string, unknown>[] = [];
  const end = Date.now() - 60_000;
  const start = end - WINDOW_MS;
  const times = Array.from({ length: N }, (_, i) => start + Math.floor((i * WINDOW_MS) / N));
  if (order === 'shuffled') {
    const rnd = seededRng(7);
    for (let i = times.length - 1; i > 0; i--) {
      const j = Math.floor(rnd() * (i + 1));
      [times[i], times[j]] = [times[j]!, times[i]!];
    }
  }
  while (out.length < N) {
    const e = mix.next();
    if (!STAFF.includes(e.actor.id)) continue;
    out.push({ ...e, eventId: randomUUID(), occurredAt: new Date(times[out.length]!).toISOString() });
  }
  return out;
}

async function produce(kafka: Kafka, codec: AvroCodec, t: Topics, order: Order): Promise<void> {
  const schema = await codec.register(t.accessEvents.subject, accessEventAvro);
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const all = events(order);
  const CHUNK = 5000;
  for (let i = 0; i < all.length; i += CHUNK) {
    const messages = all.slice(i, i + CHUNK).map((e) => ({
      key: (e.actor as { id: string }).id,
      value: schema.encode(toAvro(accessEventAvro, e)),
    }));
    await producer.send({ topic: t.accessEvents.name, messages, acks: -1 });
  }
  await producer.disconnect();
}

async function profiled<T>(name: string, work: () => Promise<T>): Promise<T> {
  if (args.profile === undefined) return work();
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 500 });
  await session.post('Profiler.start');
  try {
    return await work();
  } finally {
    const { profile } = await session.post('Profiler.stop');
    mkdirSync(args.profile, { recursive: true });
    writeFileSync(join(args.profile, `${name}.cpuprofile`), JSON.stringify(profile));
    session.disconnect();
  }
}

/** The Enforcer in this process over the topic's N events: events/s from the first batch to the last commit. */
async function runEnforcer(kafka: Kafka, codec: AvroCodec, t: Topics, groupId: string): Promise<number> {
  let t0 = 0;
  let finished!: () => void;
  const all = new Promise<void>((resolve) => {
    finished = resolve;
  });
  const enforcer: Enforcer = new Enforcer({
    kafka,
    codec,
    topics: t,
    logger: createLogger('bench-disorder', 'warn'),
    judge: await createPolicyJudge(policyFile),
    groupId,
    policyReload: false,
    judgeInWorker: true,
    onBatch: (b) => {
      if (t0 === 0 && b.events > 0) t0 = performance.now() - b.ms;
      if (enforcer.stats.events >= N) finished();
    },
  });
  await enforcer.start();
  await all;
  const eps = (N / (performance.now() - t0)) * 1000;
  await enforcer.stop();
  return eps;
}

async function committed(kafka: Kafka, groupId: string, topic: string): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const [c] = await admin.fetchOffsets({ groupId, topics: [topic] });
    return (c?.partitions ?? []).reduce((n, p) => n + Math.max(0, Number(p.offset)), 0);
  } finally {
    await admin.disconnect();
  }
}

async function ends(kafka: Kafka, topic: string): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return (await admin.fetchTopicOffsets(topic)).reduce((n, p) => n + Number(p.high), 0);
  } finally {
    await admin.disconnect();
  }
}

/**
 * `custos start --services enforcer,sink` over the topics: events/s from the enforcer's first commit
 * to the sink having stored every decision (a transaction's commit marker after the last decision is
 * never consumed: caught up is at most one behind per partition).
 */
async function runPipeline(kafka: Kafka, t: Topics, prefix: string, name: string): Promise<number> {
  const work = mkdtempSync(join(tmpdir(), 'custos-disorder-'));
  const groups = { enforcer: `${prefix}${name}-enforcer`, sink: `${prefix}${name}-sink` };
  let log = '';
  const p: ChildProcess = spawn(
    process.execPath,
    ['--import', 'tsx', join(root, 'packages/cli/src/bin.ts'), 'start', '--services', 'enforcer,sink'],
    {
      cwd: root,
      env: {
        ...process.env,
        NODE_OPTIONS: '--conditions=custos-source',
        KAFKA_BROKERS: brokers.join(','),
        SCHEMA_REGISTRY_URL: registryUrl,
        TOPIC_PREFIX: prefix,
        TOPIC_PARTITIONS: String(PARTITIONS),
        ENFORCER_GROUP_ID: groups.enforcer,
        SINK_GROUP_ID: groups.sink,
        CHDB_PATH: join(work, 'chdb'),
        CHECKPOINT_KEY_AUTOGEN: 'true',
        CHECKPOINT_KEY_FILE: join(work, 'checkpoint.pem'),
        LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const keep = (c: Buffer) => {
    log = `${log}${c.toString()}`.slice(-20_000);
  };
  p.stdout?.on('data', keep);
  p.stderr?.on('data', keep);
  try {
    const deadline = Date.now() + 15 * 60_000;
    let t0 = 0;
    const started = performance.now();
    let shown = started;
    while (Date.now() < deadline) {
      if (p.exitCode !== null) throw new Error(`custos start exited (${p.exitCode}):\n${log}`);
      if (t0 === 0 && (await committed(kafka, groups.enforcer, t.accessEvents.name)) > 0) t0 = performance.now();
      if (t0 > 0 && (await committed(kafka, groups.enforcer, t.accessEvents.name)) >= N) {
        const end = await ends(kafka, t.decisions.name);
        if ((await committed(kafka, groups.sink, t.decisions.name)) >= end - PARTITIONS) {
          return (N / (performance.now() - t0)) * 1000;
        }
      }
      const now = performance.now();
      if (now - shown > 5000) {
        shown = now;
        const [e, s] = [
          await committed(kafka, groups.enforcer, t.accessEvents.name),
          await committed(kafka, groups.sink, t.decisions.name),
        ];
        console.log(`    ${name}: ${((now - started) / 1000).toFixed(0)} s, enforcer at ${e}, sink at ${s}`);
      }
      await sleep(100);
    }
    throw new Error(`custos start did not drain ${N} events in 15 minutes:\n${log}`);
  } finally {
    p.kill('SIGTERM');
    await new Promise((r) => (p.exitCode !== null ? r(null) : p.once('exit', r)));
    rmSync(work, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const run = randomUUID().slice(0, 8);
  const kafka = createKafka({ brokers, clientId: 'bench-disorder', logger: createLogger('bench-kafka', 'error') });
  const codec = AvroCodec.connect(registryUrl);
  const admin = kafka.admin();
  await admin.connect();
  const sets = {} as Record<Order, { prefix: string; t: Topics }>;
  const orders: Order[] = ['in-order', 'shuffled'];
  console.log(
    `disorder bench: ${N} events of ${STAFF.length} staff over ${WINDOW_MS / 1000} s of event time, ${PARTITIONS} partitions, ${REPS} reps, ${cpus().length} CPUs, node ${process.version}`,
  );
  try {
    for (const order of orders) {
      const prefix = `bench-disorder-${run}-${order}.`;
      const t = makeTopics({ prefix, partitions: PARTITIONS });
      await ensureTopics(admin, Object.values(t));
      const t0 = performance.now();
      await produce(kafka, codec, t, order);
      console.log(`  pre-produced ${N} events ${order} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      sets[order] = { prefix, t };
    }
    const enforcer: Record<Order, number[]> = { 'in-order': [], shuffled: [] };
    for (let r = 0; r < ENFORCER_REPS; r++) {
      for (const order of r % 2 === 0 ? orders : [...orders].reverse()) {
        const { prefix, t } = sets[order];
        const eps = await profiled(`enforcer-${order}-${r}`, () => runEnforcer(kafka, codec, t, `${prefix}enforcer-${r}`));
        enforcer[order].push(eps);
        console.log(`  enforcer ${order.padEnd(8)} rep ${r}: ${Math.round(eps)} events/s`);
      }
    }
    const pipeline: Partial<Record<Order, number>> = {};
    if (args.pipeline) {
      for (const order of orders) {
        const { prefix, t } = sets[order];
        pipeline[order] = await runPipeline(kafka, t, prefix, order);
        console.log(`  custos start ${order.padEnd(8)}: ${Math.round(pipeline[order]!)} events/s`);
      }
    }
    const e = { in: median(enforcer['in-order']), sh: median(enforcer.shuffled) };
    const figures: { name: string; value: number; unit: string }[] = [
      { name: 'disorder.enforcer_in_order_per_s', value: Math.round(e.in), unit: 'events/s' },
      { name: 'disorder.enforcer_shuffled_per_s', value: Math.round(e.sh), unit: 'events/s' },
      { name: 'disorder.enforcer_ratio', value: Number((e.sh / e.in).toFixed(2)), unit: 'shuffled/in order' },
    ];
    if (pipeline['in-order'] !== undefined && pipeline.shuffled !== undefined) {
      figures.push(
        { name: 'disorder.pipeline_in_order_per_s', value: Math.round(pipeline['in-order']), unit: 'events/s' },
        { name: 'disorder.pipeline_shuffled_per_s', value: Math.round(pipeline.shuffled), unit: 'events/s' },
        {
          name: 'disorder.pipeline_ratio',
          value: Number((pipeline.shuffled / pipeline['in-order']).toFixed(2)),
          unit: 'shuffled/in order',
        },
      );
    }
    console.table(Object.fromEntries(figures.map((f) => [f.name, { value: f.value, unit: f.unit }])));
    mkdirSync(join(here, 'results'), { recursive: true });
    writeFileSync(
      join(here, 'results', 'disorder.json'),
      `${JSON.stringify(
        {
          suite: 'disorder',
          when: new Date().toISOString(),
          machine: { cpus: cpus().length, node: process.version },
          params: { events: N, reps: REPS, partitions: PARTITIONS, windowS: WINDOW_MS / 1000 },
          runs: { enforcer, pipeline },
          figures,
        },
        null,
        2,
      )}\n`,
    );
    console.log('wrote bench/results/disorder.json');
  } finally {
    const names = Object.values(sets).flatMap(({ t }) => Object.values(t).map((s) => s.name));
    await admin.deleteTopics({ topics: names }).catch(() => {});
    await admin.disconnect();
  }
}

await main();
process.exit(0);
