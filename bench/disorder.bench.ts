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
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../packages/config/src/index.js';
import { AvroCodec, createKafka, ensureTopics, type Kafka } from '../packages/kafka/src/index.js';
import { seededRng } from '../packages/store/src/fixtures.js';
import { topics as makeTopics, type Topics } from '../schemas/src/index.js';
import { benchArgs } from './cli-args.js';
import {
  benchDir,
  brokers,
  median,
  produceEvents,
  profiled,
  registryUrl,
  root,
  runEnforcer as runEnforcerIn,
  sleep,
} from './enforcer-harness.js';
import { EventMix } from './event-mix.js';

const here = benchDir;

const { values: args } = benchArgs(
  {
    command: 'pnpm bench:disorder',
    summary:
      'Drains the same pre-produced access events of five staff twice, once with each actor’s timestamps ascending and once\n' +
      'shuffled within --window seconds, through the Enforcer in this process and through `custos start --services\n' +
      'enforcer,sink`; reports the drain rates and their ratio (shuffled / in order). Needs the local Kafka and registry\n' +
      '(KAFKA_BROKERS, SCHEMA_REGISTRY_URL).',
    prints:
      'a line per run (events/s) and a table of disorder.enforcer_{in_order,shuffled}_per_s, disorder.enforcer_ratio and\n' +
      'disorder.pipeline_{in_order,shuffled}_per_s, disorder.pipeline_ratio; writes bench/results/disorder.json.',
  },
  {
    events: { type: 'string', default: '300000', arg: 'N', help: 'access events per order' },
    reps: { type: 'string', default: '2', arg: 'R', help: 'in-process runs per order (the figure is their median)' },
    partitions: { type: 'string', default: '6', arg: 'P', help: 'partitions of the run’s topics' },
    window: {
      type: 'string',
      default: '3600',
      arg: 'S',
      help: 'seconds of event time the timestamps are spread over and shuffled within',
    },
    pipeline: { type: 'boolean', default: true, help: 'also measure `custos start` as a process of its own' },
    'enforcer-reps': { type: 'string', arg: 'R', help: 'in-process runs per order, if other than --reps (0 skips them)' },
    profile: { type: 'string', arg: 'DIR', help: 'write a V8 CPU profile of each in-process run to DIR' },
  },
);
const N = Number(args.events);
const REPS = Number(args.reps);
const ENFORCER_REPS = Number(args['enforcer-reps'] ?? REPS);
const PARTITIONS = Number(args.partitions);
const WINDOW_MS = Number(args.window) * 1000;
const STAFF = ['s-asha', 's-vikram', 's-meera', 's-rohan', 's-priya'];

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
  const all = events(order);
  let i = 0;
  await produceEvents(kafka, codec, t, all.length, () => all[i++]!, 5000);
}

/** The Enforcer in this process over the topic's N events: events/s from the first batch to the last commit. */
async function runEnforcer(kafka: Kafka, codec: AvroCodec, t: Topics, groupId: string): Promise<number> {
  const { eps, enforcer } = await runEnforcerIn(kafka, codec, t, {
    groupId,
    n: N,
    warmup: 0,
    judgeInWorker: true,
    loggerName: 'bench-disorder',
  });
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
        const eps = await profiled(`enforcer-${order}-${r}`, { dir: args.profile, intervalUs: 500 }, () =>
          runEnforcer(kafka, codec, t, `${prefix}enforcer-${r}`),
        );
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
