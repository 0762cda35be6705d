/**
 * What the enforcer benchmarks (`bench:enforcer`, `bench:disorder`) share: the infra's addresses,
 * pre-producing access events, the Enforcer run in this process and timed from batch to commit
 * (with the process CPU inside that window), and the V8 profiler around a measured run.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLogger } from '../packages/config/src/index.js';
import type { AvroCodec, Kafka } from '../packages/kafka/src/index.js';
import { accessEventAvro, type Topics, toAvro } from '../schemas/src/index.js';
import { createPolicyJudge, Enforcer } from '../services/enforcer/src/index.js';

export const benchDir = dirname(fileURLToPath(import.meta.url));
export const root = join(benchDir, '..');
export const policyFile = join(root, 'policies', 'example-org.json');
export const brokers = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');
export const registryUrl = process.env.SCHEMA_REGISTRY_URL ?? 'http://127.0.0.1:8081/apis/ccompat/v7';

export const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Produces `n` access events (each from `next()`) to the access-events topic, idempotently, in sends
 * of `chunk` records. Returns the bytes of the values produced.
 */
export async function produceEvents(
  kafka: Kafka,
  codec: AvroCodec,
  t: Topics,
  n: number,
  next: () => Record<string, unknown>,
  chunk: number,
): Promise<number> {
  const schema = await codec.register(t.accessEvents.subject, accessEventAvro);
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  let bytes = 0;
  for (let sent = 0; sent < n; sent += chunk) {
    const messages = [];
    for (let i = 0; i < Math.min(chunk, n - sent); i++) {
      const e = next();
      const value = schema.encode(toAvro(accessEventAvro, e));
      bytes += value.length;
      messages.push({ key: (e.actor as { id: string }).id, value });
    }
    await producer.send({ topic: t.accessEvents.name, messages, acks: -1 });
  }
  await producer.disconnect();
  return bytes;
}

/**
 * Process CPU (all threads, µs) sampled every 10 ms, so that it can be read at instants known only
 * afterwards (a run's first batch): CPU per event inside the events/s window, without start-up
 * (the judging worker's, group joins) and shutdown.
 */
export class CpuClock {
  private readonly samples: [number, number][] = [];
  private readonly timer: NodeJS.Timeout;

  constructor() {
    this.sample();
    this.timer = setInterval(() => this.sample(), 10);
  }

  private sample(): void {
    const c = process.cpuUsage();
    this.samples.push([performance.now(), c.user + c.system]);
  }

  stop(): void {
    clearInterval(this.timer);
    this.sample();
  }

  /** CPU µs at performance.now() instant `t`, interpolated between samples */
  at(t: number): number {
    const xs = this.samples;
    let i = 1;
    while (i < xs.length - 1 && xs[i]![0] < t) i++;
    const [ta, ca] = xs[i - 1]!;
    const [tb, cb] = xs[i]!;
    return tb > ta ? ca + (cb - ca) * Math.min(1, Math.max(0, (t - ta) / (tb - ta))) : cb;
  }
}

/**
 * The timed window of one run: from the end of the batch that took the count past `warmup` (or,
 * without a warm-up, from the first batch's start) to the batch that took it past warmup + n. Events
 * are counted from the window's start, so a batch that straddles the warm-up mark counts outside.
 */
export class Window {
  t0 = 0;
  t1 = 0;
  private d0 = 0;
  private d1 = 0;
  constructor(
    private readonly warmup: number,
    private readonly n: number,
  ) {}
  /** After a batch: `done` events so far, the batch took `ms` and ended at `end`. True once complete. */
  batch(done: number, ms: number, end: number): boolean {
    if (this.warmup === 0) {
      if (this.t0 === 0 || end - ms < this.t0) this.t0 = end - ms;
    } else if (this.t0 === 0 && done >= this.warmup) {
      this.t0 = end;
      this.d0 = done;
      return false;
    }
    if (this.t1 === 0 && this.t0 !== 0 && done >= this.warmup + this.n) {
      this.t1 = end;
      this.d1 = done;
      return true;
    }
    return false;
  }
  get events(): number {
    return this.d1 - this.d0;
  }
}

/**
 * --perf-marks: prints the CLOCK_MONOTONIC time (s) of a performance.now() instant `at`, and `at`
 * itself (ms since the process started: about the main isolate's clock in `--trace-gc` lines).
 */
export function perfMark(enabled: boolean, name: string, at: number): void {
  if (!enabled) return;
  const mono = Number(process.hrtime.bigint() / 1000n) / 1e6 - (performance.now() - at) / 1000;
  console.log(`  perf-mark ${name} ${mono.toFixed(6)} (${at.toFixed(0)} ms)`);
}

export interface EnforcerRun {
  groupId: string;
  /** events timed after the warm-up */
  n: number;
  /** events handled before the timed window opens; 0 times from the first batch */
  warmup: number;
  judgeInWorker: boolean;
  partitionsConsumedConcurrently?: number;
  maxBytesPerPartition?: number;
  loggerName: string;
  /** print --perf-marks of the run's window */
  perfMarks?: boolean;
}

/**
 * The real Enforcer in this process over the topics' events, until warm-up + n are judged and
 * committed: events/s and process CPU µs/event inside the timed window (`Window`). The enforcer is
 * returned still running (its stats are read afterwards); the caller stops it.
 */
export async function runEnforcer(
  kafka: Kafka,
  codec: AvroCodec,
  t: Topics,
  run: EnforcerRun,
): Promise<{ eps: number; windowCpu: number; enforcer: Enforcer }> {
  const cpu = new CpuClock();
  const logger = createLogger(run.loggerName, 'warn');
  const w = new Window(run.warmup, run.n);
  const marks = run.perfMarks ?? false;
  let finished!: () => void;
  const all = new Promise<void>((resolve) => {
    finished = resolve;
  });
  const enforcer: Enforcer = new Enforcer({
    kafka,
    codec,
    topics: t,
    logger,
    judge: await createPolicyJudge(policyFile),
    groupId: run.groupId,
    policyReload: false,
    judgeInWorker: run.judgeInWorker,
    ...(run.partitionsConsumedConcurrently !== undefined
      ? { partitionsConsumedConcurrently: run.partitionsConsumedConcurrently }
      : {}),
    ...(run.maxBytesPerPartition !== undefined ? { maxBytesPerPartition: run.maxBytesPerPartition } : {}),
    onBatch: (b) => {
      // an empty batch (a replayed transaction's) neither opens nor closes the window
      if (b.events > 0 && w.batch(enforcer.stats.events, b.ms, performance.now())) finished();
    },
  });
  await enforcer.start();
  perfMark(marks, 'enforcer-started', performance.now());
  await all;
  perfMark(marks, 'enforcer-first-batch', w.t0);
  perfMark(marks, 'enforcer-last-commit', w.t1);
  cpu.stop();
  return { eps: (w.events / (w.t1 - w.t0)) * 1000, windowCpu: (cpu.at(w.t1) - cpu.at(w.t0)) / w.events, enforcer };
}

export interface ProfileOptions {
  /** write the profile to `<dir>/<name>.cpuprofile` (or `.heapprofile`); undefined: no profiling */
  dir: string | undefined;
  /** sample allocations (all, collected or not) instead of CPU */
  heap?: boolean;
  /** CPU sampling interval, µs */
  intervalUs: number;
  /** print the run's CLOCK_MONOTONIC window (s), for `perf record -k mono`, instead of profiling */
  perfWindow?: boolean;
}

/** Runs `work` under the V8 profiler when a directory is given. */
export async function profiled<T>(name: string, options: ProfileOptions, work: () => Promise<T>): Promise<T> {
  if (options.perfWindow) {
    const from = process.hrtime.bigint();
    try {
      return await work();
    } finally {
      const s = (ns: bigint) => (Number(ns / 1000n) / 1e6).toFixed(6);
      console.log(`  perf-window ${name} ${s(from)} ${s(process.hrtime.bigint())}`);
    }
  }
  const dir = options.dir;
  if (dir === undefined) return work();
  const session = new Session();
  session.connect();
  const heap = options.heap ?? false;
  if (heap) {
    await session.post('HeapProfiler.enable');
    await session.post('HeapProfiler.startSampling', {
      samplingInterval: 16384,
      includeObjectsCollectedByMajorGC: true,
      includeObjectsCollectedByMinorGC: true,
    });
  } else {
    await session.post('Profiler.enable');
    await session.post('Profiler.setSamplingInterval', { interval: options.intervalUs });
    await session.post('Profiler.start');
  }
  try {
    return await work();
  } finally {
    mkdirSync(dir, { recursive: true });
    if (heap) {
      const { profile } = await session.post('HeapProfiler.stopSampling');
      writeFileSync(join(dir, `${name}.heapprofile`), JSON.stringify(profile));
    } else {
      const { profile } = await session.post('Profiler.stop');
      writeFileSync(join(dir, `${name}.cpuprofile`), JSON.stringify(profile));
    }
    session.disconnect();
  }
}
