/**
 * Kafka's own Java clients on the local broker (`pnpm bench java`): the ceiling for the SDK's and the
 * enforcer's throughput, measured in the same run as them by `pnpm bench`.
 *
 *   java.producer_records_per_s   kafka-producer-perf-test (org.apache.kafka.tools.ProducerPerformance):
 *                                 --records records of the mean size of an Avro-framed access event of
 *                                 the realistic mix, as fast as it can, acks=all (idempotent, the
 *                                 client's default), into a topic made like access-events (same
 *                                 partitions and config); batch.size 128 KiB and linger.ms 5
 *                                 (the SDK sends up to 512 KiB a request over 6 partitions)
 *   java.consumer_records_per_s   kafka-consumer-perf-test (ConsumerPerformance) reading those records
 *                                 back, read_committed and 4 MiB a partition per fetch as the enforcer
 *                                 reads: its fetch.nMsg.sec (records
 *                                 over the fetch time, the group join excluded, as the enforcer's
 *                                 timed window excludes its start)
 *
 * The jars come from Maven Central (scripts/kafka-tools.sh); Java from KAFKA_JAVA, JAVA_HOME or PATH
 * as for the broker. Options: --records N (1 000 000) --reps R (3) --record-size B (measured).
 * Medians of R repetitions, each on a fresh topic; topics are deleted at the end. Writes
 * bench/results/java.json.
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AvroCodec, createKafka, ensureTopics } from '../packages/kafka/src/index.js';
import { accessEventAvro, toAvro, topics } from '../schemas/src/index.js';
import { benchArgs } from './cli-args.js';
import { mixGenerator } from './enforcer-events.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const brokers = process.env.KAFKA_BROKERS ?? '127.0.0.1:9092';
const registryUrl = process.env.SCHEMA_REGISTRY_URL ?? 'http://127.0.0.1:8081/apis/ccompat/v7';
const { values: args } = benchArgs(
  {
    command: 'pnpm bench:java',
    summary:
      'Kafka’s own Java clients on the local broker (kafka-producer-perf-test, kafka-consumer-perf-test from the Maven\n' +
      'Central jars, scripts/kafka-tools.sh): the ceiling for the SDK’s and the enforcer’s throughput. Needs Java\n' +
      '(KAFKA_JAVA, JAVA_HOME or PATH) and the local Kafka and registry (KAFKA_BROKERS, SCHEMA_REGISTRY_URL).',
    prints: 'a table of java.producer_records_per_s and java.consumer_records_per_s; writes bench/results/java.json.',
  },
  {
    records: { type: 'string', default: '1000000', arg: 'N', help: 'records per repetition' },
    reps: { type: 'string', default: '3', arg: 'R', help: 'repetitions (figures are medians)' },
    'record-size': {
      type: 'string',
      arg: 'B',
      help: 'record size in bytes (default: the mean Avro-framed access event, measured)',
    },
  },
);
const N = Number(args.records);
const REPS = Number(args.reps);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function toolsClasspath(): string {
  const r = spawnSync('bash', [join(root, 'scripts', 'kafka-tools.sh')], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  if (r.status !== 0) throw new Error('scripts/kafka-tools.sh could not fetch the Kafka perf tools');
  return `${r.stdout.trim()}/*`;
}
const java = process.env.KAFKA_JAVA ?? (process.env.JAVA_HOME ? join(process.env.JAVA_HOME, 'bin', 'java') : 'java');

function runJava(main: string, cp: string, argv: string[]): Promise<string> {
  return new Promise((done, fail) => {
    const child = spawn(java, ['-Xmx512m', '-cp', cp, main, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d;
    });
    child.stderr.on('data', (d: Buffer) => {
      err += d;
    });
    child.on('error', fail);
    child.on('exit', (code) =>
      code === 0 ? done(out) : fail(new Error(`${main} exited with ${code}: ${(err || out).trim().slice(-2000)}`)),
    );
  });
}

/** The mean size of the SDK's records: Confluent-framed Avro of the realistic mix. */
async function meanEventBytes(subject: string): Promise<number> {
  const codec = AvroCodec.connect(registryUrl);
  const schema = await codec.register(subject, accessEventAvro);
  const next = mixGenerator('realistic', 42, 20_000);
  let bytes = 0;
  for (let i = 0; i < 20_000; i++) bytes += schema.encode(toAvro(accessEventAvro, next())).length;
  return Math.round(bytes / 20_000);
}

const prefix = `bench-java-${randomUUID().slice(0, 8)}-`;
const cp = toolsClasspath();
const kafka = createKafka({ brokers: brokers.split(','), clientId: 'bench-java' });
const admin = kafka.admin();
await admin.connect();
const created: string[] = [];
const work = mkdtempSync(join(tmpdir(), 'custos-bench-java-'));
const consumerConfig = join(work, 'consumer.properties');
writeFileSync(consumerConfig, 'isolation.level=read_committed\nmax.partition.fetch.bytes=4194304\n');
const produced: number[] = [];
const consumed: number[] = [];
let size = 0;
try {
  const base = topics({ prefix: `${prefix}size-` }).accessEvents;
  size = args['record-size'] ? Number(args['record-size']) : await meanEventBytes(base.subject);
  console.log(`java bench: ${N.toLocaleString('en-US')} records of ${size} B (the mean access event), ${REPS} repetitions`);
  for (let r = 0; r < REPS; r++) {
    const spec = topics({ prefix: `${prefix}${r}-` }).accessEvents;
    await ensureTopics(admin, [spec]);
    created.push(spec.name);
    const p = await runJava('org.apache.kafka.tools.ProducerPerformance', cp, [
      '--topic',
      spec.name,
      '--num-records',
      String(N),
      '--record-size',
      String(size),
      '--throughput',
      '-1',
      '--producer-props',
      `bootstrap.servers=${brokers}`,
      'acks=all',
      'batch.size=131072',
      'linger.ms=5',
    ]);
    // "1000000 records sent, 251256.3 records/sec (59.9 MB/sec), …" is the last line.
    const pm = /([\d.]+) records\/sec/.exec(p.trim().split('\n').at(-1) ?? '');
    if (!pm) throw new Error(`no rate in the producer's output: ${p.slice(-500)}`);
    produced.push(Number(pm[1]));
    const c = await runJava('org.apache.kafka.tools.ConsumerPerformance', cp, [
      '--bootstrap-server',
      brokers,
      '--topic',
      spec.name,
      '--messages',
      String(N),
      '--group',
      `${prefix}${r}-group`,
      '--timeout',
      '120000',
      '--consumer.config',
      consumerConfig,
    ]);
    // A header line, then "start.time, end.time, MB, MB.sec, nMsg, nMsg.sec, rebalance.time.ms,
    // fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec".
    const lines = c.trim().split('\n');
    const header = lines.findIndex((l) => l.includes('fetch.nMsg.sec'));
    const cols = header >= 0 ? lines[header]!.split(',').map((s) => s.trim()) : [];
    const vals = header >= 0 ? (lines[header + 1] ?? '').split(',').map((s) => s.trim()) : [];
    const rate = Number(vals[cols.indexOf('fetch.nMsg.sec')]);
    const count = Number(vals[cols.indexOf('data.consumed.in.nMsg')]);
    if (!Number.isFinite(rate) || count < N) throw new Error(`the consumer read ${count} of ${N} records: ${c.slice(-500)}`);
    consumed.push(rate);
    console.log(
      `  repetition ${r + 1}/${REPS}: producer ${Math.round(produced.at(-1)!).toLocaleString('en-US')} records/s, consumer ${Math.round(rate).toLocaleString('en-US')} records/s (load ${loadavg()[0]!.toFixed(2)})`,
    );
  }
} finally {
  if (created.length > 0) await admin.deleteTopics({ topics: created }).catch(() => {});
  await admin.disconnect();
  rmSync(work, { recursive: true, force: true });
}

const figures = [
  { name: 'java.producer_records_per_s', value: Math.round(median(produced)), unit: 'records/s' },
  { name: 'java.consumer_records_per_s', value: Math.round(median(consumed)), unit: 'records/s' },
  { name: 'java.record_bytes', value: size, unit: 'bytes' },
];
console.log('\n| figure | median | min | max |\n|---|---:|---:|---:|');
for (const [f, xs] of [
  [figures[0]!, produced],
  [figures[1]!, consumed],
] as const)
  console.log(
    `| ${f.name} | ${f.value.toLocaleString('en-US')} | ${Math.round(Math.min(...xs))} | ${Math.round(Math.max(...xs))} |`,
  );
mkdirSync(join(root, 'bench', 'results'), { recursive: true });
writeFileSync(
  join(root, 'bench', 'results', 'java.json'),
  `${JSON.stringify({ suite: 'java', when: new Date().toISOString(), machine: { cpus: availableParallelism(), node: process.version, loadavg: loadavg() }, figures }, null, 2)}\n`,
);
console.log('wrote bench/results/java.json');
