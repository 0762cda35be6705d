/**
 * Judging one consumed batch: decode, validate, judge against the partition's bulk windows, encode
 * the decisions. Pure CPU (except the first record of an unknown schema id), so it can run on the
 * consumer's thread (LocalBatchJudge) or on a worker thread of its own (WorkerBatchJudge in
 * judge-pool.ts), while the Kafka client keeps the main thread. The Enforcer only sees BatchJudge.
 *
 * Records are passed as bare values; the first `replayCount` of them are re-read records, observed
 * into the windows without being judged (rebuilding state after a takeover).
 */
import type { BulkWindow } from '@custos/policy';
import type { Decision, SubjectStateChange } from '@custos/schemas';
import { type BufferPool, DecisionArena, type DecisionEncoder } from '@custos/schemas/avro';
import type { AccessEventDecoder, DecodeResult } from './decode.js';
import { type Judge, rewindow } from './judge.js';

export interface BatchInput {
  partition: number;
  values: (Buffer | null)[];
  /** leading records that are only observed (replay), not judged */
  replayCount: number;
  /** decidedAt for the batch */
  now: number;
  /** also return the decisions in JSON form (for onDecision hooks) */
  wantDecisions: boolean;
}

export interface RecordFailure {
  index: number;
  /** the record's value, as consumed (for its dead letter); a copy of its own from the worker */
  value: Buffer | null;
  step: string;
  name: string;
  message: string;
  retriable: boolean;
}

export interface BatchOutput {
  /** framed Avro decisions, and the index of the record each one decides */
  decisions: Buffer[];
  decisionIndex: number[];
  /** the decisions back to back from byte 0, in a buffer of their own (the worker transfers it as it is) */
  packed?: ArrayBuffer;
  failures: RecordFailure[];
  outcomes: Record<Decision['outcome'], number>;
  codes: [string, number][];
  replayed: number;
  /** latest valid event time in the batch (replayed records included); -Infinity when none */
  maxT: number;
  /** window + allowed lateness of the partition's window, ms */
  spanMs: number;
  window: { actors: number; entries: number };
  made?: Decision[];
  /**
   * Says that nothing uses `decisions` any more (their produce calls have settled), so their bytes
   * may be reused. Called at most once; absent when there is nothing to reuse.
   */
  release?: () => void;
}

export interface BatchJudge {
  judgeBatch(input: BatchInput): Promise<BatchOutput>;
  /** forgets a partition's windows (its next batch starts from an empty window) */
  dropPartition(partition: number): void;
  /** a subject-state change the enforcer's table read (the local judge already has it) */
  subjectStateChanged(change: SubjectStateChange): void;
  /** a policy the enforcer's judge switched to (the local judge already has it) */
  policyChanged(bundle: unknown, policyVersion: string): void;
  /** V8 heap in use where judging runs, when that is not the caller's own heap */
  heapUsed?(): Promise<number>;
  close(): Promise<void>;
}

function failureOf(index: number, value: Buffer | null, step: string, err: unknown): RecordFailure {
  const e = err as { name?: unknown; message?: unknown; retriable?: unknown };
  return {
    index,
    value,
    step,
    name: err instanceof Error ? err.name : typeof err,
    message: typeof e?.message === 'string' ? e.message : String(err),
    retriable: e?.retriable === true,
  };
}

export class LocalBatchJudge implements BatchJudge {
  private readonly windows = new Map<number, BulkWindow>();

  /** `arenas`: buffers for the decisions, reused (see BufferPool); without it each batch allocates */
  constructor(
    private readonly judge: Judge,
    private readonly decoder: AccessEventDecoder,
    private readonly encoder: DecisionEncoder,
    private readonly arenas?: BufferPool,
  ) {}

  private windowFor(partition: number): BulkWindow {
    let w = this.windows.get(partition);
    if (w === undefined) w = this.judge.createBulkWindow();
    else if (w.windowMs !== this.judge.windowMs) w = rewindow(w, this.judge);
    this.windows.set(partition, w);
    return w;
  }

  async judgeBatch({ partition, values, replayCount, now, wantDecisions }: BatchInput): Promise<BatchOutput> {
    const { judge, decoder, encoder } = this;
    const window = this.windowFor(partition);
    const out: BatchOutput = {
      decisions: [],
      decisionIndex: [],
      failures: [],
      outcomes: { allow: 0, flag: 0, deny: 0 },
      codes: [],
      replayed: 0,
      maxT: Number.NEGATIVE_INFINITY,
      spanMs: window.windowMs + window.latenessMs,
      window: { actors: 0, entries: 0 },
    };
    const made: Decision[] | undefined = wantDecisions ? [] : undefined;
    // Decisions are their event's bytes plus a head (~230 B in the bench's mix, most of it a reason).
    let inputBytes = 0;
    for (let i = replayCount; i < values.length; i++) inputBytes += values[i]?.length ?? 0;
    const arena = new DecisionArena(inputBytes + 256 * (values.length - replayCount), this.arenas);
    const codes = new Map<string, number>();
    let maxT = Number.NEGATIVE_INFINITY;
    for (let i = 0; i < values.length; i++) {
      const value = values[i] ?? null;
      // Sync for known schema ids; a registry outage throws (the batch is retried).
      const r: DecodeResult = decoder.tryDecode(value) ?? (await decoder.decode(value));
      if (i < replayCount) {
        out.replayed++;
        if (r.ok) {
          judge.observe(r.event, window, r.time);
          if (r.time > maxT) maxT = r.time;
        }
        continue;
      }
      if (!r.ok) {
        out.failures.push(failureOf(i, value, r.step, r.error));
        continue;
      }
      if (r.time > maxT) maxT = r.time;
      let j: ReturnType<Judge['judge']>;
      try {
        j = judge.judge(r.event, window, r.time);
      } catch (err) {
        out.failures.push(failureOf(i, value, 'judge', err));
        continue;
      }
      out.outcomes[j.outcome]++;
      for (const reason of j.reasons) codes.set(reason.code, (codes.get(reason.code) ?? 0) + 1);
      out.decisions.push(encoder.encode(r, j, now, arena));
      out.decisionIndex.push(i);
      made?.push({ eventId: r.event.eventId, decidedAt: new Date(now).toISOString(), ...j, event: r.event });
    }
    if (out.decisions.length > 0) out.packed = arena.packed();
    out.maxT = maxT;
    out.codes = [...codes];
    out.window = window.stats();
    if (made) out.made = made;
    return out;
  }

  dropPartition(partition: number): void {
    this.windows.delete(partition);
  }

  subjectStateChanged(): void {}

  policyChanged(): void {}

  async close(): Promise<void> {}
}
