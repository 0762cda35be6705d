/**
 * Kafka-cluster and scale-out faults for `pnpm load` (bench/load.ts):
 *
 *   --kafka own|own3            the run's own Kafka, one broker or three (replication factor 3,
 *                               min.insync.replicas 2), instead of the shared one; the schema
 *                               registry stays where it is (its storage is on the shared Kafka)
 * S counts from the producer's first recorded event.
 *   --fault restart-broker@S    stop broker 0 (SIGTERM) and start it again (with one broker: an outage)
 *   --fault kill-leader@S       SIGKILL the broker leading partition 0 of the access events (three
 *                               brokers), start it again --leader-down seconds later (default 15)
 *   --enforcers 2               a second enforcer process in the same consumer group from the start
 *   --fault add-enforcer@S      the second enforcer joins during the load
 *   --fault remove-enforcer@S   the second enforcer leaves gracefully (SIGTERM) during the load
 *
 * Besides the exact reconciliation, a run with any of these checks the bulk-access windows across
 * the hand-overs: the access-events topic is read back and judged afresh, partition by partition in
 * offset order with one judge and no hand-over (what the enforcer decides when nothing moves), and
 * each actor's count of BULK_ACCESS decisions must equal the stored one.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Admin, AvroCodec, type Kafka } from '../packages/kafka/src/index.js';
import type { Store } from '../packages/store/src/index.js';
import { accessEventAvro, type Topics } from '../schemas/src/index.js';
import { AccessEventDecoder } from '../services/enforcer/src/decode.js';
import { createPolicyJudge } from '../services/enforcer/src/judge.js';
import { type KafkaInstance, kafkaInstance } from '../test/support/kafka-instance.js';

export type ClusterFaultKind = 'restart-broker' | 'kill-leader' | 'add-enforcer' | 'remove-enforcer';
export interface ClusterFault {
  kind: ClusterFaultKind;
  atS: number;
}
export interface ClusterFaultRecord {
  kind: ClusterFaultKind;
  atS: number;
  /** broker index (brokers) */
  broker?: number;
  /** kill-leader: seconds from the kill until partition 0 had another leader */
  electionS?: number;
  /** seconds the broker (or the enforcer's start / stop) took */
  downS: number;
  /** partitions the killed broker led when it was killed */
  ledPartitions?: string[];
}

const FAULT = /^(restart-broker|kill-leader|add-enforcer|remove-enforcer)@(\d+(?:\.\d+)?)$/;

/** Splits a --fault list into this file's faults and the rest (left to bench/load.ts). */
export function isClusterFault(spec: string): boolean {
  return FAULT.test(spec.trim());
}

export interface ClusterOptions {
  kafka: 'shared' | 'own' | 'own3';
  enforcers: 1 | 2;
  leaderDownS: number;
  faults: ClusterFault[];
}

/** The cluster options of a run, or an error message for the command line. */
export function parseClusterOptions(a: {
  kafka?: string | undefined;
  enforcers?: string | undefined;
  'leader-down'?: string | undefined;
  fault?: string | undefined;
}): ClusterOptions | string {
  const faults: ClusterFault[] = (a.fault ?? '')
    .split(',')
    .map((f) => FAULT.exec(f.trim()))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ kind: m[1] as ClusterFaultKind, atS: Number(m[2]) }));
  const kafka = a.kafka ?? 'shared';
  if (kafka !== 'shared' && kafka !== 'own' && kafka !== 'own3') return `--kafka takes shared, own or own3, got '${kafka}'`;
  const enforcers = Number(a.enforcers ?? '1');
  if (enforcers !== 1 && enforcers !== 2) return `--enforcers takes 1 or 2, got '${a.enforcers}'`;
  const leaderDownS = Number(a['leader-down'] ?? '15');
  if (!Number.isFinite(leaderDownS) || leaderDownS < 0)
    return `--leader-down must be a number of seconds, got '${a['leader-down']}'`;
  if (faults.some((f) => f.kind === 'restart-broker') && kafka === 'shared')
    return '--fault restart-broker needs --kafka own or own3 (the shared broker is never touched)';
  if (faults.some((f) => f.kind === 'kill-leader') && kafka !== 'own3') return '--fault kill-leader needs --kafka own3';
  // The second enforcer's life: at most one join and one leave, in that order.
  const adds = faults.filter((f) => f.kind === 'add-enforcer');
  const removes = faults.filter((f) => f.kind === 'remove-enforcer');
  if (adds.length > 1 || removes.length > 1) return 'add-enforcer and remove-enforcer each at most once';
  if (adds.length === 1 && enforcers === 2) return 'add-enforcer with --enforcers 2: the second one is already there';
  if (removes.length === 1 && enforcers === 1 && (adds.length === 0 || adds[0]!.atS >= removes[0]!.atS))
    return 'remove-enforcer needs a second enforcer (--enforcers 2, or an earlier add-enforcer)';
  return { kafka, enforcers: enforcers as 1 | 2, leaderDownS, faults };
}

/**
 * With a broker fault the producer's close() waits for the broker to be back and delivers what the
 * SDK spooled meanwhile (up to 110 s, within the 120 s load.ts waits for the producer), instead of
 * leaving it in the spool after the SDK's 10 s: the run then accounts for every recorded event.
 */
export function producerCloseArgs(o: ClusterOptions, drainS: number): string[] {
  return o.faults.some((f) => f.kind === 'restart-broker' || f.kind === 'kill-leader')
    ? [`--close-timeout=${Math.min(drainS, 110)}`]
    : [];
}

/** The run's own Kafka when asked for (started, waiting until its coordinators answer). */
export async function startOwnKafka(o: ClusterOptions): Promise<KafkaInstance | undefined> {
  if (o.kafka === 'shared') return undefined;
  const k = await kafkaInstance('load', { brokers: o.kafka === 'own3' ? 3 : 1 });
  const t0 = Date.now();
  console.log(`load: starting the run's own Kafka (${o.kafka === 'own3' ? 3 : 1} broker(s)) ...`);
  // However the run ends (a failed check exits at once), its brokers do not outlive it.
  let gone = false;
  const destroy = k.destroy.bind(k);
  k.destroy = async () => {
    gone = true;
    await destroy();
  };
  process.once('exit', () => {
    if (!gone) k.destroySync();
  });
  await k.start();
  console.log(`load: own Kafka up on ${k.brokers.join(',')} (${((Date.now() - t0) / 1000).toFixed(0)} s)`);
  return k;
}

/** Leader node id of every partition of these topics, as `topic-partition` → node id. */
async function leaders(admin: Admin, topics: string[]): Promise<Map<string, number>> {
  const md = await admin.fetchTopicMetadata({ topics });
  const out = new Map<string, number>();
  for (const t of md.topics) for (const p of t.partitions) out.set(`${t.name}-${p.partitionId}`, p.leader);
  return out;
}

async function until(ok: () => Promise<boolean>, timeoutMs: number, everyMs = 200): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      if (await ok()) return true;
    } catch {
      // metadata while a broker is gone: ask again
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  return false;
}

export interface ClusterFaultContext {
  options: ClusterOptions;
  kafka: KafkaInstance | undefined;
  admin: Admin;
  topics: Topics;
  /** true once the producer records (its start takes a while on a busy machine; S counts from then) */
  producing(): boolean;
  startEnforcer2(): Promise<void>;
  /** SIGTERM, and wait for the exit */
  stopEnforcer2(): Promise<void>;
}

/** Runs one fault at its time; resolves with what happened. */
export async function scheduleClusterFault(f: ClusterFault, ctx: ClusterFaultContext): Promise<ClusterFaultRecord> {
  while (!ctx.producing()) await new Promise((r) => setTimeout(r, 100));
  await new Promise((r) => setTimeout(r, f.atS * 1000));
  return runClusterFault(f, ctx);
}

/** The second enforcer's start, when a fault started it: its leave waits for it to be judging. */
let enforcer2Joined: Promise<void> | undefined;

async function runClusterFault(f: ClusterFault, ctx: ClusterFaultContext): Promise<ClusterFaultRecord> {
  const t0 = Date.now();
  const secs = () => (Date.now() - t0) / 1000;
  switch (f.kind) {
    case 'add-enforcer':
      enforcer2Joined = ctx.startEnforcer2();
      await enforcer2Joined;
      return { kind: f.kind, atS: f.atS, downS: secs() };
    case 'remove-enforcer': {
      await enforcer2Joined;
      const t1 = Date.now();
      await ctx.stopEnforcer2();
      return { kind: f.kind, atS: f.atS, downS: (Date.now() - t1) / 1000 };
    }
    case 'restart-broker': {
      const k = ctx.kafka!;
      await k.stopBroker(0);
      await k.startBroker(0);
      return { kind: f.kind, atS: f.atS, broker: 0, downS: secs() };
    }
    case 'kill-leader': {
      const k = ctx.kafka!;
      const watched = [ctx.topics.accessEvents.name, ctx.topics.decisions.name];
      const before = await leaders(ctx.admin, watched);
      const id = before.get(`${ctx.topics.accessEvents.name}-0`);
      if (id === undefined) throw new Error('no leader known for partition 0 of the access events');
      const led = [...before].filter(([, l]) => l === id).map(([p]) => p);
      const killedAt = Date.now();
      await k.killBroker(id - 1);
      let electionS: number | undefined;
      const elected = await until(async () => {
        const now = await leaders(ctx.admin, [ctx.topics.accessEvents.name]);
        const l = now.get(`${ctx.topics.accessEvents.name}-0`);
        return l !== undefined && l >= 0 && l !== id;
      }, 120_000);
      if (elected) electionS = (Date.now() - killedAt) / 1000;
      const wait = ctx.options.leaderDownS * 1000 - (Date.now() - killedAt);
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      await k.startBroker(id - 1);
      const record: ClusterFaultRecord = { kind: f.kind, atS: f.atS, broker: id - 1, downS: secs(), ledPartitions: led };
      if (electionS !== undefined) record.electionS = electionS;
      return record;
    }
  }
}

export function describeClusterFault(r: ClusterFaultRecord): string {
  switch (r.kind) {
    case 'add-enforcer':
      return `fault: a second enforcer joined at ${r.atS} s (judging ${r.downS.toFixed(1)} s later)`;
    case 'remove-enforcer':
      return `fault: the second enforcer left gracefully at ${r.atS} s (gone ${r.downS.toFixed(1)} s later)`;
    case 'restart-broker':
      return `fault: broker ${r.broker} stopped at ${r.atS} s and registered again ${r.downS.toFixed(1)} s later`;
    case 'kill-leader':
      return `fault: broker ${r.broker} (leading ${r.ledPartitions?.length ?? 0} partitions of the access events and decisions) killed at ${r.atS} s; partition 0 had a new leader ${r.electionS === undefined ? 'never' : `${r.electionS.toFixed(1)} s`} later; the broker was back ${r.downS.toFixed(1)} s after the kill`;
  }
}

/** Figures of the faults: how long each took, and the election. */
export function clusterFigures(log: ClusterFaultRecord[]): Record<string, readonly [number, string]> {
  const out: Record<string, readonly [number, string]> = {};
  for (const r of log) {
    out[`load.fault_${r.kind.replace('-', '_')}_s`] = [Number(r.downS.toFixed(1)), 's'];
    if (r.electionS !== undefined) out['load.election_s'] = [Number(r.electionS.toFixed(1)), 's'];
  }
  return out;
}

/**
 * Per actor, how many BULK_ACCESS decisions one judge gives the run's access events, read back in
 * offset order partition by partition with no hand-over (the policy file is the one the pipeline
 * judged with).
 */
export async function expectedBulkByActor(
  kafka: Kafka,
  admin: Admin,
  registryUrl: string,
  topics: Topics,
  policyFile: string,
): Promise<Map<string, number>> {
  const topic = topics.accessEvents.name;
  const ends = await admin.fetchTopicOffsets(topic);
  const want = new Map(ends.map((e) => [e.partition, { low: Number(e.low), high: Number(e.high) }]));
  const values = new Map<number, Buffer[]>();
  for (const p of want.keys()) values.set(p, []);
  const consumer = kafka.consumer({ groupId: `${topic}-bulk-check-${Date.now()}` });
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  const done = () => [...want].every(([p, w]) => (values.get(p)?.length ?? 0) >= w.high - w.low);
  await new Promise<void>((resolve, reject) => {
    if (done()) return resolve();
    const timer = setTimeout(
      () => reject(new Error('bulk check: the access events could not be read back within 300 s')),
      300_000,
    );
    void consumer.run({
      eachBatch: async ({ batch }) => {
        const list = values.get(batch.partition)!;
        for (const m of batch.messages) list.push(m.value ?? Buffer.alloc(0));
        if (done()) {
          clearTimeout(timer);
          resolve();
        }
      },
    });
  });
  await consumer.disconnect();
  const codec = AvroCodec.connect(registryUrl);
  const decoder = new AccessEventDecoder(codec, await codec.register(topics.accessEvents.subject, accessEventAvro));
  const judge = await createPolicyJudge(policyFile);
  const byActor = new Map<string, number>();
  for (const list of values.values()) {
    const window = judge.createBulkWindow();
    for (const value of list) {
      const r = decoder.tryDecode(value) ?? (await decoder.decode(value));
      if (!r.ok) continue;
      const j = judge.judge(r.event, window, r.time);
      if (j.reasons.some((x) => x.code === 'BULK_ACCESS'))
        byActor.set(r.event.actor.id, (byActor.get(r.event.actor.id) ?? 0) + 1);
    }
  }
  return byActor;
}

/** Per actor, the stored BULK_ACCESS decisions of the run. */
export async function storedBulkByActor(store: Store, idPrefix: string): Promise<Map<string, number>> {
  const rows = await store.client.query({
    query: `SELECT actor_id, countIf(has(codes, 'BULK_ACCESS')) AS n
            FROM (SELECT event_id, actor_id, codes FROM ${store.table('decisions')}
                  WHERE source_service = 'load' AND startsWith(toString(event_id), {run:String})
                  LIMIT 1 BY event_id)
            GROUP BY actor_id`,
    query_params: { run: idPrefix },
    format: 'JSONEachRow',
  });
  const out = new Map<string, number>();
  for (const r of (await rows.json()) as { actor_id: string; n: string | number }[])
    if (Number(r.n) > 0) out.set(r.actor_id, Number(r.n));
  return out;
}

/** Actors whose counts differ, as `actor: expected → stored`. */
export function bulkMismatches(expected: Map<string, number>, stored: Map<string, number>): string[] {
  const actors = new Set([...expected.keys(), ...stored.keys()]);
  return [...actors]
    .filter((a) => (expected.get(a) ?? 0) !== (stored.get(a) ?? 0))
    .map((a) => `${a}: ${expected.get(a) ?? 0} → ${stored.get(a) ?? 0}`);
}

/** The policy file the pipeline judges with (POLICY_FILE, else the runtime's default). */
export function pipelinePolicyFile(root: string): string {
  const file = process.env.POLICY_FILE ?? join(root, 'policies', 'example-org.json');
  readFileSync(file); // fails early and clearly when missing
  return file;
}
