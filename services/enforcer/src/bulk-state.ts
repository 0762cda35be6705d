/**
 * Keeping BULK_ACCESS windows across restarts and rebalances.
 *
 * All events of one actor are on one partition of `access-events` (keyed by actor.id), so the
 * windows are kept per input partition. A window is rebuilt by re-reading the partition's recent
 * records and observing them without emitting anything, from a *lookback offset* before which no
 * record can matter any more. That offset travels with the consumer offset: every transaction
 * commits `{ offset: next, metadata: {"v":1,"lookback":"…"} }` for the partition, so the offset to
 * resume at and the offset to replay from are committed atomically with the decisions.
 *
 * The lookback is found by event time, not by broker timestamps: per processed batch we remember
 * (first offset, latest event time in it). With W = the latest event time the partition has seen,
 * w the window and L the allowed lateness, a batch still matters while its latest event time is
 * after W − w − L; the lookback is the first offset of the oldest batch that still matters. Event
 * times are capped at wall clock + MAX_FUTURE_SKEW_MS for W, so one event stamped far in the future
 * cannot push everything else out of the replay range.
 */
/** Event times further ahead of the wall clock than this do not advance the partition's watermark. */
export const MAX_FUTURE_SKEW_MS = 5 * 60_000;

/** Above this many remembered batches, neighbours are merged (the lookback only gets earlier). */
const MAX_SEGMENTS = 4096;

export interface LookbackMeta {
  v: 1;
  /** first offset to re-read (observe only) to rebuild the windows */
  lookback: string;
}

/** Offset-commit metadata: small JSON (brokers cap metadata at offset.metadata.max.bytes, 4 KiB). */
export function encodeMeta(lookback: bigint): string {
  return JSON.stringify({ v: 1, lookback: lookback.toString() } satisfies LookbackMeta);
}

/** undefined when absent, foreign or malformed (then the caller falls back to a time-based guess). */
export function decodeMeta(metadata: string | null | undefined): bigint | undefined {
  if (!metadata) return undefined;
  try {
    const m = JSON.parse(metadata) as Partial<LookbackMeta>;
    if (m.v !== 1 || typeof m.lookback !== 'string' || !/^\d+$/.test(m.lookback)) return undefined;
    return BigInt(m.lookback);
  } catch {
    return undefined;
  }
}

interface Segment {
  first: bigint;
  maxT: number;
}

/** Remembers which stretch of a partition still holds events that count for some future window. */
export class LookbackTracker {
  private segments: Segment[] = [];
  private head = 0;
  private watermark = Number.NEGATIVE_INFINITY;

  /** `spanMs` = window + allowed lateness */
  constructor(private spanMs: number) {}

  setSpan(spanMs: number): void {
    this.spanMs = spanMs;
  }

  /** latest (capped) event time seen on the partition */
  get latest(): number {
    return this.watermark;
  }

  /** Records a processed batch starting at `first` whose latest valid event time is `maxT`. */
  add(first: bigint, maxT: number, now = Date.now()): void {
    if (!Number.isFinite(maxT)) return;
    const t = Math.min(maxT, now + MAX_FUTURE_SKEW_MS);
    if (t > this.watermark) this.watermark = t;
    this.segments.push({ first, maxT: t });
    if (this.segments.length - this.head > MAX_SEGMENTS) this.merge();
  }

  /** First offset to replay so that every event after W − span is seen again; `next` when none. */
  lookback(next: bigint): bigint {
    const threshold = this.watermark - this.spanMs;
    while (this.head < this.segments.length && this.segments[this.head]!.maxT <= threshold) this.head++;
    if (this.head > 1024 && this.head * 2 > this.segments.length) {
      this.segments = this.segments.slice(this.head);
      this.head = 0;
    }
    return this.head < this.segments.length ? this.segments[this.head]!.first : next;
  }

  get size(): number {
    return this.segments.length - this.head;
  }

  private merge(): void {
    const live = this.segments.slice(this.head);
    const merged: Segment[] = [];
    for (let i = 0; i < live.length; i += 2) {
      const a = live[i]!;
      const b = live[i + 1];
      merged.push(b === undefined ? a : { first: a.first, maxT: Math.max(a.maxT, b.maxT) });
    }
    this.segments = merged;
    this.head = 0;
  }
}

/** What one instance knows about one assigned input partition (its windows live in the BatchJudge). */
export class PartitionState {
  readonly tracker: LookbackTracker;
  /** offsets below this are replayed (observed, not judged); judging starts here */
  replayUntil: bigint;
  /** the offset the next batch should have been fetched from */
  expectFetch: bigint;

  constructor(
    readonly partition: number,
    /** window + allowed lateness, ms (the span kept in sync with the policy per batch) */
    spanMs: number,
    resumeAt: bigint,
    fetchFrom: bigint,
  ) {
    this.tracker = new LookbackTracker(spanMs);
    this.replayUntil = resumeAt;
    this.expectFetch = fetchFrom;
  }

  get replaying(): boolean {
    return this.expectFetch < this.replayUntil;
  }
}
