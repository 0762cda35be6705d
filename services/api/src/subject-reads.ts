/**
 * The subject report's narrow read, batched: while a read of `subject_accesses` is in flight, the
 * subject reports that arrive wait, and go to ClickHouse together in the next read (one per tenant),
 * `WHERE tenant_id = t AND subject_id IN (…)`. Nothing is cached: every report is answered from a read
 * that started after its request arrived, so it sees everything stored before it asked.
 *
 * Why: one read costs ~3 ms of ClickHouse CPU, most of it per query (parsing, planning, opening the
 * part), and embedded chDB runs parameterized queries one at a time per process; a batch of 20–50
 * subjects costs ~0.6 ms per subject. At low load a read goes at once (a batch of one), so a lone
 * request waits for nothing.
 *
 * Each subject gets at most `limit` rows (`LIMIT n BY`, over all time), sorted newest first here as
 * ClickHouse would; the caller's range and variant are then applied here. A subject that reaches the limit is
 * answered `undefined`, and the caller reads it alone, exactly.
 */
import { newestFirst, subjectsAccessRows } from '@custos/store';
import { type AccessRow, type AuditDb, chTime } from './db.js';

export { newestFirst, uuidOrderKey } from '@custos/store';

interface Waiter {
  subjectId: string;
  from: string;
  to: string;
  subjectFacing: boolean;
  resolve: (rows: AccessRow[] | undefined) => void;
  reject: (err: unknown) => void;
}

export interface SubjectReadOptions {
  /** rows per subject a batch reads at most */
  limit: number;
  /** subjects per batch at most */
  maxBatch: number;
  /** batches in flight at most: 1 for embedded chDB (it runs them one at a time anyway) */
  maxInFlight: number;
}

/** Batches and subjects read by every SubjectReads of this process (for the benchmark's output). */
export const subjectReadTotals = { batches: 0, subjects: 0 };

/** A lawful disclosure to an authority: the only kind of access the subject-facing report leaves out (DPDP §11(2)). */
export const isLawfulDisclosure = (r: Pick<AccessRow, 'codes'>) => r.codes.includes('LEGAL_DISCLOSURE');

export class SubjectReads {
  private readonly queues = new Map<string, Waiter[]>();
  private inFlight = 0;
  /** reads issued and subjects read, for the benchmark's report */
  readonly stats = { batches: 0, subjects: 0 };

  constructor(
    private readonly db: AuditDb,
    readonly opts: SubjectReadOptions,
  ) {}

  /**
   * The subject's accesses in [from, to), newest first (subject-facing: without lawful disclosures
   * to authorities), or `undefined` when it has `limit` rows or more in the batch's range.
   */
  read(tenantId: string, subjectId: string, from: Date, to: Date, subjectFacing: boolean): Promise<AccessRow[] | undefined> {
    return new Promise((resolve, reject) => {
      const q = this.queues.get(tenantId) ?? [];
      q.push({ subjectId, from: chTime(from), to: chTime(to), subjectFacing, resolve, reject });
      this.queues.set(tenantId, q);
      this.pump();
    });
  }

  private pump(): void {
    while (this.inFlight < this.opts.maxInFlight && this.queues.size > 0) {
      const [tenantId, queue] = this.queues.entries().next().value as [string, Waiter[]];
      // a batch takes up to maxBatch distinct subjects of one tenant, with every waiter for them
      const subjects = new Set<string>();
      const batch: Waiter[] = [];
      const rest: Waiter[] = [];
      for (const w of queue) {
        if (subjects.has(w.subjectId) || subjects.size < this.opts.maxBatch) {
          subjects.add(w.subjectId);
          batch.push(w);
        } else rest.push(w);
      }
      // what is left goes to the back, behind the other tenants' waiters
      this.queues.delete(tenantId);
      if (rest.length) this.queues.set(tenantId, rest);
      this.inFlight++;
      this.run(tenantId, [...subjects], batch).finally(() => {
        this.inFlight--;
        this.pump();
      });
    }
  }

  private async run(tenantId: string, subjects: string[], batch: Waiter[]): Promise<void> {
    this.stats.batches++;
    this.stats.subjects += subjects.length;
    subjectReadTotals.batches++;
    subjectReadTotals.subjects += subjects.length;
    let rows: AccessRow[];
    try {
      rows = await subjectsAccessRows(this.db, { tenantId, subjects, limit: this.opts.limit });
    } catch (err) {
      for (const w of batch) w.reject(err);
      return;
    }
    const bySubject = new Map<string, AccessRow[]>();
    for (const r of rows) {
      const l = bySubject.get(r.subject_id);
      if (l) l.push(r);
      else bySubject.set(r.subject_id, [r]);
    }
    for (const l of bySubject.values()) l.sort(newestFirst);
    for (const w of batch) {
      const all = bySubject.get(w.subjectId) ?? [];
      if (all.length >= this.opts.limit) {
        w.resolve(undefined);
        continue;
      }
      w.resolve(
        all.filter((r) => r.occurred_at >= w.from && r.occurred_at < w.to && !(w.subjectFacing && isLawfulDisclosure(r))),
      );
    }
  }
}

const readers = new WeakMap<AuditDb, SubjectReads>();

/** The batched subject reads of this AuditDb (one batcher per database handle). */
export function subjectReads(db: AuditDb, limit: number): SubjectReads {
  let r = readers.get(db);
  if (!r || r.opts.limit !== limit) {
    r = new SubjectReads(db, { limit, maxBatch: 32, maxInFlight: db.store.mode === 'embedded' ? 1 : 4 });
    readers.set(db, r);
  }
  return r;
}
