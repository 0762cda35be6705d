/**
 * The enforcer's judging path alone, in process, no Kafka: what the judging worker does per batch
 * (`LocalBatchJudge.judgeBatch`: decode, validate, judge with bulk windows, encode the decision) over
 * the enforcer bench's event mix (bench/enforcer-events.ts), Avro-encoded once in Confluent framing
 * and handed over as the worker receives them (views into one buffer, slices of 2048).
 *
 * Prints CPU µs per event (process.cpuUsage, all threads: GC helpers count) as medians of the
 * repetitions, per stage: each stage is measured by running the path up to it and subtracting
 * the shorter path (decode = the Avro body decode alone; validate = tryDecode − decode; judge =
 * tryDecode + judge − tryDecode; encode = judgeBatch and packing its decisions as the worker does − tryDecode + judge, so it
 * also holds the batch's own bookkeeping).
 *
 * Variants (`--variant label=DIR`, repeatable; default: this tree) load services/enforcer/src and,
 * through its node_modules, packages/policy from DIR: e.g. a `git archive HEAD` copy with
 * node_modules linked, to compare before/after interleaved in one process on a noisy machine. The
 * first repetition also checks that every variant writes byte-identical decisions.
 *
 *   pnpm exec tsx bench/judge-path.bench.ts [--events 200000] [--reps 9] [--variant base=scratch/baseline]
 *   [--stages decode,validate,judge,full] [--json FILE]
 */
import { existsSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { AvroCodec } from '../packages/kafka/src/index.js';
import type * as EncoderModule from '../schemas/src/avro/decision-writer.js';
import { accessEventAvro, decisionAvro, toAvro } from '../schemas/src/index.js';
import type * as BatchJudgeModule from '../services/enforcer/src/batch-judge.js';
import type * as DecodeModule from '../services/enforcer/src/decode.js';
import type * as JudgeModule from '../services/enforcer/src/judge.js';
import { packOutput, packValues, unpackValues } from '../services/enforcer/src/judge-pool.js';
import { MIXES, type MixName, mixGenerator, policyFile } from './enforcer-events.js';

const root = resolve(import.meta.dirname, '..');
const { values: args } = parseArgs({
  args: process.argv.slice(2).filter((a) => a !== '--'),
  options: {
    events: { type: 'string', default: '200000' },
    reps: { type: 'string', default: '9' },
    variant: { type: 'string', multiple: true },
    stages: { type: 'string', default: 'decode,validate,judge,full' },
    json: { type: 'string' },
    // the event mix (bench/enforcer-events.ts): 'realistic' (default) or 'flag-heavy'
    mix: { type: 'string', default: 'realistic' },
    // profiling aid: after the warm-up, sample the allocations (collected ones too) of one 'full'
    // pass of the first variant and write them to FILE (a .heapprofile for DevTools)
    'heap-profile': { type: 'string' },
  },
});
const N = Number(args.events);
const REPS = Number(args.reps);
if (!MIXES.includes(args.mix as MixName)) throw new Error(`--mix: one of ${MIXES.join(', ')}, not '${args.mix}'`);
const SLICE = 2048; // the enforcer's judging slice
const STAGES = ['decode', 'validate', 'judge', 'full'] as const;
type Stage = (typeof STAGES)[number];
const stages = args.stages.split(',') as Stage[];
for (const s of stages) if (!STAGES.includes(s)) throw new Error(`--stages: unknown stage ${s}`);

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const load = () =>
  loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');

// ---- the events, encoded once ----------------------------------------------------------------------

// The worker gets its schemas from AvroCodec.register; here a registry stub hands out the ids.
let lastId = 0;
const codec = new AvroCodec({ register: async () => ({ id: ++lastId }) } as unknown as AvroCodec['registry'], 'stub');
const eventSchema = await codec.register('access-events-value', accessEventAvro);
const decisionSchema = await codec.register('decisions-value', decisionAvro);

const next = mixGenerator(args.mix as MixName, 42, N);
const encoded: Buffer[] = [];
let bytes = 0;
for (let i = 0; i < N; i++) {
  const v = eventSchema.encode(toAvro(accessEventAvro, next()));
  bytes += v.length;
  encoded.push(v);
}
// As the worker gets them: one transferred buffer per slice, values as views into it.
const slices: Buffer[][] = [];
for (let i = 0; i < N; i += SLICE) {
  const { buf, lens } = packValues(encoded.slice(i, i + SLICE));
  slices.push(unpackValues(buf, lens) as Buffer[]);
}
const values = slices.flat();
const NOW = Date.now();

// ---- variants ----------------------------------------------------------------------------------------

interface Variant {
  label: string;
  judge: JudgeModule.PolicyJudge;
  decode: typeof DecodeModule;
  batch: typeof BatchJudgeModule;
  encoder: typeof EncoderModule;
}

/** The decision writer of a checkout: in the shared Avro module, or the enforcer's own in older ones. */
function encoderPath(checkout: string): string {
  const shared = join(checkout, 'schemas/src/avro/decision-writer.ts');
  return existsSync(shared) ? shared : join(checkout, 'services/enforcer/src/decision-encoder.ts');
}

async function loadVariant(label: string, dir: string): Promise<Variant> {
  const src = join(resolve(root, dir), 'services/enforcer/src');
  const judgeMod = (await import(join(src, 'judge.ts'))) as typeof JudgeModule;
  return {
    label,
    judge: await judgeMod.createPolicyJudge(policyFile),
    decode: (await import(join(src, 'decode.ts'))) as typeof DecodeModule,
    batch: (await import(join(src, 'batch-judge.ts'))) as typeof BatchJudgeModule,
    encoder: (await import(encoderPath(resolve(root, dir)))) as typeof EncoderModule,
  };
}

const specs = args.variant ?? [`current=${root}`];
const variants: Variant[] = [];
for (const spec of specs) {
  const eq = spec.indexOf('=');
  variants.push(await loadVariant(eq < 0 ? spec : spec.slice(0, eq), eq < 0 ? spec : spec.slice(eq + 1)));
}

const decoderOf = (v: Variant) => new v.decode.AccessEventDecoder(codec, eventSchema);

/** One pass of `stage` over all events. `keep`: return the packed decisions (for the check), not only a count. */
async function pass(v: Variant, stage: Stage, keep = false): Promise<unknown> {
  switch (stage) {
    case 'decode': {
      // the body decode alone: the variant's own when it has one, else avsc's (as tryDecode uses it)
      const read =
        (v.decode as { readAccessEventBody?: (b: Buffer) => unknown }).readAccessEventBody ??
        ((b: Buffer) => eventSchema.type.fromBuffer(b));
      let n = 0;
      for (let i = 0; i < values.length; i++) if (read(values[i]!.subarray(5)) !== undefined) n++;
      return n;
    }
    case 'validate': {
      const decoder = decoderOf(v);
      let n = 0;
      for (let i = 0; i < values.length; i++) if (decoder.tryDecode(values[i]!)?.ok) n++;
      return n;
    }
    case 'judge': {
      const decoder = decoderOf(v);
      const window = v.judge.createBulkWindow();
      let flagged = 0;
      for (let i = 0; i < values.length; i++) {
        const r = decoder.tryDecode(values[i]!);
        if (r?.ok && v.judge.judge(r.event, window, r.time).outcome !== 'allow') flagged++;
      }
      return flagged;
    }
    case 'full': {
      // as the worker: judgeBatch per slice, then its decisions packed into one buffer to transfer
      const local = new v.batch.LocalBatchJudge(v.judge, decoderOf(v), new v.encoder.DecisionEncoder(decisionSchema));
      const packed: Buffer[] = [];
      for (const slice of slices) {
        const o = await local.judgeBatch({ partition: 0, values: slice, replayCount: 0, now: NOW, wantDecisions: false });
        if (o.failures.length > 0) throw new Error(`${v.label}: ${o.failures.length} failures, first ${o.failures[0]!.message}`);
        const { message } = packOutput(0, o);
        // (the packed buffer may go on past its decisions)
        if (keep && message.t === 'result')
          packed.push(
            Buffer.from(
              message.buf,
              0,
              message.lens.reduce((a, b) => a + b, 0),
            ),
          );
      }
      return packed;
    }
  }
}

interface Sample {
  cpu: number;
  thread: number;
  wall: number;
}
const samples = new Map<string, Sample[]>();
const key = (v: Variant, s: Stage) => `${v.label}\u0000${s}`;

async function measure(v: Variant, stage: Stage): Promise<unknown> {
  gc();
  const c0 = process.cpuUsage();
  const t0 = process.threadCpuUsage();
  const w0 = performance.now();
  const made = await pass(v, stage);
  const w1 = performance.now();
  const t1 = process.threadCpuUsage(t0);
  const c1 = process.cpuUsage(c0);
  const list = samples.get(key(v, stage)) ?? [];
  list.push({ cpu: (c1.user + c1.system) / N, thread: (t1.user + t1.system) / N, wall: ((w1 - w0) * 1000) / N });
  samples.set(key(v, stage), list);
  return made;
}

const loadStart = load();
console.log(
  `judge path: ${N} events (${(bytes / N).toFixed(0)} B mean), ${REPS} reps (+1 warm-up), variants ${variants.map((v) => v.label).join(', ')}; load average ${loadStart}`,
);

// Warm-up (and the check: every variant writes the same decisions).
let reference: Buffer[] | undefined;
for (const v of variants) {
  for (const s of stages) await pass(v, s);
  const made = (await pass(v, 'full', true)) as Buffer[];
  if (reference === undefined) reference = made;
  else if (made.length !== reference.length || !made.every((b, i) => b.equals(reference![i]!)))
    throw new Error(`${v.label} writes other decisions than ${variants[0]!.label}`);
}
if (variants.length > 1) console.log('decisions byte-identical across variants');

if (args['heap-profile'] !== undefined) {
  const session = new Session();
  session.connect();
  const post = promisify(session.post.bind(session)) as (method: string, params?: object) => Promise<unknown>;
  await post('HeapProfiler.startSampling', {
    samplingInterval: 1024,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true,
  });
  await pass(variants[0]!, 'full');
  const { profile } = (await post('HeapProfiler.stopSampling')) as { profile: unknown };
  writeFileSync(args['heap-profile'], JSON.stringify(profile));
  session.disconnect();
  console.log(`allocation profile of one 'full' pass (${N} events) in ${args['heap-profile']}`);
}

// Interleaved: per repetition every stage of every variant, the variants' order rotating.
for (let rep = 0; rep < REPS; rep++) {
  for (const s of stages) {
    for (let k = 0; k < variants.length; k++) await measure(variants[(rep + k) % variants.length]!, s);
  }
}
const loadEnd = load();

const med = (v: Variant, s: Stage, f: keyof Sample) => {
  const list = samples.get(key(v, s));
  return list === undefined ? Number.NaN : median(list.map((x) => x[f]));
};
const fmt = (x: number) => (Number.isNaN(x) ? '   –' : x.toFixed(3).padStart(6));
const result: Record<string, unknown> = { events: N, reps: REPS, load_start: loadStart, load_end: loadEnd, variants: {} };
console.log('\nmedian µs/event (process CPU; thread CPU; wall) of the path up to each stage');
console.log(`${'variant'.padEnd(12)} ${'stage'.padEnd(9)} ${'cpu'.padStart(6)} ${'thread'.padStart(6)} ${'wall'.padStart(6)}`);
for (const v of variants) {
  for (const s of stages) {
    console.log(
      `${v.label.padEnd(12)} ${s.padEnd(9)} ${fmt(med(v, s, 'cpu'))} ${fmt(med(v, s, 'thread'))} ${fmt(med(v, s, 'wall'))}`,
    );
  }
}
console.log('\nper stage, CPU µs/event (differences of the medians above)');
console.log(`${'variant'.padEnd(12)} ${['decode', 'validate', 'judge', 'encode', 'total'].map((x) => x.padStart(8)).join(' ')}`);
for (const v of variants) {
  const [d, dv, dvj, full] = STAGES.map((s) => med(v, s, 'cpu')) as [number, number, number, number];
  const row = { decode: d, validate: dv - d, judge: dvj - dv, encode: full - dvj, total: full };
  (result.variants as Record<string, unknown>)[v.label] = {
    ...row,
    full_range: samples
      .get(key(v, 'full'))
      ?.map((x) => x.cpu)
      .sort((a, b) => a - b),
  };
  console.log(
    `${v.label.padEnd(12)} ${Object.values(row)
      .map((x) => fmt(x).padStart(8))
      .join(' ')}`,
  );
}
console.log(`\nload average at start ${loadStart}, at end ${loadEnd}`);
if (args.json !== undefined) writeFileSync(args.json, `${JSON.stringify(result, null, 2)}\n`);
