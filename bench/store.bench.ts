/**
 * Store benchmark (`pnpm bench:store`): the sink's write path into embedded chDB, and the audit
 * queries on 10M stored decisions.
 *
 *   sink.rows_per_s                 the sink's storage path without chaining: Confluent-framed Avro
 *                                   decisions → decoded straight into JSONCompactEachRow lines (the
 *                                   sink's DecisionDecoder) → insert, 6
 *                                   partitions, 3 stored concurrently (as the sink), batches of
 *                                   --batch rows. Peer: clickhouse.bare_insert_rows_per_s, the same
 *                                   rows (already built, chain columns filled) inserted with
 *                                   @clickhouse/client's insert(JSONEachRow), same batches and
 *                                   concurrency — the ceiling the target is measured against.
 *   sink.chained_rows_per_s         the same path with chaining (seq, SHA-256 link and Merkle leaf, the
 *                                   exact code the Sink runs: prepare → insertPrepared → commit), a
 *                                   signed checkpoint (Merkle root) every 100 000 rows of a chain and at
 *                                   the end, each witnessed (a witness directory), and a closing head.
 *                                   Peer: sink.rows_per_s.
 *   clickhouse.raw_insert_rows_per_s  the engine's own ceiling: the same rows pre-serialized,
 *                                   handed to chDB as bytes (no JS work at all). Peer: bare insert.
 *   sink.kafka_rows_per_s           (with Kafka reachable) the real Sink class end to end from a
 *                                   pre-filled topic: fetch, decode, chain, insert, commit.
 *   verify.rows_per_s               verifyRange over the chained rows of the first repetition as the
 *                                   default `custos verify` runs it: trusted key, witness, heads, chain
 *                                   checks and the read model (one sample).
 *   store.bytes_per_decision        bytes on disk (parts of `decisions`) per row of
 *                                   --query-rows decisions generated inside ClickHouse
 *                                   (INSERT … SELECT … FROM numbers(N)) with the distributions of
 *                                   the sink's realistic sample, after OPTIMIZE FINAL.
 *   store.total_bytes_per_decision  the same plus both read models (subject_accesses_v2 and
 *                                   accesses_by_time), each a copy of every decision.
 *   query.subject_month_p95_ms      "who accessed subject S in a month": the subject report's read
 *                                   alone (subjectAccessRows, the query the API runs)
 *   query.actor_day_p95_ms          "what did actor A access in a day": the API's search by actor,
 *                                   a page of 100 (newestAccesses)
 *   query.monthly_violations_ms     a month's denials by code and by actor: the API's violations
 *                                   summary queries (codeCountRows, actorCountRows)
 *
 * Options: --rows N (600000) --reps R (5) --batch B (50000) --query-rows M (10000000) --queries Q (200)
 * --layouts (only the cost per layout: the chained bodies handed to chDB as bytes, as migrated,
 * with either read model's view or both dropped, and into a Null table (the parse alone); CPU µs/row in the inserts' window and with the
 * merges they started), --no-kafka, --general (also the chained path through avsc → row → canonical, the sink's fallback and
 * its path before the straight decoder; with Kafka, the real Sink once more with straightDecode off). Each write line logs the process's CPU µs/row and the JS
 * thread's share of it (the rest is chDB's threads). Write figures are medians of R repetitions,
 * each on a fresh database, variants interleaved; query figures are medians over R rounds of Q queries each (p50/p95 within a round).
 * Writes bench/results/store.json.
 */
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { createLogger } from '../packages/config/src/index.js';
import { AvroCodec, createKafka, ensureTopics } from '../packages/kafka/src/index.js';
// The root has no workspace dependencies of its own, so the packages are imported by path.
import {
  type AnyCandidate,
  type AvroDecision,
  actorCountRows,
  type ChainState,
  ContentArena,
  canonical,
  codeCountRows,
  commit,
  createStore,
  DECISIONS_INSERT_SETTINGS,
  DEFAULT_SINK_BATCH_ROWS,
  DecisionReads,
  emptyChain,
  INSERT_COLUMNS,
  insertHead,
  insertLine,
  insertPrepared,
  migrate,
  newestAccesses,
  payloadHash,
  prepare,
  queryRows,
  readWitnessDir,
  releaseBody,
  rowFromAvro,
  type Store,
  sampleDecisions,
  selectAccesses,
  signHead,
  subjectAccessRows,
  verifyRange,
  Where,
  type WitnessRecord,
  withDatabase,
  writeCheckpoint,
  writeWitnessFile,
} from '../packages/store/src/index.js';
import { decisionAvro, toAvro, topics as topicsFor } from '../schemas/src/index.js';
import { createSinkMetrics, DecisionDecoder, Sink } from '../services/sink/src/index.js';
import { benchArgs } from './cli-args.js';

const here = dirname(fileURLToPath(import.meta.url));
// `pnpm bench:store -- --reps 3` passes the `--` through: drop it.
const { values: args } = benchArgs(
  {
    command: 'pnpm bench:store',
    summary:
      'The sink’s write path into embedded chDB (with and without chaining, against a bare @clickhouse/client insert and\n' +
      'the engine’s raw ceiling; with Kafka reachable, the real Sink from a topic), verify’s rate, bytes per decision, and\n' +
      'the API’s audit queries over --query-rows stored decisions.',
    prints:
      'a line per write run (rows/s, CPU µs/row) and a table of sink.*, clickhouse.*, verify.rows_per_s,\n' +
      'store.bytes_per_decision and query.*; writes bench/results/store.json.',
  },
  {
    rows: { type: 'string', default: '600000', arg: 'N', help: 'rows per write run' },
    reps: { type: 'string', default: '5', arg: 'R', help: 'repetitions (figures are medians)' },
    batch: { type: 'string', default: String(DEFAULT_SINK_BATCH_ROWS), arg: 'B', help: 'rows per insert' },
    'query-rows': { type: 'string', default: '10000000', arg: 'M', help: 'decisions generated for the query figures' },
    queries: { type: 'string', default: '200', arg: 'Q', help: 'queries per round' },
    'no-kafka': { type: 'boolean', default: false, help: 'skip the real Sink from a Kafka topic' },
    /** also run the general decode path (avsc → row → canonical), chained: the sink before the straight decoder */
    general: {
      type: 'boolean',
      default: false,
      help: 'also the chained path through avsc → row → canonical (the sink’s fallback)',
    },
    /** run only these write variants (comma-separated: bare,plain,bareCompact,chained,raw,general), e.g. to profile one */
    only: { type: 'string', arg: 'LIST', help: 'only these write variants (bare,plain,bareCompact,chained,raw,general)' },
    layouts: {
      type: 'boolean',
      default: false,
      help: 'only chDB’s CPU per row with each read model’s view dropped (scratch databases), then exit',
    },
  },
);
const ROWS = Number(args.rows);
const REPS = Number(args.reps);
const BATCH = Number(args.batch);
const QUERY_ROWS = Number(args['query-rows']);
const QUERIES = Number(args.queries);
const CHAINS = 6;
const LANES = 3;
const ZERO_HASH = '0'.repeat(64);

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] as number;
};
const log = (s: string) => process.stderr.write(`${s}\n`);

const chdbPath = mkdtempSync(join(tmpdir(), 'custos-bench-store-'));
const root = createStore({ database: 'bench', chdbPath, maxExecutionTimeS: 7200 });
await root.client.command({ query: 'CREATE DATABASE IF NOT EXISTS bench' });

// --- the input: realistic decisions as the topic holds them ----------------------------------------
// A registry that knows one schema (id 1): the codec decodes exactly as in the sink, minus the network.
const codec = new AvroCodec({ register: async () => ({ id: 1 }) } as never, 'local');
const schema = await codec.register('bench-decisions-value', decisionAvro);
/** The sink's decoder (straight to canonical bytes when the record has the sink's schema id). */
const decoder = new DecisionDecoder(codec, schema);
/**
 * The topic's records, as compact as the sink would see them: one buffer per partition with the
 * records' ends, so the runs' heap holds no per-record objects the bench made beforehand (a major GC
 * marks every live object: hundreds of thousands of pre-built ones would bill the sink for the bench's
 * own data). A chunk (one insert) is a range of a partition's records; its messages are made per run.
 */
interface PartitionInput {
  chain: number;
  data: Buffer;
  /** end of record i in `data` (record i starts where i − 1 ends) */
  ends: number[];
  /** record keys (actor ids), as the enforcer keys decisions */
  keys: string[];
}
interface Msg {
  chain: number;
  offset: string;
  value: Buffer;
}
interface Chunk {
  chain: number;
  from: number;
  to: number;
}
// Built inside functions, not top-level blocks: this module's body is an async function (top-level
// await), and a block's locals stay in its frame until the module finishes. The 600k sample
// decisions of a top-level block stayed live (~550 MiB of heap) through every run, so each major GC
// of a sink variant marked them: the bench billed the sink ~2–3 µs/row for its own input.
const perChain: PartitionInput[] = buildInput();
function buildInput(): PartitionInput[] {
  const perChain: PartitionInput[] = [];
  const sample = sampleDecisions(ROWS, { start: Date.parse('2026-10-01T00:00:00Z'), spanMs: 20 * 86_400_000 });
  for (let c = 0; c < CHAINS; c++) {
    const values: Buffer[] = [];
    const keys: string[] = [];
    for (let i = c; i < sample.length; i += CHAINS) {
      const d = sample[i] as (typeof sample)[number];
      values.push(schema.encode(toAvro(decisionAvro, d)));
      keys.push(d.event.actor.id);
    }
    let end = 0;
    perChain.push({ chain: c, data: Buffer.concat(values), ends: values.map((v) => (end += v.length)), keys });
  }
  return perChain;
}
/** Offsets as the topic would number them (every other one: transaction markers). */
const offsetOf = (i: number) => String(i * 2);
function messages(ch: Chunk): Msg[] {
  const p = perChain[ch.chain] as PartitionInput;
  const out: Msg[] = [];
  for (let i = ch.from; i < ch.to; i++) {
    out.push({ chain: ch.chain, offset: offsetOf(i), value: p.data.subarray(i ? (p.ends[i - 1] as number) : 0, p.ends[i]) });
  }
  return out;
}
/** Chunks per lane: lane L stores chains L, L + LANES, … one batch after another. */
const lanes: Chunk[][] = Array.from({ length: LANES }, (_, l) =>
  perChain
    .filter((_, c) => c % LANES === l)
    .flatMap((p) =>
      Array.from({ length: Math.ceil(p.ends.length / BATCH) }, (_, k) => ({
        chain: p.chain,
        from: k * BATCH,
        to: Math.min(p.ends.length, (k + 1) * BATCH),
      })),
    ),
);
// The same rows, chained once, as the bodies the sink inserts (off the JS heap); the bare inserts
// get them back as values (JSON.parse of each line) before their run.
const prebodies: Buffer[][] = await buildBodies();
async function buildBodies(): Promise<Buffer[][]> {
  const prebodies: Buffer[][] = [];
  const states = Array.from({ length: CHAINS }, (_, c) => emptyChain(c, 100_000));
  for (const lane of lanes) {
    const bodies: Buffer[] = [];
    for (const chunk of lane) {
      const state = states[chunk.chain] as ChainState;
      const p = prepare(state, await decode(messages(chunk)));
      commit(state, p);
      bodies.push(p.body);
    }
    prebodies.push(bodies);
  }
  return prebodies;
}
/** A body's rows as value arrays in INSERT_COLUMNS order, and as objects. */
const valuesOf = (body: Buffer) =>
  body
    .toString()
    .split('\n')
    .map((l) => JSON.parse(l) as unknown[]);
const objectOf = (v: unknown[]) => Object.fromEntries(INSERT_COLUMNS.map((c, i) => [c, v[i]]));
// A full collection between runs, so no run pays for garbage an earlier one left (node --expose-gc).
setFlagsFromString('--expose-gc');
const fullGc = runInNewContext('gc') as () => void;

async function decode(chunk: Msg[], arena?: ContentArena): Promise<AnyCandidate[]> {
  const out: AnyCandidate[] = [];
  for (const m of chunk) {
    const d = decoder.decode(m, m.chain, arena);
    out.push(d instanceof Promise ? await d : d);
  }
  return out;
}

/** The general path (before the straight decoder; still the fallback): avsc decode → row → canonical. */
async function decodeGeneral(chunk: Msg[]): Promise<AnyCandidate[]> {
  const out: AnyCandidate[] = [];
  for (const m of chunk) {
    const value = codec.decodeSync<AvroDecision>(m.value, schema) ?? (await codec.decode<AvroDecision>(m.value, schema)).value;
    out.push({ offset: m.offset, row: rowFromAvro(value, m.chain, m.offset) });
  }
  return out;
}

/**
 * The storage path without chaining: same decoding and lines, a constant hash. `spare`: the lane's
 * body buffer from its previous batch, reused as the sink reuses its bodies (`releaseBody`).
 */
function prepareUnchained(
  state: ChainState,
  cands: AnyCandidate[],
  spare?: Buffer,
): { body: Buffer; backing: Buffer; last: number } {
  let size = 0;
  for (const c of cands) size += (c.enc ? c.enc.end - c.enc.start : 4096) + 160;
  const body = spare && spare.length >= size ? spare : Buffer.allocUnsafeSlow(size);
  let pos = 0;
  let seq = state.seq;
  for (const c of cands) {
    seq += 1;
    if (pos) body[pos++] = 0x0a;
    if (c.enc) {
      body[pos++] = 0x5b;
      pos += c.enc.buf.copy(body, pos, c.enc.start, c.enc.end);
      pos += body.write(`,${state.chain},${c.offset},${seq},"${ZERO_HASH}"]`, pos, 'latin1');
    } else pos += body.write(insertLine(canonical({ ...c.row, chain_seq: seq }), ZERO_HASH), pos, 'utf8');
  }
  return { body: body.subarray(0, pos), backing: body, last: seq };
}

type Variant = 'bare' | 'bareCompact' | 'plain' | 'chained' | 'raw' | 'general';

/** The sink's checkpoint settings and key; the witness is a directory (WITNESS_DIR), as the topic needs Kafka. */
const CHECKPOINT_MAX_ROWS = 100_000;
const BENCH_KEY = generateKeyPairSync('ed25519').privateKey;
interface BenchWitness {
  dir: string;
  write(r: WitnessRecord): void;
}
function benchWitness(): BenchWitness {
  const dir = mkdtempSync(join(tmpdir(), 'custos-bench-witness-'));
  let seq = 0;
  return { dir, write: (r) => void writeWitnessFile(dir, r, ++seq) };
}
async function checkpointAndWitness(store: Store, state: ChainState, witness: BenchWitness) {
  const cp = await writeCheckpoint(store, state, 'decisions', BENCH_KEY);
  if (cp) witness.write({ type: 'checkpoint', payload: cp.payload, signature: cp.signature });
  return cp;
}
/** rows/s, and CPU µs per row (all threads of this process: JS and chDB's, less noisy than rows/s) */
async function runVariant(
  v: Variant,
  store: Store,
  witness: BenchWitness = benchWitness(),
): Promise<{ rate: number; cpu: number; settledCpu: number; jsCpu: number; parts: number }> {
  const t = store.table('decisions');
  const states = Array.from({ length: CHAINS }, (_, c) => emptyChain(c, 100_000));
  // The bare client inserts start from their rows in memory, as a caller of the client would.
  const rows =
    v === 'bare' || v === 'bareCompact'
      ? prebodies.map((bodies) => bodies.map((b) => (v === 'bare' ? valuesOf(b).map(objectOf) : valuesOf(b))))
      : [];
  const spares: (Buffer | undefined)[] = [];
  fullGc();
  const c0 = process.cpuUsage();
  const j0 = process.threadCpuUsage();
  const t0 = performance.now();
  await Promise.all(
    lanes.map(async (lane, l) => {
      for (let k = 0; k < lane.length; k++) {
        const chunk = lane[k] as Chunk;
        const state = states[chunk.chain] as ChainState;
        if (v === 'bare') {
          await store.client.insert({
            table: t,
            values: rows[l]?.[k] as Record<string, unknown>[],
            format: 'JSONEachRow',
            clickhouse_settings: DECISIONS_INSERT_SETTINGS,
          });
        } else if (v === 'bareCompact') {
          await store.client.insert({
            table: t,
            columns: INSERT_COLUMNS as [string, ...string[]],
            values: rows[l]?.[k] as unknown[][],
            format: 'JSONCompactEachRow',
            clickhouse_settings: DECISIONS_INSERT_SETTINGS,
          });
        } else if (v === 'raw') {
          await store.insertRaw({
            table: t,
            columns: INSERT_COLUMNS,
            format: 'JSONCompactEachRow',
            body: prebodies[l]?.[k] as Buffer,
            settings: DECISIONS_INSERT_SETTINGS,
          });
        } else if (v === 'plain') {
          // As the sink does: a recycled arena per batch, the body buffer reused.
          const arena = ContentArena.recycled();
          const { body, backing, last } = prepareUnchained(state, await decode(messages(chunk), arena), spares[l]);
          await store.insertRaw({
            table: t,
            columns: INSERT_COLUMNS,
            format: 'JSONCompactEachRow',
            body,
            settings: DECISIONS_INSERT_SETTINGS,
          });
          spares[l] = backing;
          arena.release();
          state.seq = last;
        } else {
          const arena = ContentArena.recycled();
          const p = prepare(state, await (v === 'general' ? decodeGeneral : (c: Msg[]) => decode(c, arena))(messages(chunk)));
          await insertPrepared(store, p);
          commit(state, p);
          releaseBody(p);
          arena.release();
          // As the sink: a signed checkpoint (with the segment's Merkle root) every CHECKPOINT_MAX_ROWS
          // rows of a chain, witnessed as it is made.
          if (state.seq - state.segment.prevSeq >= CHECKPOINT_MAX_ROWS) await checkpointAndWitness(store, state, witness);
        }
      }
    }),
  );
  if (v === 'chained' || v === 'general') {
    // A graceful stop: every chain checkpointed and witnessed, then a head over them.
    const entries = [];
    for (const state of states) {
      const cp = await checkpointAndWitness(store, state, witness);
      if (cp) entries.push({ chain: state.chain, lastSeq: state.seq, lastHash: state.hash, checkpoint: payloadHash(cp.payload) });
    }
    const head = signHead(
      { topic: 'decisions', prevHead: '', chains: entries, open: [], closed: entries.map((e) => e.chain) },
      BENCH_KEY,
    );
    await insertHead(store, head);
    witness.write({ type: 'head', payload: head.payload, signature: head.signature });
  }
  const rate = ROWS / ((performance.now() - t0) / 1000);
  const c = process.cpuUsage(c0);
  const j = process.threadCpuUsage(j0);
  // Parts left at the end: fewer means more background merging fell inside this run's window.
  const [pc] = await queryRows<{ n: number }>(
    store,
    `SELECT count() AS n FROM system.parts WHERE database = {db:String} AND table = 'decisions' AND active`,
    { db: store.database },
  );
  // CPU once the merges this run started are done: a fast variant leaves more of them after its
  // window, which the window's figure does not bill it for (~3 µs/row for the raw insert).
  await mergesDone(store);
  const settled = process.cpuUsage(c0);
  return {
    rate,
    cpu: (c.user + c.system) / ROWS,
    settledCpu: (settled.user + settled.system) / ROWS,
    jsCpu: (j.user + j.system) / ROWS,
    parts: Number(pc?.n),
  };
}

/** Waits until the database has had no merge running for two polls in a row (at most `maxMs`). */
async function mergesDone(store: Store, maxMs = 20_000): Promise<void> {
  for (let idle = 0, waited = 0; idle < 2 && waited < maxMs; waited += 200) {
    await new Promise((r) => setTimeout(r, 200));
    const [m] = await queryRows<{ n: number }>(store, 'SELECT count() AS n FROM system.merges WHERE database = {db:String}', {
      db: store.database,
    });
    idle = Number(m?.n) === 0 ? idle + 1 : 0;
  }
}

/**
 * --layouts: chDB's CPU per row of the same chained bodies (the `raw` path) into `decisions` as
 * migrated and with the read models' views dropped, each layout on a fresh database, layouts
 * interleaved per repetition.
 */
async function layouts(): Promise<void> {
  const dropSearch = 'DROP VIEW {db}.accesses_by_time_mv';
  const dropSubject = 'DROP VIEW {db}.subject_accesses_v2_mv';
  const variants: [string, string[]][] = [
    ['as migrated', []],
    ['without accesses_by_time view', [dropSearch]],
    ['without subject_accesses_v2 view', [dropSubject]],
    ['decisions alone', [dropSearch, dropSubject]],
    // the same insert into a Null table of the same columns: parsing the body and building the
    // columns, nothing sorted, compressed or written
    [
      'parse only (Null engine)',
      [
        dropSearch,
        dropSubject,
        'RENAME TABLE {db}.decisions TO {db}.decisions_stored',
        'CREATE TABLE {db}.decisions AS {db}.decisions_stored ENGINE = Null',
      ],
    ],
  ];
  const window = variants.map((): number[] => []);
  const settled = variants.map((): number[] => []);
  log(`layouts: ${ROWS} rows, ${CHAINS} partitions, ${LANES} concurrently, batches of ${BATCH}, ${REPS} reps`);
  for (let rep = 0; rep < REPS; rep++) {
    for (let i = 0; i < variants.length; i++) {
      const k = (i + rep) % variants.length;
      const [name, ddl] = variants[k] as [string, string[]];
      const store = withDatabase(root, `bench_layout_${k}_${rep}`);
      await migrate(store);
      for (const q of ddl) await store.client.command({ query: q.replaceAll('{db}', store.database) });
      fullGc();
      const c0 = process.cpuUsage();
      await Promise.all(
        prebodies.map(async (bodies) => {
          for (const body of bodies) {
            await store.insertRaw({
              table: store.table('decisions'),
              columns: INSERT_COLUMNS,
              format: 'JSONCompactEachRow',
              body,
              settings: DECISIONS_INSERT_SETTINGS,
            });
          }
        }),
      );
      const c = process.cpuUsage(c0);
      await mergesDone(store, 60_000);
      const m = process.cpuUsage(c0);
      window[k]?.push((c.user + c.system) / ROWS);
      settled[k]?.push((m.user + m.system) / ROWS);
      await root.client.command({ query: `DROP DATABASE ${store.database} SYNC` });
      log(
        `  rep ${rep + 1} ${name.padEnd(33)} ${((c.user + c.system) / ROWS).toFixed(1)} CPU µs/row, ${((m.user + m.system) / ROWS).toFixed(1)} with its merges (load ${loadavg()[0]?.toFixed(1)})`,
      );
    }
  }
  console.log(`\nchDB CPU per row by layout (medians of ${REPS} reps of ${ROWS} rows, batches of ${BATCH}):`);
  variants.forEach(([name], k) => {
    const w = median(window[k] as number[]).toFixed(1);
    const m = median(settled[k] as number[]).toFixed(1);
    console.log(`${name.padEnd(33)} ${w.padStart(6)} µs/row, ${m.padStart(6)} with its merges`);
  });
}

const bytesOf = async (store: Store, table = 'decisions') => {
  const [r] = await queryRows<{ b: number; n: number }>(
    store,
    `SELECT sum(bytes_on_disk) AS b, sum(rows) AS n FROM system.parts WHERE database = {db:String} AND table = {table:String} AND active`,
    { db: store.database, table },
  );
  return Number(r?.b) / Number(r?.n);
};

if (args.layouts) {
  await layouts();
  await root.close();
  rmSync(chdbPath, { recursive: true, force: true });
  process.exit(0);
}

// --- 1. writes ---------------------------------------------------------------------------------------
const results: Record<Variant, number[]> = { bare: [], bareCompact: [], plain: [], chained: [], raw: [], general: [] };
const cpuPerRow: Record<Variant, number[]> = { bare: [], bareCompact: [], plain: [], chained: [], raw: [], general: [] };
/** CPU per row including the background merges the run started, finished after its window */
const settledCpuPerRow: Record<Variant, number[]> = { bare: [], bareCompact: [], plain: [], chained: [], raw: [], general: [] };
/** CPU of the JS thread alone per row (the rest of cpuPerRow is chDB's threads) */
const jsCpuPerRow: Record<Variant, number[]> = { bare: [], bareCompact: [], plain: [], chained: [], raw: [], general: [] };
let sinkBytes = 0;
let verifyRate = 0;
/** 1-minute load average after each write run (other processes share the machine) */
const loads: number[] = [];
const only = args.only?.split(',');
const order = (
  ['bare', 'plain', 'bareCompact', 'chained', 'raw', ...(args.general ? (['general'] as const) : [])] as Variant[]
).filter((v) => !only || only.includes(v));
log(`writes: ${ROWS} decisions, ${CHAINS} partitions, ${LANES} concurrently, batches of ${BATCH}, ${REPS} reps`);
for (let rep = 0; rep < REPS; rep++) {
  for (let i = 0; i < order.length; i++) {
    const v = order[(i + rep) % order.length] as Variant;
    const store = withDatabase(root, `bench_w_${v}_${rep}`);
    await migrate(store);
    const witness = benchWitness();
    const { rate, cpu, settledCpu, jsCpu, parts } = await runVariant(v, store, witness);
    settledCpuPerRow[v].push(settledCpu);
    results[v].push(rate);
    cpuPerRow[v].push(cpu);
    jsCpuPerRow[v].push(jsCpu);
    if (v === 'chained' && rep === 0) {
      await store.client.command({ query: `OPTIMIZE TABLE ${store.table('decisions')} FINAL` });
      sinkBytes = await bytesOf(store);
      const t = performance.now();
      // the default `custos verify`: signatures, checkpoints, the head, the witness and the read model
      const report = await verifyRange(store, { trusted: [BENCH_KEY], witness: readWitnessDir(witness.dir) });
      verifyRate = report.rows / ((performance.now() - t) / 1000);
      if (!report.ok || report.rows !== ROWS) throw new Error(`the chained rows do not verify: ${report.findings[0]?.message}`);
    }
    await root.client.command({ query: `DROP DATABASE ${store.database} SYNC` });
    rmSync(witness.dir, { recursive: true, force: true });
    loads.push(loadavg()[0] as number);
    log(
      `  rep ${rep + 1} ${v.padEnd(11)} ${Math.round(rate)} rows/s, ${cpu.toFixed(1)} CPU µs/row (JS thread ${jsCpu.toFixed(1)}; ${settledCpu.toFixed(1)} with its merges), ${parts} parts (load ${loadavg()[0]?.toFixed(1)})`,
    );
    await new Promise((r) => setTimeout(r, 500));
  }
}

// --- 2. the real Sink through Kafka (optional) -------------------------------------------------------
let kafkaRate: number | undefined;
let kafkaGeneralRate: number | undefined;
if (!args['no-kafka']) {
  try {
    [kafkaRate, kafkaGeneralRate] = await kafkaSink();
  } catch (err) {
    log(`  Kafka sink run skipped: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** rows/s of the real Sink, and (with --general) of the Sink taking the general decode path */
async function kafkaSink(): Promise<[number, number | undefined]> {
  const logger = createLogger('bench-store', 'error');
  const kafka = createKafka({
    brokers: (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(','),
    clientId: 'bench-store',
    connectionTimeoutMs: 2000,
    retry: { retries: 1 },
  });
  const realCodec = AvroCodec.connect(process.env.SCHEMA_REGISTRY_URL ?? 'http://127.0.0.1:8081/apis/ccompat/v7');
  const topics = topicsFor({ prefix: `bench-store-${randomUUID().slice(0, 8)}.`, partitions: CHAINS });
  const admin = kafka.admin();
  await admin.connect();
  try {
    await ensureTopics(admin, [topics.decisions, topics.decisionsDlq]);
    const real = await realCodec.register(topics.decisions.subject, decisionAvro);
    const producer = kafka.producer({ idempotent: true });
    await producer.connect();
    // The same records, framed with the registry's schema id, interleaved over the partitions as sampled.
    const all: { key: string; value: Buffer }[] = [];
    for (let i = 0; i < ROWS; i++) {
      const p = perChain[i % CHAINS] as PartitionInput;
      const j = Math.floor(i / CHAINS);
      const value = Buffer.from(p.data.subarray(j ? (p.ends[j - 1] as number) : 0, p.ends[j]));
      value.writeUInt32BE(real.id, 1);
      all.push({ key: p.keys[j] as string, value });
    }
    for (let i = 0; i < all.length; i += 5000) {
      await producer.send({ topic: topics.decisions.name, messages: all.slice(i, i + 5000) });
    }
    await producer.disconnect();
    // The same records, stored by the Sink as configured, then (--general) with straightDecode off.
    const rates: number[] = [];
    for (const straightDecode of args.general ? [true, false] : [true]) {
      const store = withDatabase(root, `bench_kafka_${rates.length}`);
      await migrate(store);
      const sink = new Sink({
        kafka,
        codec: realCodec,
        store,
        topics,
        logger,
        groupId: `${topics.decisions.name}-sink-${rates.length}`,
        metrics: createSinkMetrics(),
        maxBatchRows: BATCH,
        straightDecode,
      });
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      await sink.start();
      while (sink.stats.rows < ROWS) await new Promise((r) => setTimeout(r, 50));
      const rate = ROWS / ((performance.now() - t0) / 1000);
      const c = process.cpuUsage(c0);
      await sink.stop();
      await root.client.command({ query: `DROP DATABASE ${store.database} SYNC` });
      log(
        `  Kafka → Sink → chDB (chained, from start incl. group join${straightDecode ? '' : ', general decode path'}) ${Math.round(rate)} rows/s, ${((c.user + c.system) / ROWS).toFixed(1)} CPU µs/row (load ${loadavg()[0]?.toFixed(1)})`,
      );
      rates.push(rate);
    }
    return [rates[0] as number, rates[1]];
  } finally {
    await admin.deleteTopics({ topics: [topics.decisions.name, topics.decisionsDlq.name] }).catch(() => undefined);
    await admin.disconnect();
  }
}

// --- 3. 10M decisions, generated inside ClickHouse ---------------------------------------------------
const q = withDatabase(root, 'bench_q');
await migrate(q);
log(`queries: generating ${QUERY_ROWS} decisions with INSERT … SELECT FROM numbers()`);
let t0 = performance.now();
await q.client.command({ query: generateSql(q.table('decisions'), QUERY_ROWS) });
log(`  generated in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
t0 = performance.now();
await q.client.command({ query: `OPTIMIZE TABLE ${q.table('decisions')} FINAL` });
log(`  OPTIMIZE FINAL in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
const bytesPerDecision = await bytesOf(q);
// The read models — the subject report's (migration 0005) and the search's (0008) — each hold every
// decision once more: on disk per decision too, so they are reported beside the audit trail's own
// figure and in the total.
await q.client.command({ query: `OPTIMIZE TABLE ${q.table('subject_accesses_v2')} FINAL` });
await q.client.command({ query: `OPTIMIZE TABLE ${q.table('accesses_by_time')} FINAL` });
const readModelBytes = await bytesOf(q, 'subject_accesses_v2');
const searchModelBytes = await bytesOf(q, 'accesses_by_time');
// the API's own reads, with the API's limits
const reads = new DecisionReads(q, { timeoutS: 30, maxRows: 1_000_000 });
const OCT = { from: new Date('2026-10-01T00:00:00Z'), to: new Date('2026-11-01T00:00:00Z') };
const subjects = await queryRows<{ tenant_id: string; subject_id: string }>(
  q,
  `SELECT tenant_id, subject_id FROM ${q.table('decisions')} WHERE occurred_at >= '2026-10-01' AND occurred_at < '2026-11-01'
   ORDER BY cityHash64(event_id) LIMIT ${QUERIES}`,
);
const actors = await queryRows<{ tenant_id: string; actor_id: string; day: string }>(
  q,
  `SELECT tenant_id, actor_id, toString(toDate(occurred_at)) AS day FROM ${q.table('decisions')}
   WHERE occurred_at >= '2026-10-01' AND occurred_at < '2026-11-01' ORDER BY cityHash64(event_id, 1) LIMIT ${QUERIES}`,
);
const timed = async (f: () => Promise<unknown>) => {
  const s = performance.now();
  await f();
  return performance.now() - s;
};
const subjP50: number[] = [];
const subjP95: number[] = [];
const actP50: number[] = [];
const actP95: number[] = [];
const monthly: number[] = [];
let subjRows = 0;
let actRows = 0;
for (let rep = 0; rep < REPS; rep++) {
  const s: number[] = [];
  for (const x of subjects) {
    s.push(
      await timed(async () => {
        subjRows += (await subjectAccessRows(reads, { tenantId: x.tenant_id, subjectId: x.subject_id, range: OCT, limit: 4001 }))
          .length;
      }),
    );
  }
  const a: number[] = [];
  for (const x of actors) {
    const from = new Date(`${x.day}T00:00:00Z`);
    a.push(
      await timed(async () => {
        const day = new Where().range(from, new Date(from.getTime() + 86_400_000));
        actRows += (await newestAccesses(reads, selectAccesses(day, { actorId: x.actor_id }), [x.tenant_id], 101)).length;
      }),
    );
  }
  subjP50.push(pct(s, 50));
  subjP95.push(pct(s, 95));
  actP50.push(pct(a, 50));
  actP95.push(pct(a, 95));
  const denied = new Where().range(OCT.from, OCT.to).add(`outcome = 'deny'`);
  monthly.push(await timed(() => Promise.all([codeCountRows(reads, denied), actorCountRows(reads, denied)])));
  log(
    `  round ${rep + 1}: subject p50 ${pct(s, 50).toFixed(1)} p95 ${pct(s, 95).toFixed(1)} ms; actor p50 ${pct(a, 50).toFixed(1)} p95 ${pct(a, 95).toFixed(1)} ms; monthly ${monthly.at(-1)?.toFixed(0)} ms`,
  );
}

// --- results -----------------------------------------------------------------------------------------
const r = (x: number, d = 0) => Math.round(x * 10 ** d) / 10 ** d;
// The peer is the better of the client's two ways to insert these rows (objects or value arrays).
const bareObjects = median(results.bare);
const bareCompact = median(results.bareCompact);
const bare = Math.max(bareObjects, bareCompact);
const plain = median(results.plain);
const chained = median(results.chained);
const raw = median(results.raw);
const figures = [
  {
    name: 'sink.rows_per_s',
    value: r(plain),
    unit: 'rows/s',
    peer: { name: 'clickhouse.bare_insert_rows_per_s', value: r(bare) },
    ratio: r(plain / bare, 3),
  },
  {
    name: 'sink.chained_rows_per_s',
    value: r(chained),
    unit: 'rows/s',
    peer: { name: 'sink.rows_per_s', value: r(plain) },
    ratio: r(chained / plain, 3),
  },
  {
    name: 'clickhouse.raw_insert_rows_per_s',
    value: r(raw),
    unit: 'rows/s',
    peer: { name: 'clickhouse.bare_insert_rows_per_s', value: r(bare) },
    ratio: r(raw / bare, 3),
  },
  { name: 'sink.chained_vs_raw_insert', value: r(chained / raw, 3), unit: 'ratio' },
  { name: 'clickhouse.bare_insert_json_each_row_rows_per_s', value: r(bareObjects), unit: 'rows/s' },
  // CPU time of the whole process (JS thread + chDB's threads) per row stored: 2 cores / this = the
  // rate an otherwise idle 2-core machine could reach.
  { name: 'sink.cpu_us_per_row', value: r(median(cpuPerRow.plain), 2), unit: 'µs' },
  { name: 'sink.chained_cpu_us_per_row', value: r(median(cpuPerRow.chained), 2), unit: 'µs' },
  { name: 'clickhouse.raw_insert_cpu_us_per_row', value: r(median(cpuPerRow.raw), 2), unit: 'µs' },
  { name: 'clickhouse.bare_insert_cpu_us_per_row', value: r(median(cpuPerRow.bareCompact), 2), unit: 'µs' },
  // The JS thread's share of the CPU figures above (the rest is chDB's threads).
  { name: 'sink.js_thread_cpu_us_per_row', value: r(median(jsCpuPerRow.plain), 2), unit: 'µs' },
  // The same CPU figures once the merges each run started were done (comparable across variants).
  { name: 'sink.settled_cpu_us_per_row', value: r(median(settledCpuPerRow.plain), 2), unit: 'µs' },
  { name: 'sink.chained_settled_cpu_us_per_row', value: r(median(settledCpuPerRow.chained), 2), unit: 'µs' },
  { name: 'clickhouse.raw_insert_settled_cpu_us_per_row', value: r(median(settledCpuPerRow.raw), 2), unit: 'µs' },
  { name: 'clickhouse.bare_insert_settled_cpu_us_per_row', value: r(median(settledCpuPerRow.bareCompact), 2), unit: 'µs' },
  { name: 'sink.chained_js_thread_cpu_us_per_row', value: r(median(jsCpuPerRow.chained), 2), unit: 'µs' },
  { name: 'clickhouse.raw_insert_js_thread_cpu_us_per_row', value: r(median(jsCpuPerRow.raw), 2), unit: 'µs' },
  { name: 'clickhouse.bare_insert_js_thread_cpu_us_per_row', value: r(median(jsCpuPerRow.bareCompact), 2), unit: 'µs' },
  { name: 'clickhouse.bare_insert_json_compact_each_row_rows_per_s', value: r(bareCompact), unit: 'rows/s' },
  ...(kafkaRate ? [{ name: 'sink.kafka_rows_per_s', value: r(kafkaRate), unit: 'rows/s' }] : []),
  ...(kafkaGeneralRate ? [{ name: 'sink.kafka_general_decode_rows_per_s', value: r(kafkaGeneralRate), unit: 'rows/s' }] : []),
  { name: 'verify.rows_per_s', value: r(verifyRate), unit: 'rows/s' },
  { name: 'store.bytes_per_decision', value: r(bytesPerDecision, 1), unit: 'bytes' },
  { name: 'store.read_model_bytes_per_decision', value: r(readModelBytes, 1), unit: 'bytes' },
  { name: 'store.search_read_model_bytes_per_decision', value: r(searchModelBytes, 1), unit: 'bytes' },
  { name: 'store.total_bytes_per_decision', value: r(bytesPerDecision + readModelBytes + searchModelBytes, 1), unit: 'bytes' },
  { name: 'store.bytes_per_decision_sink_written', value: r(sinkBytes, 1), unit: 'bytes' },
  { name: 'query.subject_month_p50_ms', value: r(median(subjP50), 1), unit: 'ms' },
  { name: 'query.subject_month_p95_ms', value: r(median(subjP95), 1), unit: 'ms' },
  { name: 'query.actor_day_p50_ms', value: r(median(actP50), 1), unit: 'ms' },
  { name: 'query.actor_day_p95_ms', value: r(median(actP95), 1), unit: 'ms' },
  { name: 'query.monthly_violations_ms', value: r(median(monthly), 1), unit: 'ms' },
];
const out = {
  suite: 'store',
  when: new Date().toISOString(),
  machine: {
    cpus: availableParallelism(),
    node: process.version,
    loadDuringWrites: { min: r(Math.min(...loads), 1), median: r(median(loads), 1), max: r(Math.max(...loads), 1) },
  },
  reps: REPS,
  rows: ROWS,
  batch: BATCH,
  queryRows: QUERY_ROWS,
  queriesPerRound: QUERIES,
  figures,
};
mkdirSync(join(here, 'results'), { recursive: true });
writeFileSync(join(here, 'results', 'store.json'), `${JSON.stringify(out, null, 2)}\n`);

const targets: Record<string, [string, number]> = {
  'sink.rows_per_s': ['≥', 100_000],
  'sink.chained_rows_per_s': ['≥', 100_000],
  'verify.rows_per_s': ['≥', 100_000],
  'store.bytes_per_decision': ['≤', 150],
  'store.total_bytes_per_decision': ['≤', 150],
  'query.subject_month_p95_ms': ['≤', 50],
  'query.actor_day_p95_ms': ['≤', 50],
  'query.monthly_violations_ms': ['≤', 1000],
};
// chained with witnessing's Merkle leaves (hashed in prepare) against the unchained path
const ratioTargets: Record<string, number> = { 'sink.rows_per_s': 0.8, 'sink.chained_rows_per_s': 0.95 };
console.log(
  `\nstore benchmark — ${out.machine.cpus} CPUs, Node ${out.machine.node}; write figures: medians of ${REPS} reps of ${ROWS} rows;`,
);
console.log(`queries: ${QUERY_ROWS} rows, medians over ${REPS} rounds of ${QUERIES} queries (p50/p95 within a round)\n`);
for (const f of figures) {
  const t = targets[f.name];
  const met = t ? (t[0] === '≥' ? f.value >= t[1] : f.value <= t[1]) : undefined;
  const rt = ratioTargets[f.name];
  const peer =
    'peer' in f && f.peer
      ? `  vs ${f.peer.name} ${f.peer.value} → ratio ${f.ratio}${rt ? ` (target ≥ ${rt}: ${(f.ratio ?? 0) >= rt ? 'met' : 'NOT met'})` : ''}`
      : '';
  console.log(
    `${f.name.padEnd(40)} ${String(f.value).padStart(10)} ${f.unit.padEnd(7)}${t ? ` (target ${t[0]} ${t[1]}: ${met ? 'met' : 'NOT met'})` : ''}${peer}`,
  );
}
console.log(`\n(subject queries returned ${subjRows} rows, actor queries ${actRows}; written to bench/results/store.json)`);
await root.close();
rmSync(chdbPath, { recursive: true, force: true });

/** N decisions with the distributions of sampleDecisions(), generated inside ClickHouse. */
function generateSql(table: string, n: number): string {
  const h = (k: number) => `leftPad(lower(hex(cityHash64(number, ${k}))), 16, '0')`;
  return `
INSERT INTO ${table} (${INSERT_COLUMNS.join(', ')})
SELECT
  if(actor % 20 = 0, 'spera', concat('client-', toString(actor % 20))),
  toUUID(concat(substring(th, 1, 8), '-', substring(th, 9, 4), '-7', substring(r1, 1, 3), '-8', substring(r1, 4, 3), '-', substring(r1, 7, 10), substring(r2, 1, 2))),
  occ,
  occ + toIntervalMillisecond(5 + h3 % 200),
  multiIf(x < 0.03, 'deny', x < 0.04, 'flag', 'allow'),
  multiIf(x < 0.03, [code], x < 0.04, ['BULK_ACCESS'], []),
  multiIf(x < 0.03, [concat('s-', toString(actor), ' holds no role granting read on ', cat, ' for ', purpose, ' on ', toString(toDate(occ)))],
          x < 0.04, [concat('s-', toString(actor), ' touched more than 200 distinct subjects within 600 s')], []),
  if(x < 0.03, [], [concat('G-', upper(substring(purpose, 1, 3)), '-', toString(actor % 7))]),
  '2026-11-01.3',
  concat('s-', toString(actor)),
  'staff',
  concat('cust-', toString(h4 % 500000)),
  'customer',
  [cat],
  [[], ['email'], ['email', 'phone'], ['address']][1 + h5 % 4],
  if(h5 % 10 = 0, 'update', 'read'),
  purpose,
  '', '', '', NULL, 1,
  ['crm', 'billing-api', 'support-desk', 'analytics-etl'][1 + actor % 4],
  concat('req-', r2),
  if(h3 % 10 < 3, concat(r3, r4), ''),
  concat('10.', toString(actor % 16), '.', toString(h4 % 4), '.', toString(actor % 250)),
  map(),
  number % ${CHAINS},
  intDiv(number, ${CHAINS}) * 2,
  intDiv(number, ${CHAINS}) + 1,
  lower(hex(SHA256(toString(number))))
FROM (
  SELECT number,
    toDateTime64('2026-09-01 00:00:00', 3, 'UTC') + toIntervalMillisecond(intDiv(number * 7948800000, ${n}) + cityHash64(number, 0) % 60000) AS occ,
    toUInt32(floor((cityHash64(number, 1) % 1000000) / 1000000 * (cityHash64(number, 2) % 1000000) / 1000000 * 5000)) AS actor,
    (cityHash64(number, 3) % 1000000) / 1000000 AS x,
    cityHash64(number, 4) AS h3, cityHash64(number, 5) AS h4, cityHash64(number, 6) AS h5,
    leftPad(lower(hex(toUnixTimestamp64Milli(occ))), 12, '0') AS th,
    ${h(7)} AS r1, ${h(8)} AS r2, ${h(9)} AS r3, ${h(10)} AS r4,
    ['personal.contact', 'personal.identity', 'client.financial', 'client.transaction', 'usage.activity'][1 + cityHash64(number, 11) % 5] AS cat,
    ['service.support', 'service.accounts', 'service.transactions', 'security', 'improvement.analytics'][1 + actor % 5] AS purpose,
    ['ROLE_NOT_AUTHORIZED', 'PURPOSE_NOT_PERMITTED', 'TENANT_NOT_ASSIGNED', 'UNKNOWN_ACTOR', 'NO_AGREEMENT', 'RETENTION_EXPIRED', 'PROMOTIONAL_OPT_OUT'][1 + cityHash64(number, 12) % 7] AS code
  FROM numbers(${n})
)`;
}
