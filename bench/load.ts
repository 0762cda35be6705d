/**
 * `pnpm load`: the whole pipeline under sustained load, then reconciled from the ground truth.
 *
 *   pnpm load --rate 5000 --duration 120 [--invalid-percent 2 [--hostile]] [--partitions 6] [--disorder 3600]
 *             [--fault kill-enforcer@20,kill-store@60,restart-registry@40]
 *             [--kafka own|own3] [--enforcers 2] [--leader-down 15]
 *             [--fault restart-broker@S,kill-leader@S,add-enforcer@S,remove-enforcer@S]  (bench/load-cluster.ts)
 *
 * Runs the real pipeline (`custos start` as two processes: the enforcer, and the sink with the API
 * and embedded chDB) on the local Kafka and registry, with topics and consumer groups of its own,
 * and feeds it from a
 * separate process through the SDK (bench/load-producer.ts: the realistic event mix at a steady
 * rate). With --invalid-percent X it also writes X % as many bad records straight to the topic
 * (bench/load-hostile.ts: garbage, unknown schema ids, another schema's Avro, contract-breaking and
 * oversized events), each of which must reach the dead-letter topic with its step; with --hostile
 * also valid ones meant to confuse (duplicate eventIds, events stamped far ahead or behind, one
 * actor's outlier followed by a bulk burst), each to be decided and stored once, the burst flagged. An independent consumer reads the decisions (read committed) and the dead
 * letters while it runs; at the end the pipeline is stopped gracefully and its ClickHouse data is
 * opened to count the stored rows. Reconciliation: events the SDK acknowledged = distinct decisions
 * committed = distinct rows stored, with no id missing or doubled, and dead letters = bad records
 * injected. End-to-end latency is the time from record() to the row being queryable: the return of
 * the sink's insert that stored it (from the sink's 'rows stored' lines; `stored_at` is taken
 * before the insert commits), broken down by stage (bench/load-latency.ts).
 *
 * With --fault, a process is killed with SIGKILL at the given second of the run and started again
 * at once, or the schema registry is restarted (the run then has a registry of its own, on its own
 * ports and journal topic, so that nothing else using the shared one notices); the reconciliation
 * must stay exact.
 *
 * Disk faults (bench/load-io-faults.ts), each `kind@SECONDS/DURATION`, on tmpfs mounts of the run's
 * own (needs root; the run stops and says so when it cannot mount):
 *   spool-full@S/D        the SDK's spool disk is full for D seconds (--on-queue-full block|spool:
 *                         how the producer's SDK applies back-pressure; default block)
 *   store-disk-full@S/D   chDB's data disk (the sink + API process) is full for D seconds
 * Network faults, on a Kafka of the run's own reached through a TCP proxy (the harness bypasses it):
 *   kafka-latency@S/D     --kafka-latency-ms (default 100) added each way for D seconds
 *   kafka-cut@S/D         connections reset and refused for D seconds
 * Each is printed at the end with how long the pipeline took to recover.
 *
 * Prints a progress line while it runs and a table at the end; writes bench/results/load.json.
 * Exits 1 when the reconciliation is not exact.
 */
import { type ChildProcess, fork, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  copyFileSync,
  createWriteStream,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AvroCodec, createKafka } from '../packages/kafka/src/index.js';
import { createStore } from '../packages/store/src/index.js';
import { accessEventAvro, subjectStateChangeAvro, topics as topicSpecs } from '../schemas/src/index.js';
import { registryInstance } from '../test/support/registry-instance.js';
import { benchArgs } from './cli-args.js';
import {
  bulkMismatches,
  type ClusterFaultRecord,
  clusterFigures,
  describeClusterFault,
  expectedBulkByActor,
  isClusterFault,
  parseClusterOptions,
  pipelinePolicyFile,
  producerCloseArgs,
  scheduleClusterFault,
  startOwnKafka,
  storedBulkByActor,
} from './load-cluster.js';
import { BAD_KINDS, EXPECTED, HOSTILE_KINDS, HostileCount, type HostileRecord, HostileRecords } from './load-hostile.js';
import { IO_FAULT_USAGE, IoFaults, parseIoFault } from './load-io-faults.js';
import { latencyBreakdown, StoredLines } from './load-latency.js';
import type { ProducerProgress, ProducerReport } from './load-producer.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { values: args } = benchArgs(
  {
    command: 'pnpm load',
    summary:
      'The whole pipeline (`custos start` as the enforcer and the sink+API processes, embedded chDB) under sustained\n' +
      'load from a separate SDK process, with topics and groups of its own on the local Kafka and registry\n' +
      '(KAFKA_BROKERS, SCHEMA_REGISTRY_URL), then reconciled from the ground truth: events acknowledged = decisions\n' +
      'committed = rows stored, none missing or doubled, dead letters = bad records injected. --fault takes, comma-\n' +
      'separated: kill-enforcer@S, kill-store@S, restart-registry@S, restart-broker@S, kill-leader@S, add-enforcer@S,\n' +
      `remove-enforcer@S, ${IO_FAULT_USAGE}.`,
    prints:
      'a progress line while it runs (rate, lag, ETA), then a table of load.* figures (acknowledged, decisions, rows\n' +
      'stored, lost, duplicated, dead letters, e2e p50/p99, events/s, lag, RSS) and each fault with its recovery time;\n' +
      'writes bench/results/load.json. Exits 1 when the reconciliation is not exact.',
  },
  {
    rate: { type: 'string', default: '5000', arg: 'R', help: 'events/s the SDK process offers' },
    duration: { type: 'string', default: '120', arg: 'S', help: 'seconds of load' },
    'invalid-percent': {
      type: 'string',
      default: '0',
      arg: 'X',
      help: 'also write X % as many bad records straight to the topic',
    },
    partitions: { type: 'string', default: '6', arg: 'P', help: 'partitions of the run’s topics' },
    disorder: {
      type: 'string',
      default: '0',
      arg: 'S',
      help: 'stamp each event up to S seconds in the past, at random (0: now)',
    },
    'drain-timeout': {
      type: 'string',
      default: '180',
      arg: 'S',
      help: 'seconds the pipeline may take to catch up after the load',
    },
    fault: { type: 'string', default: '', arg: 'LIST', help: 'faults during the run, kind@SECONDS (see above)' },
    'on-queue-full': { type: 'string', default: 'block', arg: 'MODE', help: 'the producer SDK’s back-pressure: block or spool' },
    'kafka-latency-ms': { type: 'string', default: '100', arg: 'MS', help: 'latency added each way by kafka-latency faults' },
    keep: { type: 'boolean', default: false, help: 'keep the run’s working directory (its chDB data, logs) at the end' },
    hostile: { type: 'boolean', default: false, help: 'with --invalid-percent: also valid records meant to confuse' },
    kafka: {
      type: 'string',
      default: 'shared',
      arg: 'WHICH',
      help: 'shared, own (a broker of the run’s own) or own3 (three brokers)',
    },
    enforcers: { type: 'string', default: '1', arg: 'N', help: 'enforcer instances in the group, 1 or 2' },
    'leader-down': { type: 'string', default: '15', arg: 'S', help: 'seconds a killed partition leader stays down' },
  },
);
function positive(name: string, v: string | undefined, min = 0): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n < min) {
    console.error(`load: --${name} must be a number ≥ ${min}, got '${v}'`);
    process.exit(2);
  }
  return n;
}
const RATE = positive('rate', args.rate, 1);
const DURATION_S = positive('duration', args.duration, 1);
const INVALID_PCT = positive('invalid-percent', args['invalid-percent']);
const PARTITIONS = positive('partitions', args.partitions, 1);
const DISORDER_S = positive('disorder', args.disorder);
const DRAIN_S = positive('drain-timeout', args['drain-timeout'], 1);
const IO_FAULTS = (args.fault ?? '')
  .split(',')
  .map((f) => parseIoFault(f.trim()))
  .filter((f) => f !== undefined);
const FAULTS = (args.fault ?? '')
  .split(',')
  .filter((f) => f.trim() !== '' && parseIoFault(f.trim()) === undefined && !isClusterFault(f))
  .map((f) => {
    const m = /^(kill-enforcer|kill-store|restart-registry)@(\d+(?:\.\d+)?)$/.exec(f.trim());
    if (!m) {
      console.error(
        `load: --fault takes kill-enforcer@SECONDS, kill-store@SECONDS, restart-registry@SECONDS, ${IO_FAULT_USAGE} (comma-separated), got '${f}'`,
      );
      process.exit(2);
    }
    const role = m[1] === 'kill-enforcer' ? 'enforcer' : m[1] === 'kill-store' ? 'store' : 'registry';
    return { role: role as 'enforcer' | 'store' | 'registry', atS: Number(m[2]) };
  });

const cluster = parseClusterOptions(args);
if (typeof cluster === 'string') {
  console.error(`load: ${cluster}`);
  process.exit(2);
}
const sharedBrokers = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');
// --kafka own|own3: the pipeline's Kafka is the run's own; the registry stays on the shared one.
const ownKafka = await startOwnKafka(cluster);
const brokers = ownKafka?.brokers ?? sharedBrokers;
// A registry of the run's own when it is to be restarted (test/support's helper drives infra.sh).
const ownRegistry = FAULTS.some((f) => f.role === 'registry')
  ? await registryInstance('load', sharedBrokers, 'kafkasql')
  : undefined;
await ownRegistry?.start();
const registryUrl = ownRegistry?.url ?? process.env.SCHEMA_REGISTRY_URL ?? 'http://127.0.0.1:8081/apis/ccompat/v7';
const run = randomBytes(4).toString('hex');
const prefix = `load-${run}.`;
const t = topicSpecs({ prefix, partitions: PARTITIONS });
const groups = { enforcer: `load-${run}-enforcer`, sink: `load-${run}-sink` };
const work = mkdtempSync(join(tmpdir(), 'custos-load-'));
const io = new IoFaults(IO_FAULTS, work, {
  onQueueFull: args['on-queue-full'] === 'spool' ? 'spool' : 'block',
  latencyMs: positive('kafka-latency-ms', args['kafka-latency-ms']),
});
try {
  await io.setup();
} catch (err) {
  console.error(`load: ${(err as Error).message}`);
  process.exit(2);
}
const chdbPath = io.chdbPath ?? join(work, 'chdb');
const tty = process.stdout.isTTY === true;
const MiB = (b: number) => Math.round(b / 2 ** 20);

// With a network fault the pipeline and the SDK reach Kafka through a proxy and the harness does not.
const clientBrokers = io.clientBrokers ?? brokers;
const kafka = createKafka({ brokers: io.directBrokers ?? brokers, clientId: `load-${run}`, plainProducers: true });
const admin = kafka.admin();
await admin.connect();

function rssOf(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** CPU seconds (user + system, all threads) a process has used so far, by pid: the last sample of each */
const cpuSeconds = new Map<number, { role: string; s: number }>();
function sampleCpu(role: string, pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    // fields after the command's closing parenthesis: utime and stime are the 12th and 13th
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    cpuSeconds.set(pid, { role, s: (Number(f[11]) + Number(f[12])) / 100 });
  } catch {
    // gone
  }
}
const cpuOf = (role: string) => [...cpuSeconds.values()].filter((c) => c.role === role).reduce((n, c) => n + c.s, 0);

function waitExit(p: ChildProcess): Promise<number | null> {
  return new Promise((r) => (p.exitCode !== null ? r(p.exitCode) : p.once('exit', (code) => r(code))));
}

async function until(what: string, ok: () => boolean | Promise<boolean>, timeoutMs: number, everyMs = 200): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await ok()) return true;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  console.error(`load: gave up waiting for ${what} after ${timeoutMs / 1000} s`);
  return false;
}

// ---------------------------------------------------------------- the pipeline
// Two processes, as a deployment with embedded ClickHouse runs it: the enforcer alone, and the sink
// with the API (they share chDB's data directory, which one process binds).
const apiPort = 20_000 + Math.floor(Math.random() * 20_000);
let pipelineLog = '';
const pipelineEnv = {
  ...process.env,
  KAFKA_BROKERS: clientBrokers.join(','),
  SCHEMA_REGISTRY_URL: registryUrl,
  TOPIC_PREFIX: prefix,
  TOPIC_PARTITIONS: String(PARTITIONS),
  ENFORCER_GROUP_ID: groups.enforcer,
  SINK_GROUP_ID: groups.sink,
  CHDB_PATH: chdbPath,
  API_PORT: String(apiPort),
  CHECKPOINT_KEY_AUTOGEN: 'true',
  CHECKPOINT_KEY_FILE: join(work, 'checkpoint.pem'),
  LOG_LEVEL: 'info',
  LOG_FORMAT: 'json',
};
type Role = 'enforcer' | 'store' | 'enforcer2';
/** the sink's 'rows stored' lines (debug): when each insert returned, for the e2e figures */
const storedLines = new StoredLines();
const procs: Record<Role, ChildProcess | undefined> = { enforcer: undefined, store: undefined, enforcer2: undefined };
const expectedExit = new Set<ChildProcess>();

function fail(msg: string): never {
  console.error(`load: ${msg}\n--- pipeline log (tail) ---\n${pipelineLog.slice(-8000)}`);
  for (const p of Object.values(procs)) p?.kill('SIGKILL');
  process.exit(1);
}

/** Starts one of the two processes and resolves once it serves (store) or judges (enforcer). */
async function startRole(role: Role): Promise<void> {
  const services = role === 'store' ? 'sink,api' : 'enforcer';
  const p = spawn(process.execPath, ['--import', 'tsx', join(root, 'packages/cli/src/bin.ts'), 'start', '--services', services], {
    cwd: root,
    env: role === 'store' ? { ...pipelineEnv, LOG_LEVEL: 'debug' } : pipelineEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  procs[role] = p;
  let started = false;
  if (role === 'store') storedLines.reset();
  // --keep: the process's whole log (info lines too) stays in the run's directory, for diagnosis
  const full = args.keep ? createWriteStream(join(work, `${role}.log`), { flags: 'a' }) : undefined;
  const keep = (c: Buffer) => {
    full?.write(c);
    const text = c.toString();
    if (role === 'store') storedLines.push(text);
    if (role !== 'store' && text.includes('"enforcer started"')) started = true;
    // info lines are for readiness only; keep what a person needs to see when something fails
    for (const line of text.split('\n')) {
      // (connection refusals flood it while a network fault lasts)
      if (line !== '' && !/"level":(20|30|"debug"|"info")/.test(line) && !/ECONNREFUSED|seed broker/.test(line))
        pipelineLog = `${pipelineLog}[${role}] ${line}\n`.slice(-50_000);
    }
  };
  p.stdout?.on('data', keep);
  p.stderr?.on('data', keep);
  p.once('exit', (code, signal) => {
    if (!expectedExit.has(p)) fail(`the ${role} process exited unexpectedly (${code ?? signal})`);
  });
  const ok = await until(
    `the ${role} process to be ready`,
    async () => {
      if (role !== 'store') return started;
      try {
        return (await fetch(`http://127.0.0.1:${apiPort}/readyz`)).ok;
      } catch {
        return false;
      }
    },
    180_000,
    250,
  );
  if (!ok) fail(`the ${role} process did not become ready`);
}

/** SIGKILL (no goodbye) or SIGTERM (graceful), and wait for the exit. */
async function stopRole(role: Role, signal: 'SIGKILL' | 'SIGTERM'): Promise<number | null> {
  const p = procs[role];
  if (p === undefined) return null;
  expectedExit.add(p);
  p.kill(signal);
  const code = await waitExit(p);
  procs[role] = undefined;
  return code;
}

await startRole('store');
await startRole('enforcer');
if (cluster.enforcers === 2) await startRole('enforcer2');

// ---------------------------------------------------------------- independent readers
const decided = new Set<string>();
let decisionsDuplicated = 0;
/** where each decision was read (partition/offset), and the first duplicates seen: read twice, or written twice */
const decidedAt = new Map<string, string>();
const duplicateSamples: string[] = [];
let dlq = 0;
const dlqReasons = new Map<string, number>();
/** source topic/partition/offset → dead letters for it (more than one: a record dead-lettered twice) */
const dlqSources = new Map<string, number>();
/** source → where its dead letters are on the dead-letter topic (partition/offset) */
const dlqAt = new Map<string, string[]>();
const reader = kafka.consumer({ groupId: `load-${run}-reader`, readUncommitted: false });
await reader.connect();
await reader.subscribe({
  topics: [t.decisions.name, t.accessEventsDlq.name, t.decisionsDlq.name, t.accessEvents.name],
  fromBeginning: true,
});
/**
 * Access events on the topic more than once (the SDK sent one twice). A decision doubled without its
 * event doubled was judged twice by the enforcer; with it, the SDK's delivery was at least once.
 */
const accessSeen = new Map<string, string>();
let accessDuplicated = 0;
const idPrefix = `${run}-`;
const hostile = new HostileCount(`${run}-eeee-`);
// The reader is at least once: after a broker restart its group may hand it records again. What it
// saw at the same offset before is not counted twice; the same event at another offset is.
const seenDlqOffsets = new Set<string>();
void reader.run({
  eachBatch: async ({ batch }) => {
    if (batch.topic === t.accessEvents.name) {
      for (const m of batch.messages) {
        // AccessEvent: Confluent header (5 bytes), then eventId (length byte, 36 characters)
        const id = m.value && m.value.length >= 42 ? m.value.subarray(6, 42).toString('latin1') : '';
        if (!id.startsWith(idPrefix)) continue;
        const at = `${batch.partition}/${m.offset}`;
        const before = accessSeen.get(id);
        if (before === undefined) accessSeen.set(id, at);
        else if (before !== at) accessDuplicated++;
      }
      return;
    }
    if (batch.topic === t.decisionsDlq.name) {
      for (const m of batch.messages) hostile.sinkLetter(m.key, m.headers?.['custos.dlq.step']?.toString());
      return;
    }
    if (batch.topic === t.accessEventsDlq.name) {
      for (const m of batch.messages) {
        const at = `${batch.partition}/${m.offset}`;
        if (seenDlqOffsets.has(at)) continue;
        seenDlqOffsets.add(at);
        hostile.letter(m.key, m.headers?.['custos.dlq.step']?.toString());
        dlq++;
        const step = m.headers?.['custos.dlq.step']?.toString() ?? 'unknown step';
        const source = m.headers?.['custos.dlq.source']?.toString() ?? '';
        dlqSources.set(source, (dlqSources.get(source) ?? 0) + 1);
        dlqAt.set(source, [...(dlqAt.get(source) ?? []), at]);
        dlqReasons.set(step, (dlqReasons.get(step) ?? 0) + 1);
      }
      return;
    }
    for (const m of batch.messages) {
      // Decision: Confluent header (5 bytes), then eventId, a 36-character string (length byte 72)
      const id = m.value!.subarray(6, 42).toString('latin1');
      if (hostile.decision(id)) continue;
      if (!id.startsWith(idPrefix)) continue;
      const at = `${batch.partition}/${m.offset}`;
      const before = decidedAt.get(id);
      if (before === at) continue;
      if (before !== undefined) {
        decisionsDuplicated++;
        if (duplicateSamples.length < 10) duplicateSamples.push(`${id} at ${before} and ${at}`);
      } else {
        decided.add(id);
        decidedAt.set(id, at);
      }
    }
  },
});

// ---------------------------------------------------------------- bad records
// Idempotent: a retried send must not put a bad record on the topic twice (the count would be off).
const invalidProducer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
await invalidProducer.connect();
let injected = 0;
let hostileRecords: HostileRecords | undefined;
/** Sent again until Kafka takes them (a broker outage outlasts kafkajs' own retries). */
function sendBad(messages: { key: string; value: Buffer }[]): void {
  const send = (): Promise<unknown> =>
    invalidProducer
      .send({ topic: t.accessEvents.name, messages, acks: -1 })
      .catch(() => new Promise((r) => setTimeout(r, 1000)).then(send));
  void send();
}
/** sends one tick's hostile records; an oversized one alone (two would exceed the broker's limit) */
function sendHostile(records: HostileRecord[]): void {
  const small: { key: string; value: Buffer }[] = [];
  for (const r of records) {
    hostile.injected(r);
    if (EXPECTED[r.kind].dlq !== undefined) injected++;
    if (r.value.length > 100_000) sendBad([{ key: r.key, value: r.value }]);
    else small.push({ key: r.key, value: r.value });
  }
  if (small.length > 0) sendBad(small);
}

// ---------------------------------------------------------------- the producer
const producerArgs = [
  `--rate=${RATE}`,
  `--duration=${DURATION_S}`,
  `--prefix=${prefix}`,
  `--brokers=${clientBrokers.join(',')}`,
  `--registry=${registryUrl}`,
  `--run=${run}`,
  `--disorder=${DISORDER_S}`,
  ...io.producerArgs,
  ...producerCloseArgs(cluster, DRAIN_S),
];
const sdk = fork(join(root, 'bench/load-producer.ts'), producerArgs, {
  execArgv: ['--import', 'tsx'],
  stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
});
let recorded = 0;
let report: ProducerReport | undefined;
sdk.on('message', (m: ProducerProgress | ProducerReport) => {
  recorded = m.recorded;
  if (m.t === 'done') report = m;
});

// ---------------------------------------------------------------- sampling
const lag = { enforcer: 0, sink: 0 };
const maxLag = { enforcer: 0, sink: 0 };
const rssMax = { enforcer: 0, store: 0, producer: 0 };
const lagSeries: { s: number; enforcer: number; sink: number; enforcerRss: number; storeRss: number }[] = [];
async function groupLag(groupId: string, topic: string): Promise<number> {
  const [committed, ends] = await Promise.all([admin.fetchOffsets({ groupId, topics: [topic] }), admin.fetchTopicOffsets(topic)]);
  const at = new Map((committed[0]?.partitions ?? []).map((p) => [p.partition, Number(p.offset)]));
  let n = 0;
  for (const e of ends) n += Math.max(0, Number(e.high) - Math.max(0, at.get(e.partition) ?? 0));
  return n;
}
const startedAt = Date.now();
let lastLine = 0;
const sampler = setInterval(async () => {
  try {
    lag.enforcer = await groupLag(groups.enforcer, t.accessEvents.name);
    lag.sink = await groupLag(groups.sink, t.decisions.name);
  } catch {
    // the groups exist once their consumers joined
  }
  maxLag.enforcer = Math.max(maxLag.enforcer, lag.enforcer);
  maxLag.sink = Math.max(maxLag.sink, lag.sink);
  sampleCpu('store', procs.store?.pid);
  sampleCpu('enforcer', procs.enforcer?.pid);
  const er = rssOf(procs.enforcer?.pid);
  const sr = rssOf(procs.store?.pid);
  rssMax.enforcer = Math.max(rssMax.enforcer, er, rssOf(procs.enforcer2?.pid));
  rssMax.store = Math.max(rssMax.store, sr);
  rssMax.producer = Math.max(rssMax.producer, rssOf(sdk.pid));
  const s = (Date.now() - startedAt) / 1000;
  lagSeries.push({ s, enforcer: lag.enforcer, sink: lag.sink, enforcerRss: er, storeRss: sr });
  const eta = Math.max(0, DURATION_S - s);
  const line = `t=${s.toFixed(0)}s recorded=${recorded} (${Math.round(recorded / Math.max(1, Math.min(s, DURATION_S)))}/s) decided=${decided.size} dlq=${dlq}/${injected} lag enforcer=${lag.enforcer} sink=${lag.sink} rss enforcer=${MiB(er)} store=${MiB(sr)} MiB${report ? ' draining' : ` eta ${eta.toFixed(0)}s`}`;
  if (tty) process.stdout.write(`\r${line.padEnd(120)}`);
  else if (Date.now() - lastLine >= 5000) {
    lastLine = Date.now();
    console.log(line);
  }
}, 1000);

// Faults: SIGKILL, then start again at once (the restart's own start-up is part of the outage).
const faultLog: { role: string; atS: number; downS: number }[] = [];
const faults = Promise.all(
  FAULTS.map(
    (f) =>
      new Promise<void>((done) => {
        setTimeout(async () => {
          const down = Date.now();
          if (f.role === 'registry') await ownRegistry?.restart();
          else {
            await stopRole(f.role, 'SIGKILL');
            await startRole(f.role);
          }
          faultLog.push({ role: f.role, atS: f.atS, downS: (Date.now() - down) / 1000 });
          done();
        }, f.atS * 1000);
      }),
  ),
);

const ioFaults = io.run({ producing: () => recorded > 0, rate: RATE, partitions: PARTITIONS, apiPort, lag: () => lag });
const clusterFaults = Promise.all(
  cluster.faults.map((f) =>
    scheduleClusterFault(f, {
      options: cluster,
      kafka: ownKafka,
      admin,
      topics: t,
      producing: () => recorded > 0,
      startEnforcer2: () => startRole('enforcer2'),
      stopEnforcer2: async () => {
        const code = await stopRole('enforcer2', 'SIGTERM');
        if (code !== 0) fail(`the second enforcer exited with ${code} on SIGTERM`);
      },
    }),
  ),
).catch((err: unknown) => fail(`a cluster fault failed: ${err instanceof Error ? err.message : String(err)}`));

// Bad records on the same schedule as the good ones.
if (INVALID_PCT > 0) {
  const codec = AvroCodec.connect(registryUrl);
  hostileRecords = new HostileRecords(
    run,
    await codec.register(t.accessEvents.subject, accessEventAvro),
    await codec.register(t.subjectState.subject, subjectStateChangeAvro),
    args.hostile ? HOSTILE_KINDS : BAD_KINDS,
  );
  if (args.hostile) sendHostile(hostileRecords.outlierThenBurst());
}
let rotation = 0;
const invalidRate = (RATE * INVALID_PCT) / 100;
const invalidStarted = performance.now();
await new Promise<void>((resolveInjection) => {
  if (invalidRate === 0) return resolveInjection();
  const timer = setInterval(() => {
    const elapsed = Math.min(performance.now() - invalidStarted, DURATION_S * 1000);
    const due = Math.floor((invalidRate * elapsed) / 1000);
    const records: HostileRecord[] = [];
    for (; rotation < due; rotation++) records.push(...(hostileRecords as HostileRecords).next(rotation));
    sendHostile(records);
    if (elapsed >= DURATION_S * 1000) {
      clearInterval(timer);
      resolveInjection();
    }
  }, 50);
});

// ---------------------------------------------------------------- drain and reconcile
await until('the producer to finish', () => report !== undefined || sdk.exitCode !== null, DURATION_S * 1000 + 120_000);
if (report === undefined) fail('the producer exited without a report');
await faults;
await ioFaults;
const clusterLog: ClusterFaultRecord[] = await clusterFaults;
const acked = report.delivered ? report.recorded : report.recorded - report.unsent;
const drained = await until(
  'every acknowledged event to be decided and every bad record dead-lettered',
  () => decided.size >= acked && dlq >= injected && hostile.settled(),
  DRAIN_S * 1000,
  500,
);
// A transaction's commit marker takes an offset of its own after the last decision, which the sink
// never consumes: caught up is at most one behind per partition.
await until(
  'the sink to catch up',
  async () => (await groupLag(groups.sink, t.decisions.name)) <= PARTITIONS,
  DRAIN_S * 1000,
  500,
);
clearInterval(sampler);
if (tty) process.stdout.write('\n');
const drainedAt = Date.now();
await reader.disconnect();
await invalidProducer.disconnect();
for (const role of ['enforcer2', 'enforcer', 'store'] as const) {
  if (procs[role] === undefined) continue;
  sampleCpu(role === 'enforcer2' ? 'enforcer' : role, procs[role]?.pid);
  const code = await stopRole(role, 'SIGTERM');
  if (code !== 0) console.error(`load: the ${role} process exited with ${code} on SIGTERM`);
}

const store = createStore({ database: 'custos', chdbPath });
const rows = await store.client.query({
  query: `SELECT count() AS rows, uniqExact(event_id) AS distinct_ids,
                 countIf(startsWith(toString(event_id), {run:String})) AS of_run,
                 min(stored_at) AS first, max(stored_at) AS last
          FROM ${store.table('decisions')}
          WHERE source_service = 'load'`,
  query_params: { run: idPrefix },
  format: 'JSONEachRow',
});
const [stored] = (await rows.json()) as {
  rows: number;
  distinct_ids: number;
  of_run: number;
  first: string;
  last: string;
}[];
await hostile.readStored(store);
const latency = await latencyBreakdown(store, idPrefix, storedLines.inserts);
// With cluster faults or two enforcers: each actor's BULK_ACCESS count against one judge, no hand-over.
const bulk =
  cluster.faults.length > 0 || cluster.enforcers === 2 || ownKafka !== undefined
    ? {
        expected: await expectedBulkByActor(kafka, admin, registryUrl, t, pipelinePolicyFile(root)),
        stored: await storedBulkByActor(store, idPrefix),
      }
    : undefined;
const bulkOff = bulk ? bulkMismatches(bulk.expected, bulk.stored) : [];
const sum = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);
await store.close();
const hostileReport = hostile.report();

const storedRows = Number(stored?.rows ?? 0);
const storedDistinct = Number(stored?.distinct_ids ?? 0);
const lost = Math.max(0, acked - Math.min(decided.size, storedDistinct));
const duplicated = storedRows - storedDistinct + decisionsDuplicated;
const storeSpanS = stored
  ? (Date.parse(`${stored.last.replace(' ', 'T')}Z`) - Date.parse(`${stored.first.replace(' ', 'T')}Z`)) / 1000
  : 0;
const figures = {
  'load.events_acknowledged': [acked, 'events'],
  'load.decisions': [decided.size, 'decisions'],
  'load.rows_stored': [storedRows, 'rows'],
  'load.lost': [lost, 'events'],
  'load.duplicated': [duplicated, 'events'],
  'load.invalid_injected': [injected, 'records'],
  'load.dlq': [dlq, 'records'],
  'load.dlq_mismatch': [Math.abs(dlq - injected), 'records'],
  ...latency.figures,
  // CPU the processes used per event, whatever else the machine was doing: comparable across runs
  'load.store_cpu_us_per_event': [Math.round((cpuOf('store') * 1e6) / Math.max(1, acked)), 'µs'],
  'load.enforcer_cpu_us_per_event': [Math.round((cpuOf('enforcer') * 1e6) / Math.max(1, acked)), 'µs'],
  'load.events_per_s': [Math.round(acked / report.seconds), 'events/s'],
  'load.stored_per_s': [storeSpanS > 0 ? Math.round(storedRows / storeSpanS) : 0, 'rows/s'],
  'load.max_lag': [Math.max(maxLag.enforcer, maxLag.sink), 'records'],
  'load.max_lag_enforcer': [maxLag.enforcer, 'records'],
  'load.max_lag_sink': [maxLag.sink, 'records'],
  'load.rss_max_mib': [MiB(Math.max(rssMax.enforcer, rssMax.store, rssMax.producer)), 'MiB'],
  'load.rss_max_enforcer_mib': [MiB(rssMax.enforcer), 'MiB'],
  'load.rss_max_store_mib': [MiB(rssMax.store), 'MiB'],
  'load.rss_max_producer_mib': [MiB(rssMax.producer), 'MiB'],
  'load.hostile_problems': [hostileReport.problems.length, 'kinds'],
  'load.bulk_after_outlier': [hostile.bulkRaised, 'decisions'],
  ...(bulk
    ? {
        'load.bulk_access_expected': [sum(bulk.expected), 'decisions'],
        'load.bulk_access_stored': [sum(bulk.stored), 'decisions'],
        'load.bulk_actors_mismatched': [bulkOff.length, 'actors'],
      }
    : {}),
  ...clusterFigures(clusterLog),
} as const;
const exact =
  drained &&
  lost === 0 &&
  duplicated === 0 &&
  dlq === injected &&
  storedDistinct === acked &&
  hostileReport.exact &&
  bulkOff.length === 0;

console.log(
  `\nload: ${RATE} events/s for ${DURATION_S} s, ${PARTITIONS} partitions, ${INVALID_PCT} % bad records, disorder ${DISORDER_S} s (run ${run})`,
);
for (const f of faultLog)
  console.log(`fault: ${f.role} killed (SIGKILL) at ${f.atS} s, serving again ${f.downS.toFixed(1)} s later`);
const ioLog = io.finish(report);
for (const f of ioLog) {
  console.log(
    `fault: ${f.fault} at ${f.atS} s for ${f.forS} s; recovered (${f.recovered}) ${f.recoveryS >= 0 ? `${f.recoveryS.toFixed(1)} s` : 'NOT'} after it ended`,
  );
  for (const n of f.notes) console.log(`  ${n}`);
}
for (const r of clusterLog) console.log(describeClusterFault(r));
if (bulk)
  console.log(
    bulkOff.length === 0
      ? `bulk access: ${sum(bulk.stored)} BULK_ACCESS decisions stored, per actor as one judge with no hand-over gives`
      : `bulk access: per-actor BULK_ACCESS counts differ from one judge with no hand-over (expected → stored): ${bulkOff.join(', ')}`,
  );
console.table(Object.fromEntries(Object.entries(figures).map(([k, [v, unit]]) => [k, { value: v, unit }])));
if (dlqReasons.size > 0) console.log('dead letters by step:', Object.fromEntries(dlqReasons));
if (duplicateSamples.length > 0) {
  console.log('decisions read more than once (id at partition/offset):', duplicateSamples);
  console.log(
    `access events on their topic more than once: ${accessDuplicated} (${accessDuplicated >= decisionsDuplicated ? 'the SDK sent them twice' : 'the enforcer judged some records twice'})`,
  );
}
if (INVALID_PCT > 0) console.table(hostileReport.table);
for (const p of hostileReport.problems) console.log(`hostile: ${p}`);
const twice = [...dlqSources].filter(([, n]) => n > 1);
if (twice.length > 0)
  console.log(
    `records dead-lettered more than once: ${twice.length}`,
    twice.slice(0, 10).map(([source]) => `${source} at ${dlqAt.get(source)?.join(', ')}`),
  );
console.log(
  exact
    ? 'reconciliation: EXACT (acknowledged = decided = stored, none lost or doubled, dead letters = bad records)'
    : 'reconciliation: NOT EXACT',
);
if (!exact) {
  console.log(`--- pipeline log (warnings and errors, tail) ---\n${pipelineLog.slice(-8000)}`);
}
if (latency.unmatched > 0)
  console.log(`e2e: ${latency.unmatched} stored rows not matched to a logged insert (not in the e2e figures)`);
console.log(`drained ${((drainedAt - startedAt) / 1000 - DURATION_S).toFixed(1)} s after the producer's last event`);

mkdirSync(join(root, 'bench/results'), { recursive: true });
writeFileSync(
  join(root, 'bench/results/load.json'),
  `${JSON.stringify(
    {
      suite: 'load',
      when: new Date().toISOString(),
      machine: { cpus: cpus().length, node: process.version },
      params: { rate: RATE, durationS: DURATION_S, invalidPercent: INVALID_PCT, partitions: PARTITIONS, disorderS: DISORDER_S },
      faults: faultLog,
      ioFaults: ioLog,
      kafka: ownKafka ? { own: ownKafka.brokers.length } : 'shared',
      enforcers: cluster.enforcers,
      clusterFaults: clusterLog,
      exact,
      figures: Object.entries(figures).map(([name, [value, unit]]) => ({ name, value, unit })),
      lag: lagSeries,
    },
    null,
    2,
  )}\n`,
);
console.log('wrote bench/results/load.json');

await admin.deleteTopics({ topics: Object.values(t).map((s) => s.name) }).catch(() => {});
await admin.disconnect();
await io.cleanup();
if (!args.keep) rmSync(work, { recursive: true, force: true });
else console.log(`kept the run's directory (chDB data, process logs): ${work}`);
await ownRegistry?.destroy();
// --keep: the brokers' logs too (their data goes with the run's Kafka)
if (args.keep && ownKafka)
  for (const f of readdirSync(ownKafka.runDir).filter((f) => f.endsWith('.log')))
    copyFileSync(join(ownKafka.runDir, f), join(work, f));
await ownKafka?.destroy();
process.exit(exact ? 0 : 1);
