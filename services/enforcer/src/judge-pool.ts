/**
 * Judging on a worker thread. The Kafka client (fetching, record encoding, transactions) keeps the
 * main thread busy on its own; decoding, judging and encoding decisions run beside it on the second
 * core. A batch's values travel as one transferred buffer (no per-record message), its decisions
 * come back the same way and are sliced, not copied.
 *
 * The worker keeps its own copy of the policy and the subject-state table, kept in step by the
 * enforcer (every change it applies to its judge is posted too), and the partitions' bulk windows.
 */
import { Worker } from 'node:worker_threads';
import type { SubjectStateSnapshot } from '@custos/policy';
import type { SubjectStateChange } from '@custos/schemas';
import { BufferPool } from '@custos/schemas/avro';
import type { BatchInput, BatchJudge, BatchOutput, RecordFailure } from './batch-judge.js';

/** transferred buffers kept for reuse on each side (a batch of 4 MiB is ~15 slices) */
export const POOLED_BUFFERS = 24;

export interface WorkerInit {
  registryUrl: string;
  accessSubject: string;
  decisionSubject: string;
  bundle: unknown;
  policyVersion: string;
  /** what the enforcer's judge knows already */
  subjectState: SubjectStateSnapshot;
}

export type ToWorker =
  | {
      t: 'batch';
      id: number;
      partition: number;
      replayCount: number;
      now: number;
      wantDecisions: boolean;
      buf: ArrayBuffer;
      /** value lengths; -1 for a null value */
      lens: Int32Array;
      /** decision buffers of earlier results, done with: for the worker to reuse */
      recycled: ArrayBuffer[];
    }
  | { t: 'drop'; partition: number }
  | { t: 'state'; change: SubjectStateChange }
  | { t: 'policy'; bundle: unknown; policyVersion: string };

export type FromWorker =
  | { t: 'ready' }
  | {
      t: 'result';
      id: number;
      buf: ArrayBuffer;
      lens: Int32Array;
      index: Int32Array;
      /** the batch's input buffer, back for reuse */
      input?: ArrayBuffer;
      out: Omit<BatchOutput, 'decisions' | 'decisionIndex' | 'packed' | 'release'>;
    }
  | { t: 'error'; id: number; name: string; message: string; retriable: boolean };

/** `pool`: where to take the buffer from, if it has one big enough */
export function packValues(values: readonly (Buffer | null)[], pool?: BufferPool): { buf: ArrayBuffer; lens: Int32Array } {
  let total = 0;
  for (const v of values) if (v !== null) total += v.length;
  // (a new one a quarter larger, so that the next batches, of about this size, fit in it too)
  const all = pool === undefined ? Buffer.allocUnsafeSlow(total) : pool.take(total, Math.ceil(total * 1.25));
  const lens = new Int32Array(values.length);
  let pos = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i] ?? null;
    if (v === null) lens[i] = -1;
    else {
      all.set(v, pos);
      pos += v.length;
      lens[i] = v.length;
    }
  }
  return { buf: all.buffer as ArrayBuffer, lens };
}

export function unpackValues(buf: ArrayBuffer, lens: Int32Array): (Buffer | null)[] {
  const out: (Buffer | null)[] = new Array(lens.length);
  let pos = 0;
  for (let i = 0; i < lens.length; i++) {
    const n = lens[i]!;
    if (n < 0) out[i] = null;
    else {
      out[i] = Buffer.from(buf, pos, n);
      pos += n;
    }
  }
  return out;
}

export function packOutput(id: number, o: BatchOutput): { message: FromWorker; transfer: ArrayBuffer[] } {
  const { decisions, decisionIndex, packed, release: _, ...rest } = o;
  let buf: ArrayBuffer;
  let lens: Int32Array;
  if (packed === undefined) ({ buf, lens } = packValues(decisions));
  else {
    // already back to back in a buffer of their own: sent as it is
    buf = packed;
    lens = new Int32Array(decisions.length);
    for (let i = 0; i < decisions.length; i++) lens[i] = decisions[i]!.length;
  }
  const index = Int32Array.from(decisionIndex);
  // A failed record's value is a view on the input buffer, which goes back to be reused: copied
  // into a buffer of its own (exactly its size: a pooled Buffer would clone the whole slab).
  const failures = rest.failures.map((f) => ({ ...f, value: f.value === null ? null : (new Uint8Array(f.value) as Buffer) }));
  return {
    message: { t: 'result', id, buf, lens, index, out: { ...rest, failures } },
    transfer: [buf, lens.buffer as ArrayBuffer, index.buffer as ArrayBuffer],
  };
}

interface Pending {
  resolve: (o: BatchOutput) => void;
  reject: (err: Error) => void;
}

/** An error the worker reported for a batch (e.g. the registry was unreachable). */
export class WorkerBatchError extends Error {
  constructor(
    name: string,
    message: string,
    readonly retriable: boolean,
  ) {
    super(message);
    this.name = name;
  }
}

export class WorkerBatchJudge implements BatchJudge {
  private readonly worker: Worker;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private closing = false;
  readonly ready: Promise<void>;
  /** input buffers the worker gave back */
  private readonly inputs = new BufferPool(POOLED_BUFFERS);
  /** decision buffers done with, to go back to the worker with the next batch */
  private returning: ArrayBuffer[] = [];

  constructor(init: WorkerInit, onFatal: (err: Error) => void) {
    this.worker = new Worker(new URL('./judge-worker.mjs', import.meta.url), { workerData: init, execArgv: [] });
    let resolveReady!: () => void;
    let rejectReady!: (err: Error) => void;
    this.ready = new Promise<void>((res, rej) => {
      resolveReady = res;
      rejectReady = rej;
    });
    this.worker.on('message', (m: FromWorker) => {
      if (m.t === 'ready') return resolveReady();
      const p = this.pending.get(m.id);
      if (p === undefined) return;
      this.pending.delete(m.id);
      if (m.t === 'error') return p.reject(new WorkerBatchError(m.name, m.message, m.retriable));
      if (m.input !== undefined) this.inputs.give(Buffer.from(m.input));
      const decisions = unpackValues(m.buf, m.lens) as Buffer[];
      // (structured cloning turned the failed records' values into plain Uint8Arrays)
      for (const f of m.out.failures)
        if (f.value !== null) f.value = Buffer.from(f.value.buffer, f.value.byteOffset, f.value.byteLength);
      const buf = m.buf;
      let released = false;
      const release = () => {
        if (released) return;
        released = true;
        if (this.returning.length < POOLED_BUFFERS) this.returning.push(buf);
      };
      p.resolve({ ...m.out, decisions, decisionIndex: Array.from(m.index), release } as BatchOutput & {
        failures: RecordFailure[];
      });
    });
    const fail = (err: Error) => {
      rejectReady(err);
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
      if (!this.closing) onFatal(err);
    };
    this.worker.on('error', fail);
    this.worker.on('exit', (code) => {
      if (!this.closing) fail(new Error(`judging worker exited with code ${code}`));
    });
  }

  judgeBatch(input: BatchInput): Promise<BatchOutput> {
    const id = this.nextId++;
    const { buf, lens } = packValues(input.values, this.inputs);
    const recycled = this.returning;
    this.returning = [];
    return new Promise<BatchOutput>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      const msg: ToWorker = {
        t: 'batch',
        id,
        partition: input.partition,
        replayCount: input.replayCount,
        now: input.now,
        wantDecisions: input.wantDecisions,
        buf,
        lens,
        recycled,
      };
      // The decisions of `recycled` were views of them here: transferring detaches those views.
      this.worker.postMessage(msg, [buf, lens.buffer as ArrayBuffer, ...recycled]);
    });
  }

  dropPartition(partition: number): void {
    this.post({ t: 'drop', partition });
  }

  subjectStateChanged(change: SubjectStateChange): void {
    this.post({ t: 'state', change });
  }

  policyChanged(bundle: unknown, policyVersion: string): void {
    this.post({ t: 'policy', bundle, policyVersion });
  }

  async heapUsed(): Promise<number> {
    return (await this.worker.getHeapStatistics()).used_heap_size;
  }

  private post(m: ToWorker): void {
    if (!this.closing) this.worker.postMessage(m);
  }

  async close(): Promise<void> {
    this.closing = true;
    for (const p of this.pending.values()) p.reject(new Error('judging worker closed'));
    this.pending.clear();
    await this.worker.terminate();
  }
}
