/**
 * Per-actor sliding window over event time for BULK_ACCESS: how many distinct subjects (tenantId,
 * subject id) the actor's events touched in (t − w, t], the current event included.
 *
 * "Seen" is arrival order: an event counts the events observed before it (and itself) whose time falls
 * in its window; events that arrive later do not change earlier answers. Events in order (t ≥ the
 * actor's latest t) are answered from a running count in O(1) amortised. A late event is inserted in
 * time order and answered by scanning its window. Entries are kept for w + allowedLateness behind the
 * actor's latest event; an event later than that is answered from what is left (it may undercount).
 *
 * Replaying the same events in the same order rebuilds the same state, so an enforcer can restore it
 * either from snapshot() or by re-reading the last w + allowedLateness of its input.
 */
import { PolicyError } from './errors.js';

export interface BulkCounter {
  /** window length in ms; must equal the policy's bulkAccess.windowSeconds × 1000 */
  readonly windowMs: number;
  /** Records one access and returns the distinct subjects of `actorId` in (t − w, t], this one included. */
  observe(actorId: string, t: number, tenantId: string, subjectId: string): number;
}

export interface BulkWindowOptions {
  windowSeconds: number;
  /** how far behind an actor's latest event a late event is still counted exactly; default = windowSeconds */
  allowedLatenessSeconds?: number;
  /** bound on the entries kept per actor (oldest dropped first); default 100 000 */
  maxEntriesPerActor?: number;
}

/** [epoch ms, tenantId, subjectId], oldest first */
export type BulkEntry = [number, string, string];

export interface BulkWindowSnapshot {
  version: 1;
  windowMs: number;
  latenessMs: number;
  maxEntriesPerActor: number;
  actors: Array<{ actorId: string; entries: BulkEntry[] }>;
}

const SWEEP_EVERY = 4096;

class ActorWindow {
  // Parallel arrays sorted by time; [head, length) is live. No object per event.
  times: number[] = [];
  tenants: string[] = [];
  subjects: string[] = [];
  head = 0;
  /** first live index inside (maxT − w, maxT]; counts covers [winStart, length) */
  winStart = 0;
  readonly counts = new Map<string, Map<string, number>>();
  distinct = 0;

  get maxT(): number {
    return this.times.length > this.head ? this.times[this.times.length - 1]! : Number.NEGATIVE_INFINITY;
  }

  get size(): number {
    return this.times.length - this.head;
  }

  inc(tenant: string, subject: string): void {
    let m = this.counts.get(tenant);
    if (m === undefined) {
      m = new Map();
      this.counts.set(tenant, m);
    }
    const n = m.get(subject);
    if (n === undefined) {
      m.set(subject, 1);
      this.distinct++;
    } else m.set(subject, n + 1);
  }

  dec(tenant: string, subject: string): void {
    const m = this.counts.get(tenant);
    const n = m?.get(subject);
    if (m === undefined || n === undefined) return;
    if (n > 1) m.set(subject, n - 1);
    else {
      m.delete(subject);
      this.distinct--;
      if (m.size === 0) this.counts.delete(tenant);
    }
  }

  /** moves winStart past entries at or before `edge` (= maxT − w) */
  slide(edge: number): void {
    while (this.winStart < this.times.length && this.times[this.winStart]! <= edge) {
      this.dec(this.tenants[this.winStart]!, this.subjects[this.winStart]!);
      this.winStart++;
    }
  }

  /** drops entries at or before `horizon`, and the oldest beyond `max` */
  evict(horizon: number, max: number): void {
    while (this.head < this.times.length && (this.times[this.head]! <= horizon || this.size > max)) {
      if (this.head >= this.winStart) {
        this.dec(this.tenants[this.head]!, this.subjects[this.head]!);
        this.winStart = this.head + 1;
      }
      this.head++;
    }
    // Compact now and then so the arrays do not grow without bound.
    if (this.head > 1024 && this.head * 2 > this.times.length) {
      this.times.splice(0, this.head);
      this.tenants.splice(0, this.head);
      this.subjects.splice(0, this.head);
      this.winStart -= this.head;
      this.head = 0;
    }
  }

  /** first live index whose time is > t (upper bound) */
  upper(t: number): number {
    let lo = this.head;
    let hi = this.times.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.times[mid]! <= t) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** distinct subjects among live entries with time in (from, to] */
  scan(from: number, to: number): number {
    const seen = new Set<string>();
    for (let i = this.upper(from); i < this.times.length && this.times[i]! <= to; i++) {
      seen.add(`${this.tenants[i]!}\u0000${this.subjects[i]!}`);
    }
    return seen.size;
  }
}

export class BulkWindow implements BulkCounter {
  readonly windowMs: number;
  readonly latenessMs: number;
  readonly maxEntriesPerActor: number;
  private readonly actors = new Map<string, ActorWindow>();
  private latest = Number.NEGATIVE_INFINITY;
  private sinceSweep = 0;

  constructor(options: BulkWindowOptions) {
    const { windowSeconds, allowedLatenessSeconds = windowSeconds, maxEntriesPerActor = 100_000 } = options;
    if (!(windowSeconds > 0) || !(allowedLatenessSeconds >= 0) || !(maxEntriesPerActor >= 1)) {
      throw new PolicyError(`invalid bulk window options ${JSON.stringify(options)}`);
    }
    this.windowMs = windowSeconds * 1000;
    this.latenessMs = allowedLatenessSeconds * 1000;
    this.maxEntriesPerActor = maxEntriesPerActor;
  }

  observe(actorId: string, t: number, tenantId: string, subjectId: string): number {
    if (Number.isNaN(t)) throw new PolicyError('bulk window: event time is not a number');
    let a = this.actors.get(actorId);
    if (a === undefined) {
      a = new ActorWindow();
      this.actors.set(actorId, a);
    }
    const w = this.windowMs;
    let result: number;
    if (t >= a.maxT) {
      a.times.push(t);
      a.tenants.push(tenantId);
      a.subjects.push(subjectId);
      a.inc(tenantId, subjectId);
      a.slide(t - w);
      a.evict(t - w - this.latenessMs, this.maxEntriesPerActor);
      result = a.distinct;
    } else {
      const maxT = a.maxT;
      const i = a.upper(t);
      a.times.splice(i, 0, t);
      a.tenants.splice(i, 0, tenantId);
      a.subjects.splice(i, 0, subjectId);
      // Keep the running count of (maxT − w, maxT] right for the in-order events to come.
      if (t > maxT - w) a.inc(tenantId, subjectId);
      else a.winStart++;
      result = a.scan(t - w, t);
      a.evict(maxT - w - this.latenessMs, this.maxEntriesPerActor);
    }
    if (t > this.latest) this.latest = t;
    if (++this.sinceSweep >= SWEEP_EVERY) this.sweep();
    return result;
  }

  /** Distinct subjects of `actorId` in (t − w, t] as seen so far, without recording anything. */
  count(actorId: string, t: number): number {
    return this.actors.get(actorId)?.scan(t - this.windowMs, t) ?? 0;
  }

  /** Forgets actors whose latest event is more than w + lateness behind the latest event of any actor. */
  sweep(): void {
    this.sinceSweep = 0;
    const horizon = this.latest - this.windowMs - this.latenessMs;
    for (const [id, a] of this.actors) {
      if (a.maxT <= horizon) this.actors.delete(id);
    }
  }

  stats(): { actors: number; entries: number } {
    let entries = 0;
    for (const a of this.actors.values()) entries += a.size;
    return { actors: this.actors.size, entries };
  }

  snapshotActor(actorId: string): BulkEntry[] | undefined {
    const a = this.actors.get(actorId);
    if (a === undefined || a.size === 0) return undefined;
    const out: BulkEntry[] = [];
    for (let i = a.head; i < a.times.length; i++) out.push([a.times[i]!, a.tenants[i]!, a.subjects[i]!]);
    return out;
  }

  /** JSON-serialisable; restore() of it answers every later observe() exactly as this window would. */
  snapshot(): BulkWindowSnapshot {
    const actors: BulkWindowSnapshot['actors'] = [];
    for (const actorId of this.actors.keys()) {
      const entries = this.snapshotActor(actorId);
      if (entries !== undefined) actors.push({ actorId, entries });
    }
    return {
      version: 1,
      windowMs: this.windowMs,
      latenessMs: this.latenessMs,
      maxEntriesPerActor: this.maxEntriesPerActor,
      actors,
    };
  }

  /** Puts back one actor's entries (e.g. from a per-actor changelog record), replacing what it had. */
  restoreActor(actorId: string, entries: readonly BulkEntry[]): void {
    const a = new ActorWindow();
    const sorted = [...entries].sort((x, y) => x[0] - y[0]);
    for (const [t, tenant, subject] of sorted) {
      a.times.push(t);
      a.tenants.push(tenant);
      a.subjects.push(subject);
      a.inc(tenant, subject);
    }
    if (a.size === 0) {
      this.actors.delete(actorId);
      return;
    }
    a.slide(a.maxT - this.windowMs);
    a.evict(a.maxT - this.windowMs - this.latenessMs, this.maxEntriesPerActor);
    this.actors.set(actorId, a);
    if (a.maxT > this.latest) this.latest = a.maxT;
  }

  static restore(snapshot: BulkWindowSnapshot): BulkWindow {
    if (snapshot.version !== 1) throw new PolicyError(`unsupported bulk window snapshot version ${String(snapshot.version)}`);
    const w = new BulkWindow({
      windowSeconds: snapshot.windowMs / 1000,
      allowedLatenessSeconds: snapshot.latenessMs / 1000,
      maxEntriesPerActor: snapshot.maxEntriesPerActor,
    });
    for (const { actorId, entries } of snapshot.actors) w.restoreActor(actorId, entries);
    return w;
  }
}
