/**
 * Partition ownership and fencing: which input partitions this instance holds, the transactional
 * producer of each, and what it knows of each (its PartitionState).
 *
 * Transactional ids are per input partition (`<prefix>-<topic>-<partition>`), not per instance:
 * whoever takes a partition over initialises that id first, which fences the previous owner's
 * producer and completes (aborts) any transaction it left open. This is the pre-KIP-447 way to
 * fence zombies, which kafkajs (no KIP-447) needs; see docs/enforcer-notes.md.
 *
 * Bulk-access windows survive restarts and rebalances: the committed offset carries a lookback
 * offset in its metadata, and a new owner re-reads the partition from there to the committed
 * offset, observing without emitting (bulk-state.ts).
 */
import type { Admin, Consumer, Kafka, Producer } from '@custos/kafka';
import type { Logger } from 'pino';
import { decodeMeta, PartitionState } from './bulk-state.js';
import type { Judge } from './judge.js';
import type { EnforcerMetrics } from './metrics.js';

export interface OwnershipOptions {
  kafka: Kafka;
  logger: Logger;
  metrics: EnforcerMetrics;
  judge: Judge;
  topic: string;
  groupId: string;
  transactionalIdPrefix: string;
  sessionTimeoutMs: number;
  transactionTimeoutMs: number;
  /** forgets a partition's judging state (its bulk windows on the judging thread) */
  dropJudging(partition: number): void;
  /** true once the enforcer is stopping */
  stopping(): boolean;
}

export class PartitionOwnership {
  consumer?: Consumer;
  admin?: Admin;
  /** last window size reported per partition */
  readonly windowStats = new Map<number, { actors: number; entries: number }>();
  private readonly parts = new Map<number, PartitionState>();
  private readonly producers = new Map<number, { producer: Producer; ready: Promise<void> }>();
  private readonly inflight = new Map<number, Promise<unknown>>();
  /** partitions whose producer was fenced: paused until the next group join */
  private readonly fenced = new Set<number>();
  private memberId?: string;

  constructor(private readonly opts: OwnershipOptions) {}

  get size(): number {
    return this.parts.size;
  }

  transactionalIdFor(partition: number): string {
    return `${this.opts.transactionalIdPrefix}-${this.opts.topic}-${partition}`;
  }

  isFenced(partition: number): boolean {
    return this.fenced.has(partition);
  }

  pause(partition?: number): void {
    this.consumer?.pause([{ topic: this.opts.topic, ...(partition !== undefined ? { partitions: [partition] } : {}) }]);
  }

  /** Runs a batch's work, remembered so that a retiring producer waits for it. */
  async track(partition: number, work: Promise<void>): Promise<void> {
    const settled = work.catch(() => undefined);
    this.inflight.set(partition, settled);
    try {
      await work;
    } finally {
      if (this.inflight.get(partition) === settled) this.inflight.delete(partition);
    }
  }

  /** A new generation: forget what may have changed hands since the last one. */
  onJoin(memberId: string, assignment: Record<string, number[]>): void {
    const mine = new Set(assignment[this.opts.topic] ?? []);
    // Another member id means this instance was out of the group for a while: anyone may have
    // owned its partitions meanwhile, so nothing it remembers about them can be trusted.
    const continuous = memberId === this.memberId;
    this.memberId = memberId;
    for (const p of [...this.parts.keys()]) if (!continuous || !mine.has(p)) this.drop(p);
    for (const p of [...this.producers.keys()]) if (!continuous || !mine.has(p)) this.retireProducer(p);
    const resume = [...this.fenced].filter((p) => mine.has(p));
    this.fenced.clear();
    if (resume.length > 0) this.consumer?.resume([{ topic: this.opts.topic, partitions: resume }]);
    this.opts.metrics.assignedPartitions.set(mine.size);
    this.opts.metrics.lag.reset();
    this.opts.logger.info({ memberId, partitions: [...mine].sort((a, b) => a - b) }, 'partitions assigned');
  }

  producerFor(partition: number): Promise<Producer> {
    let entry = this.producers.get(partition);
    if (entry === undefined) {
      const producer = this.opts.kafka.producer({
        transactionalId: this.transactionalIdFor(partition),
        idempotent: true,
        maxInFlightRequests: 1,
        transactionTimeout: this.opts.transactionTimeoutMs,
      });
      // Initialising the transactional id (InitProducerId) fences the previous owner's producer
      // and completes its open transaction, if any. kafkajs does that only when the first
      // transaction begins (connect() takes a non-transactional producer id), so begin and drop an
      // empty one now (no request is sent for it): takeOver reads offsets after the fence.
      const ready = (async () => {
        await producer.connect();
        const t = await producer.transaction();
        await t.abort();
      })();
      entry = { producer, ready };
      this.producers.set(partition, entry);
      ready.catch(() => {
        if (this.producers.get(partition) === entry) this.producers.delete(partition);
      });
    }
    const { producer, ready } = entry;
    return ready.then(() => producer);
  }

  /** true while `producer` is still the partition's producer (not retired or replaced meanwhile). */
  isCurrent(partition: number, producer: Producer): boolean {
    return this.producers.get(partition)?.producer === producer;
  }

  /** Disconnects a partition's producer once the batch it may be committing has settled. */
  retireProducer(partition: number): void {
    const entry = this.producers.get(partition);
    if (entry === undefined) return;
    this.producers.delete(partition);
    const pending = this.inflight.get(partition) ?? Promise.resolve();
    void pending
      .then(() => entry.ready)
      .then(() => entry.producer.disconnect())
      .catch((err: unknown) => this.opts.logger.debug({ err, partition }, 'retiring a partition producer failed'));
  }

  /** Disconnects every producer (stopping). */
  closeProducers(): Promise<unknown> {
    const producers = [...this.producers.values()];
    this.producers.clear();
    return Promise.allSettled(producers.map((e) => e.ready.then(() => e.producer.disconnect())));
  }

  /** The partition's state when this instance knows it, else a takeover (undefined: the consumer seeked). */
  async stateFor(partition: number, fetched: bigint): Promise<PartitionState | undefined> {
    const ps = this.parts.get(partition);
    // Later than expected: kafkajs skipped records it filtered out (commit markers, aborted
    // records) without handing them to us. Within one membership nobody else can have committed.
    if (ps !== undefined && fetched >= ps.expectFetch) {
      ps.expectFetch = fetched;
      return ps;
    }
    this.drop(partition);
    return this.takeOver(partition, fetched);
  }

  /** true while `ps` is what this instance knows of the partition. */
  holds(partition: number, ps: PartitionState): boolean {
    return this.parts.get(partition) === ps;
  }

  /** Drops what this instance knows of a partition: its next batch takes it over afresh. */
  forget(partition: number, ps: PartitionState): void {
    if (this.parts.get(partition) === ps) this.drop(partition);
  }

  onFenced(partition: number, err: unknown): void {
    this.opts.metrics.fenced.inc();
    this.fenced.add(partition);
    this.retireProducer(partition);
    this.pause(partition);
    this.opts.logger.warn(
      { err, partition },
      'producer fenced: another instance owns this partition now; paused until the next rebalance',
    );
    // A zombie is out of the group within a session timeout and rejoins (then onJoin resumes).
    // Still paused well after that, with no rebalance, this instance is the owner and the fence
    // came from outside the group (e.g. a misconfigured transactional id): take the partition back.
    const timer = setTimeout(() => {
      if (!this.fenced.delete(partition) || this.opts.stopping()) return;
      this.opts.logger.warn({ partition }, 'no rebalance after a fence: taking the partition back');
      this.consumer?.resume([{ topic: this.opts.topic, partitions: [partition] }]);
    }, 2 * this.opts.sessionTimeoutMs);
    timer.unref();
  }

  private drop(partition: number): void {
    this.parts.delete(partition);
    this.windowStats.delete(partition);
    this.opts.dropJudging(partition);
  }

  private async committed(partition: number): Promise<{ offset: bigint; metadata: string | null }> {
    const admin = this.admin as Admin;
    // Stable: not before the partition's last transaction is complete. Its commit returns once the
    // coordinator has decided, before the offsets are written (the markers come after; a broker
    // restart can hold them for its whole outage); read meanwhile, the offset from before that
    // transaction would have its records judged (and dead-lettered) a second time.
    const [topic] = await admin.fetchOffsets({ groupId: this.opts.groupId, topics: [this.opts.topic], requireStable: true });
    const p = topic?.partitions.find((x) => x.partition === partition);
    return { offset: p ? BigInt(p.offset) : -1n, metadata: p?.metadata ?? null };
  }

  /** For a group committed without lookback metadata: the first record produced within window + lateness. */
  private async lookbackByTime(partition: number, window: { windowMs: number; latenessMs: number }): Promise<bigint | undefined> {
    const admin = this.admin as Admin;
    const since = Date.now() - window.windowMs - window.latenessMs;
    const offsets = await admin.fetchTopicOffsetsByTimestamp(this.opts.topic, since);
    const o = offsets.find((x) => x.partition === partition);
    return o && BigInt(o.offset) >= 0n ? BigInt(o.offset) : undefined;
  }

  /**
   * First batch of a partition this instance does not know (new assignment, restart, or after a
   * failed transaction): fence the previous owner, read where it stopped, and either go on or
   * seek back to the lookback offset to rebuild the windows first. undefined = seeked; the batch
   * in hand is dropped.
   */
  private async takeOver(partition: number, fetched: bigint): Promise<PartitionState | undefined> {
    await this.producerFor(partition);
    // Read after fencing (another owner's open transaction is finished by now) and stable (this
    // instance's own last commit may still be writing its offsets).
    const c = await this.committed(partition);
    const resumeAt = c.offset >= 0n ? c.offset : fetched;
    this.opts.dropJudging(partition);
    const window = this.opts.judge.createBulkWindow();
    let lookback = resumeAt;
    let source = 'none';
    if (c.offset >= 0n) {
      const fromMeta = decodeMeta(c.metadata);
      const found = fromMeta ?? (await this.lookbackByTime(partition, window));
      source = fromMeta !== undefined ? 'metadata' : 'timestamp';
      if (found !== undefined && found < resumeAt) lookback = found;
    }
    const ps = new PartitionState(partition, window.windowMs + window.latenessMs, resumeAt, lookback);
    this.parts.set(partition, ps);
    this.opts.metrics.bulkRestores.inc({ source });
    this.opts.logger.info(
      { partition, resumeAt: resumeAt.toString(), replayFrom: lookback.toString(), source },
      lookback < resumeAt ? 'taking over partition: rebuilding bulk windows' : 'taking over partition',
    );
    if (lookback !== fetched) {
      this.consumer?.seek({ topic: this.opts.topic, partition, offset: lookback.toString() });
      return undefined;
    }
    return ps;
  }
}
