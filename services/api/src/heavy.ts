/**
 * Heavy work off the request thread: periodic reports and integrity verification run in a small
 * pool of worker threads, so hashing a month of the chain or rendering a PDF never holds up the
 * searches and reports the event loop is serving. The gate (gate.ts) bounds how many run and wait,
 * and the deadline; a task past its deadline has its thread ended (and replaced on the next task).
 *
 * A worker has no ClickHouse connection of its own (embedded chDB is one engine per process): its
 * store sends each query here, where it runs on the API's store with the same SQL and settings, and
 * gets the answer's text back. The worker runs the same functions as the request thread would
 * (`buildPeriodicReport`, `renderReport`, the store's verification), scoped the same way.
 */
import type { KeyObject } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import type { Store } from '@custos/store';
import type { DataScope } from './access.js';
import type { QueryLimits } from './db.js';
import { type Directory, type DirectoryData, directoryData } from './directory.js';
import type { CheckpointInfo, VerificationResult } from './integrity.js';
import type { Format, PeriodicReport } from './schemas.js';

/** What every worker starts with. */
export interface HeavyInit {
  database: string;
  mode: Store['mode'];
  limits: QueryLimits;
  /** the trusted checkpoint keys (SPKI PEM) and the retention, or no verification at all */
  integrity: { trustedPem: string[]; retentionDays?: number | undefined } | 'unavailable';
}

export type HeavyTask =
  | {
      kind: 'periodicReport';
      dir: DirectoryData;
      scope: DataScope;
      period: string;
      tenantId?: string | undefined;
      generatedAt: number;
      format: Format;
    }
  | { kind: 'verify'; from: number; to: number; tenants: '*' | string[] };

export interface PeriodicResult {
  report: PeriodicReport;
  file?: { body: Uint8Array; contentType: string; sha256: string };
}

export interface VerifyResult {
  checkpoints: CheckpointInfo[];
  verification: VerificationResult;
}

/** Messages between the pool and a worker. */
export type ToWorker = { t: 'task'; id: number; task: HeavyTask } | { t: 'answer'; id: number; text?: string; error?: WireError };
export type FromWorker =
  | { t: 'done'; id: number; result: unknown }
  | { t: 'failed'; id: number; error: WireError }
  | { t: 'query'; id: number; op: 'query' | 'command'; query: string; params?: Record<string, unknown>; format?: string };

/** An error as it crosses threads: its message and what classifies it (ClickHouse's code, an HTTP status). */
export interface WireError {
  message: string;
  name?: string | undefined;
  code?: string | number | undefined;
  type?: string | undefined;
  clickhouseCode?: number | undefined;
  status?: number | undefined;
  details?: unknown;
  headers?: Record<string, string> | undefined;
}

export function wireError(err: unknown): WireError {
  const e = (err && typeof err === 'object' ? err : { message: String(err) }) as Record<string, unknown>;
  const pick = <T>(k: string, type: string) => (typeof e[k] === type ? (e[k] as T) : undefined);
  return {
    message: typeof e.message === 'string' ? e.message : String(err),
    name: pick<string>('name', 'string'),
    code: pick<string>('code', 'string') ?? pick<number>('code', 'number'),
    type: pick<string>('type', 'string'),
    clickhouseCode: pick<number>('clickhouseCode', 'number'),
    status: pick<number>('status', 'number'),
    details: e.details,
    headers: e.headers as Record<string, string> | undefined,
  };
}

interface Running {
  resolve(v: unknown): void;
  reject(e: unknown): void;
}

class HeavyWorker {
  readonly worker: Worker;
  private readonly tasks = new Map<number, Running>();
  private dead = false;

  constructor(
    private readonly store: Store,
    init: HeavyInit,
    private readonly onExit: (w: HeavyWorker) => void,
  ) {
    // execArgv: [] — the thread takes NODE_OPTIONS (the custos-source condition in development)
    this.worker = new Worker(new URL('./heavy-worker.mjs', import.meta.url), { workerData: init, execArgv: [] });
    this.worker.unref();
    this.worker.on('message', (m: FromWorker) => this.onMessage(m));
    this.worker.on('error', (err) => this.fail(err));
    this.worker.on('exit', (code) => this.fail(new Error(`the heavy-work thread exited (${code})`)));
  }

  get busy(): number {
    return this.tasks.size;
  }

  run(id: number, task: HeavyTask): Promise<unknown> {
    return new Promise((resolve, reject) => {
      this.tasks.set(id, { resolve, reject });
      this.worker.postMessage({ t: 'task', id, task } satisfies ToWorker);
    });
  }

  private onMessage(m: FromWorker): void {
    if (m.t === 'query') {
      void this.answer(m);
      return;
    }
    const task = this.tasks.get(m.id);
    if (!task) return;
    this.tasks.delete(m.id);
    if (m.t === 'done') task.resolve(m.result);
    else task.reject(Object.assign(new Error(m.error.message), m.error));
  }

  /** Runs a worker's query on the API's store. */
  private async answer(m: Extract<FromWorker, { t: 'query' }>): Promise<void> {
    let reply: ToWorker;
    try {
      if (m.op === 'command') {
        await this.store.client.command({ query: m.query, ...(m.params ? { query_params: m.params } : {}) });
        reply = { t: 'answer', id: m.id, text: '' };
      } else {
        const rs = await this.store.client.query({
          query: m.query,
          ...(m.params ? { query_params: m.params } : {}),
          format: (m.format ?? 'JSON') as 'JSON',
        });
        reply = { t: 'answer', id: m.id, text: await rs.text() };
      }
    } catch (err) {
      reply = { t: 'answer', id: m.id, error: wireError(err) };
    }
    if (!this.dead) this.worker.postMessage(reply);
  }

  private fail(err: unknown): void {
    if (this.dead) return;
    this.dead = true;
    for (const t of this.tasks.values()) t.reject(err);
    this.tasks.clear();
    this.onExit(this);
  }

  async end(): Promise<void> {
    this.fail(new Error('the heavy-work thread was ended'));
    await this.worker.terminate();
  }
}

/** The worker threads: at most `size`, started when first needed, one task each at a time. */
export class HeavyPool {
  private readonly workers: HeavyWorker[] = [];
  private nextId = 1;

  constructor(
    private readonly store: Store,
    private readonly init: HeavyInit,
    readonly size: number,
  ) {}

  /**
   * Runs `task` on a free thread. `deadline` rejecting ends the thread (its work stops there; the
   * thread is replaced on a later task). Callers bound concurrency to `size` (the gate).
   */
  async run<T>(task: HeavyTask, deadline?: Promise<never>): Promise<T> {
    const w = this.workers.find((x) => x.busy === 0) ?? this.start();
    const work = w.run(this.nextId++, task) as Promise<T>;
    if (!deadline) return work;
    return Promise.race([work, deadline]).catch(async (err) => {
      if (w.busy > 0) await w.end();
      throw err;
    });
  }

  private start(): HeavyWorker {
    if (this.workers.length >= this.size) throw new Error(`the heavy-work pool has ${this.size} threads, all busy`);
    const w = new HeavyWorker(this.store, this.init, (gone) => {
      const i = this.workers.indexOf(gone);
      if (i >= 0) this.workers.splice(i, 1);
    });
    this.workers.push(w);
    return w;
  }

  async close(): Promise<void> {
    await Promise.all([...this.workers].map((w) => w.end()));
  }

  periodicReport(
    dir: Directory,
    q: { scope: DataScope; period: string; tenantId?: string | undefined; generatedAt: Date; format: Format },
    deadline?: Promise<never>,
  ): Promise<PeriodicResult> {
    return this.run<PeriodicResult>(
      {
        kind: 'periodicReport',
        dir: directoryData(dir),
        scope: q.scope,
        period: q.period,
        tenantId: q.tenantId,
        generatedAt: q.generatedAt.getTime(),
        format: q.format,
      },
      deadline,
    );
  }

  verify(q: { from: Date; to: Date; tenants: '*' | string[] }, deadline?: Promise<never>): Promise<VerifyResult> {
    return this.run<VerifyResult>({ kind: 'verify', from: q.from.getTime(), to: q.to.getTime(), tenants: q.tenants }, deadline);
  }
}

/** The worker's integrity configuration from the keys the API trusts. */
export function heavyIntegrity(trusted: readonly KeyObject[], retentionDays?: number): HeavyInit['integrity'] {
  return { trustedPem: trusted.map((k) => k.export({ type: 'spki', format: 'pem' }).toString()), retentionDays };
}
