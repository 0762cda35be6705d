/**
 * Per-actor sliding window over event time for BULK_ACCESS: how many distinct subjects (tenantId,
 * subject id) the actor's events touched in (t − w, t], the current event included.
 *
 * "Seen" is arrival order: an event counts the events observed before it (and itself) whose time falls
 * in its window; events that arrive later do not change earlier answers.
 *
 * Memory is bounded by forgetting entries that no event of normal lateness can need: those older than
 * w + allowedLateness behind the actor's *reference time*, the median time of its last few events
 * (never moving back). A median is not moved by a minority of outliers, so events stamped far in the
 * future cannot drag it ahead and make the actor's real events drop out of the count. Events far
 * ahead of the reference are kept aside ("ahead") and counted by any event whose window reaches them,
 * so the actor's in-order events keep their O(1) running count; they join the main entries once the
 * reference comes near them. An event later than the lateness behind the reference is answered from
 * what is left (it may undercount); no event makes the actor's other events undercount.
 *
 * The answer only has to be compared with a threshold, so a caller may pass `limit`: counting stops
 * once it exceeds the limit (the result is then limit + 1). That keeps an out-of-order event's scan of
 * its window short when the actor is busy.
 *
 * Replaying the same events in the same order rebuilds the same state, so an enforcer can restore it
 * either from snapshot() or by re-reading the last w + allowedLateness of its input.
 */
import { PolicyError } from './errors.js';

export interface BulkCounter {
  /** window length in ms; must equal the policy's bulkAccess.windowSeconds × 1000 */
  readonly windowMs: number;
  /**
   * Records one access and returns the distinct subjects of `actorId` in (t − w, t], this one
   * included; with `limit`, at most limit + 1 (any count above the limit reads as limit + 1).
   */
  observe(actorId: string, t: number, tenantId: string, subjectId: string, limit?: number): number;
}

export interface BulkWindowOptions {
  windowSeconds: number;
  /** how far behind an actor's reference time a late event is still counted exactly; default = windowSeconds */
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
  /**
   * `ref`: the actor's reference time; `recent`: the times of its last events, oldest first (both
   * absent in older snapshots: then the latest entry's time)
   */
  actors: Array<{ actorId: string; entries: BulkEntry[]; ref?: number; recent?: number[] }>;
}

const SWEEP_EVERY = 4096;
/** Events kept aside (far ahead of the reference) per actor before the reference is moved to them. */
const MAX_AHEAD = 10_000;
/** How many of an actor's latest event times its reference is the median of (odd). */
const RECENT = 15;

/**
 * (tenant, subject) pairs as small integers, shared by every actor of a window, so that entries are
 * numbers and a scan marks what it saw in a typed array instead of building a set of strings. Ids are
 * reference-counted by the entries that hold them and reused once free.
 */
class SubjectIds {
  /** tenant → subject → id: two lookups, no key string built per event */
  private readonly ids = new Map<string, Map<string, number>>();
  readonly tenants: string[] = [];
  readonly subjects: string[] = [];
  private readonly refs: number[] = [];
  private readonly free: number[] = [];
  private marks = new Int32Array(1024);
  private stamp = 0;

  acquire(tenant: string, subject: string): number {
    let bySubject = this.ids.get(tenant);
    if (bySubject === undefined) {
      bySubject = new Map();
      this.ids.set(tenant, bySubject);
    }
    let id = bySubject.get(subject);
    if (id === undefined) {
      id = this.free.pop() ?? this.tenants.length;
      bySubject.set(subject, id);
      this.tenants[id] = tenant;
      this.subjects[id] = subject;
      this.refs[id] = 0;
      if (id >= this.marks.length) {
        const m = new Int32Array(this.marks.length * 2);
        m.set(this.marks);
        this.marks = m;
      }
    }
    this.refs[id]!++;
    return id;
  }

  release(id: number): void {
    if (--this.refs[id]! === 0) {
      const bySubject = this.ids.get(this.tenants[id]!)!;
      bySubject.delete(this.subjects[id]!);
      if (bySubject.size === 0) this.ids.delete(this.tenants[id]!);
      this.free.push(id);
    }
  }

  /** Starts a distinct count: `mark(id)` is true the first time an id is marked after this call. */
  newCount(): void {
    if (++this.stamp === 0x7fffffff) {
      this.marks.fill(0);
      this.stamp = 1;
    }
  }

  mark(id: number): boolean {
    if (this.marks[id] === this.stamp) return false;
    this.marks[id] = this.stamp;
    return true;
  }
}

/** Late entries held in a small sorted run of their own before they are merged into the main one. */
const LATE_RUN = 512;

/**
 * One actor's entries in up to three time-sorted runs, as parallel arrays (no object per event):
 * `main` takes events in time order at its end; `late` takes events older than main's newest (an
 * insert into a run of a few hundred, merged into main when it fills, instead of one into tens of
 * thousands); `ahead` holds events far ahead of the reference time. A running count covers
 * (maxT − w, maxT] of main and late, where maxT is main's newest time: an entry is counted exactly
 * when its time is after maxT − w.
 */
class ActorWindow {
  times: number[] = [];
  ids: number[] = [];
  /** [head, length) of main is live; winStart: first live index after maxT − w */
  head = 0;
  winStart = 0;
  lateTimes: number[] = [];
  lateIds: number[] = [];
  lateHead = 0;
  lateWinStart = 0;
  readonly counts = new Map<number, number>();
  distinct = 0;
  /**
   * the reference time: the median of `recent`, never moving back; −∞ until `recent` is full (an
   * actor's first events may be outliers themselves: until then nothing is forgotten or set aside)
   */
  ref: number;
  /** the latest event times, arrival order, in a ring; and the same values sorted */
  private readonly recent: number[] = [];
  private readonly sortedRecent: number[] = [];
  private recentAt = 0;
  /** entries far ahead of the reference, sorted by time */
  aheadTimes: number[] = [];
  aheadIds: number[] = [];

  constructor(ref: number) {
    this.ref = ref;
  }

  /** Remembers an event time and moves the reference to the recent median when that is later. */
  see(t: number): void {
    const sorted = this.sortedRecent;
    if (this.recent.length < RECENT) this.recent.push(t);
    else {
      const old = this.recent[this.recentAt]!;
      this.recent[this.recentAt] = t;
      this.recentAt = (this.recentAt + 1) % RECENT;
      sorted.splice(sorted.indexOf(old), 1);
    }
    let i = sorted.length;
    while (i > 0 && sorted[i - 1]! > t) i--;
    sorted.splice(i, 0, t);
    if (sorted.length < RECENT) return;
    const median = sorted[(sorted.length - 1) >> 1]!;
    if (median > this.ref) this.ref = median;
  }

  /** the median of what `recent` holds (the reference once it is full): when to forget an idle actor */
  get idleRef(): number {
    const sorted = this.sortedRecent;
    return this.ref > Number.NEGATIVE_INFINITY || sorted.length === 0 ? this.ref : sorted[(sorted.length - 1) >> 1]!;
  }

  /** Takes every entry out (their subject ids still held), oldest first, and starts empty. */
  takeAll(): [number, number][] {
    const all = [...this.entries()].sort((x, y) => x[0] - y[0]);
    this.times = [];
    this.ids = [];
    this.head = 0;
    this.winStart = 0;
    this.lateTimes = [];
    this.lateIds = [];
    this.lateHead = 0;
    this.lateWinStart = 0;
    this.counts.clear();
    this.distinct = 0;
    this.aheadTimes = [];
    this.aheadIds = [];
    return all;
  }

  /** the ring's times, oldest first */
  recentInOrder(): number[] {
    if (this.recent.length < RECENT) return [...this.recent];
    return [...this.recent.slice(this.recentAt), ...this.recent.slice(0, this.recentAt)];
  }

  get maxT(): number {
    return this.times.length > this.head ? this.times[this.times.length - 1]! : Number.NEGATIVE_INFINITY;
  }

  get size(): number {
    return this.times.length - this.head + this.lateTimes.length - this.lateHead + this.aheadTimes.length;
  }

  inc(id: number): void {
    const n = this.counts.get(id);
    if (n === undefined) {
      this.counts.set(id, 1);
      this.distinct++;
    } else this.counts.set(id, n + 1);
  }

  dec(id: number): void {
    const n = this.counts.get(id);
    if (n === undefined) return;
    if (n > 1) this.counts.set(id, n - 1);
    else {
      this.counts.delete(id);
      this.distinct--;
    }
  }

  /** Appends an entry at or after maxT and moves the running window to end there. */
  push(t: number, id: number, w: number): void {
    this.times.push(t);
    this.ids.push(id);
    this.inc(id);
    const edge = t - w;
    while (this.winStart < this.times.length && this.times[this.winStart]! <= edge) {
      this.dec(this.ids[this.winStart]!);
      this.winStart++;
    }
    while (this.lateWinStart < this.lateTimes.length && this.lateTimes[this.lateWinStart]! <= edge) {
      this.dec(this.lateIds[this.lateWinStart]!);
      this.lateWinStart++;
    }
  }

  /** Inserts an entry older than maxT (into the late run), keeping the running count right. */
  insert(t: number, id: number, w: number): void {
    const i = upper(this.lateTimes, this.lateHead, t);
    this.lateTimes.splice(i, 0, t);
    this.lateIds.splice(i, 0, id);
    if (t > this.maxT - w) this.inc(id);
    else this.lateWinStart++;
    if (this.lateTimes.length - this.lateHead >= LATE_RUN) this.merge(w);
  }

  /** Merges the late run into main; the counted entries stay those after maxT − w. */
  private merge(w: number): void {
    const n = this.times.length - this.head + this.lateTimes.length - this.lateHead;
    const times = new Array<number>(n);
    const ids = new Array<number>(n);
    let i = this.head;
    let j = this.lateHead;
    for (let k = 0; k < n; k++) {
      if (j >= this.lateTimes.length || (i < this.times.length && this.times[i]! <= this.lateTimes[j]!)) {
        times[k] = this.times[i]!;
        ids[k] = this.ids[i++]!;
      } else {
        times[k] = this.lateTimes[j]!;
        ids[k] = this.lateIds[j++]!;
      }
    }
    this.times = times;
    this.ids = ids;
    this.head = 0;
    this.winStart = upper(times, 0, this.maxT - w);
    this.lateTimes = [];
    this.lateIds = [];
    this.lateHead = 0;
    this.lateWinStart = 0;
  }

  /** drops entries at or before `horizon`, and the oldest beyond `max` */
  evict(horizon: number, max: number, names: SubjectIds): void {
    for (;;) {
      const m = this.head < this.times.length ? this.times[this.head]! : Number.POSITIVE_INFINITY;
      const l = this.lateHead < this.lateTimes.length ? this.lateTimes[this.lateHead]! : Number.POSITIVE_INFINITY;
      const oldest = Math.min(m, l);
      if (oldest === Number.POSITIVE_INFINITY || !(oldest <= horizon || this.size > max)) break;
      if (m <= l) {
        const id = this.ids[this.head]!;
        if (this.head >= this.winStart) {
          this.dec(id);
          this.winStart = this.head + 1;
        }
        names.release(id);
        this.head++;
      } else {
        const id = this.lateIds[this.lateHead]!;
        if (this.lateHead >= this.lateWinStart) {
          this.dec(id);
          this.lateWinStart = this.lateHead + 1;
        }
        names.release(id);
        this.lateHead++;
      }
    }
    // Compact now and then so the arrays do not grow without bound.
    if (this.head > 1024 && this.head * 2 > this.times.length) {
      this.times.splice(0, this.head);
      this.ids.splice(0, this.head);
      this.winStart -= this.head;
      this.head = 0;
    }
    if (this.lateHead > 0 && this.lateHead * 2 > this.lateTimes.length) {
      this.lateTimes.splice(0, this.lateHead);
      this.lateIds.splice(0, this.lateHead);
      this.lateWinStart -= this.lateHead;
      this.lateHead = 0;
    }
  }

  /** distinct subjects among live entries of every run with time in (from, to], up to limit + 1 */
  scan(from: number, to: number, limit: number, names: SubjectIds): number {
    names.newCount();
    let n = 0;
    // Newest first: a busy actor passes the limit after a few hundred entries.
    const { times, ids } = this;
    for (let i = upper(times, this.head, to) - 1; i >= this.head && times[i]! > from; i--) {
      if (names.mark(ids[i]!) && ++n > limit) return n;
    }
    const lt = this.lateTimes;
    for (let i = upper(lt, this.lateHead, to) - 1; i >= this.lateHead && lt[i]! > from; i--) {
      if (names.mark(this.lateIds[i]!) && ++n > limit) return n;
    }
    const at = this.aheadTimes;
    for (let i = upper(at, 0, to) - 1; i >= 0 && at[i]! > from; i--) {
      if (names.mark(this.aheadIds[i]!) && ++n > limit) return n;
    }
    return n;
  }

  /** every live entry's time and id (main, late, ahead) */
  *entries(): Generator<[number, number]> {
    for (let i = this.head; i < this.times.length; i++) yield [this.times[i]!, this.ids[i]!];
    for (let i = this.lateHead; i < this.lateTimes.length; i++) yield [this.lateTimes[i]!, this.lateIds[i]!];
    for (let i = 0; i < this.aheadTimes.length; i++) yield [this.aheadTimes[i]!, this.aheadIds[i]!];
  }
}

/** first index in [from, times.length) whose time is > t */
function upper(times: number[], from: number, t: number): number {
  let lo = from;
  let hi = times.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (times[mid]! <= t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export class BulkWindow implements BulkCounter {
  readonly windowMs: number;
  readonly latenessMs: number;
  readonly maxEntriesPerActor: number;
  private readonly actors = new Map<string, ActorWindow>();
  private readonly names = new SubjectIds();
  /** the latest reference time of any actor */
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

  observe(actorId: string, t: number, tenantId: string, subjectId: string, limit = Number.POSITIVE_INFINITY): number {
    if (Number.isNaN(t)) throw new PolicyError('bulk window: event time is not a number');
    let a = this.actors.get(actorId);
    if (a === undefined) {
      a = new ActorWindow(Number.NEGATIVE_INFINITY);
      this.actors.set(actorId, a);
    }
    const w = this.windowMs;
    const step = Math.max(this.latenessMs, w);
    const settled = a.ref > Number.NEGATIVE_INFINITY;
    a.see(t);
    // The reference was just set: entries far ahead of it go aside, those far behind are forgotten.
    if (!settled && a.ref > Number.NEGATIVE_INFINITY) this.resettle(a);
    this.admitAhead(a);
    const id = this.names.acquire(tenantId, subjectId);
    const horizon = a.ref - w - this.latenessMs;
    let result: number;
    if (a.ref === Number.NEGATIVE_INFINITY) {
      // the actor's first few events: kept, whatever their time
      if (t >= a.maxT) a.push(t, id, w);
      else a.insert(t, id, w);
      result = a.scan(t - w, t, limit, this.names);
      a.evict(horizon, this.maxEntriesPerActor, this.names);
    } else if (t > a.ref + step) {
      const i = upper(a.aheadTimes, 0, t);
      a.aheadTimes.splice(i, 0, t);
      a.aheadIds.splice(i, 0, id);
      result = a.scan(t - w, t, limit, this.names);
      if (a.aheadTimes.length > MAX_AHEAD) {
        // Thousands of events this far ahead are the actor's time now (a clock change, a long
        // gap), not outliers: move the reference to their median.
        a.ref = a.aheadTimes[a.aheadTimes.length >> 1]!;
        this.admitAhead(a);
      }
      a.evict(a.ref - w - this.latenessMs, this.maxEntriesPerActor, this.names);
    } else if (t >= a.maxT) {
      a.push(t, id, w);
      // evicted first: the size bound may drop the oldest entry of this very window
      a.evict(horizon, this.maxEntriesPerActor, this.names);
      result = Math.min(a.distinct, limit + 1);
    } else {
      a.insert(t, id, w);
      result = a.scan(t - w, t, limit, this.names);
      a.evict(horizon, this.maxEntriesPerActor, this.names);
    }
    if (a.ref > this.latest) this.latest = a.ref;
    if (++this.sinceSweep >= SWEEP_EVERY) this.sweep();
    return result;
  }

  /** Sorts an actor's entries anew around its reference (set for the first time). */
  private resettle(a: ActorWindow): void {
    const until = a.ref + Math.max(this.latenessMs, this.windowMs);
    for (const [t, id] of a.takeAll()) {
      if (t > until) {
        a.aheadTimes.push(t);
        a.aheadIds.push(id);
      } else a.push(t, id, this.windowMs);
    }
    a.evict(a.ref - this.windowMs - this.latenessMs, this.maxEntriesPerActor, this.names);
  }

  /** Moves entries kept aside into the main arrays once the reference is near them. */
  private admitAhead(a: ActorWindow): void {
    const until = a.ref + Math.max(this.latenessMs, this.windowMs);
    let n = 0;
    while (n < a.aheadTimes.length && a.aheadTimes[n]! <= until) {
      a.push(a.aheadTimes[n]!, a.aheadIds[n]!, this.windowMs);
      n++;
    }
    if (n > 0) {
      a.aheadTimes.splice(0, n);
      a.aheadIds.splice(0, n);
    }
  }

  /** Distinct subjects of `actorId` in (t − w, t] as seen so far, without recording anything. */
  count(actorId: string, t: number): number {
    return this.actors.get(actorId)?.scan(t - this.windowMs, t, Number.POSITIVE_INFINITY, this.names) ?? 0;
  }

  /** Forgets actors whose reference time is more than w + lateness behind the latest of any actor. */
  sweep(): void {
    this.sinceSweep = 0;
    const horizon = this.latest - this.windowMs - this.latenessMs;
    for (const [id, a] of this.actors) {
      if (a.idleRef <= horizon) {
        for (const [, x] of a.entries()) this.names.release(x);
        this.actors.delete(id);
      }
    }
  }

  stats(): { actors: number; entries: number } {
    let entries = 0;
    for (const a of this.actors.values()) entries += a.size;
    return { actors: this.actors.size, entries };
  }

  private entriesOf(a: ActorWindow): BulkEntry[] {
    const { tenants, subjects } = this.names;
    const out: BulkEntry[] = [];
    for (const [t, id] of a.entries()) out.push([t, tenants[id]!, subjects[id]!]);
    return out.sort((x, y) => x[0] - y[0]);
  }

  /** JSON-serialisable; restore() of it answers every later observe() exactly as this window would. */
  snapshot(): BulkWindowSnapshot {
    const actors: BulkWindowSnapshot['actors'] = [];
    for (const [actorId, a] of this.actors) {
      if (a.size === 0) continue;
      const actor: BulkWindowSnapshot['actors'][number] = { actorId, entries: this.entriesOf(a), recent: a.recentInOrder() };
      if (a.ref > Number.NEGATIVE_INFINITY) actor.ref = a.ref;
      actors.push(actor);
    }
    return {
      version: 1,
      windowMs: this.windowMs,
      latenessMs: this.latenessMs,
      maxEntriesPerActor: this.maxEntriesPerActor,
      actors,
    };
  }

  /** Puts back one actor's entries (e.g. from a snapshot), replacing what it had. */
  restoreActor(actorId: string, entries: readonly BulkEntry[], ref?: number, recent?: readonly number[]): void {
    const old = this.actors.get(actorId);
    if (old !== undefined) {
      for (const [, x] of old.entries()) this.names.release(x);
      this.actors.delete(actorId);
    }
    if (entries.length === 0) return;
    const sorted = [...entries].sort((x, y) => x[0] - y[0]);
    // Older snapshots have no `recent`: their reference was the latest entry's time.
    const a = new ActorWindow(recent === undefined ? (ref ?? sorted[sorted.length - 1]![0]) : Number.NEGATIVE_INFINITY);
    for (const t of recent ?? []) a.see(t);
    if (ref !== undefined) a.ref = ref;
    const until =
      a.ref === Number.NEGATIVE_INFINITY ? Number.POSITIVE_INFINITY : a.ref + Math.max(this.latenessMs, this.windowMs);
    for (const [t, tenant, subject] of sorted) {
      const id = this.names.acquire(tenant, subject);
      if (t > until) {
        a.aheadTimes.push(t);
        a.aheadIds.push(id);
      } else a.push(t, id, this.windowMs);
    }
    a.evict(a.ref - this.windowMs - this.latenessMs, this.maxEntriesPerActor, this.names);
    this.actors.set(actorId, a);
    if (a.ref > this.latest) this.latest = a.ref;
  }

  static restore(snapshot: BulkWindowSnapshot): BulkWindow {
    if (snapshot.version !== 1) throw new PolicyError(`unsupported bulk window snapshot version ${String(snapshot.version)}`);
    const w = new BulkWindow({
      windowSeconds: snapshot.windowMs / 1000,
      allowedLatenessSeconds: snapshot.latenessMs / 1000,
      maxEntriesPerActor: snapshot.maxEntriesPerActor,
    });
    for (const { actorId, entries, ref, recent } of snapshot.actors) w.restoreActor(actorId, entries, ref, recent);
    return w;
  }
}
