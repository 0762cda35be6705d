/**
 * Consent and data-subject-rights state per subject (tenantId, subjectId), as a history of changes so
 * that "the latest change at or before t" holds for access events that arrive out of order.
 *
 * Ordering: changes are kept sorted by occurredAt; changes with the same occurredAt keep the order in
 * which they were applied (file order, or Kafka arrival order), so of an opt-out and an opt-in at the
 * same millisecond the one applied last wins. A change whose eventId was already applied is ignored
 * (replays after a restart are harmless).
 */
import type { SubjectStateChange } from '@custos/schemas';
import { PolicyError } from './errors.js';

export type ChangeKind = SubjectStateChange['change'];

export interface StoredChange {
  eventId: string;
  /** epoch ms */
  at: number;
  change: ChangeKind;
  reference?: string | null;
}

/** What the evaluator asks of one subject's history; each returns the deciding change, if any. */
export interface SubjectHistory {
  /** the latest opt-out/opt-in at or before t, when it is an opt-out */
  optedOut(t: number): StoredChange | undefined;
  /** the first erasure at or before t */
  erased(t: number): StoredChange | undefined;
  /** the latest hold placement/release at or before t, when it is a placement */
  legalHold(t: number): StoredChange | undefined;
}

export interface SubjectStateView {
  /** undefined when the subject has no recorded change (the common case, and the cheap one) */
  get(tenantId: string, subjectId: string): SubjectHistory | undefined;
}

/** For evaluations that need no subject state. */
export const NO_SUBJECT_STATE: SubjectStateView = { get: () => undefined };

export interface SubjectStateSnapshot {
  version: 1;
  subjects: Array<{
    tenantId: string;
    subjectId: string;
    /** sorted by occurredAt, ties in applied order */
    changes: Array<{ eventId: string; occurredAt: string; change: ChangeKind; reference?: string | null }>;
  }>;
}

class History implements SubjectHistory {
  readonly changes: StoredChange[] = [];

  has(eventId: string): boolean {
    return this.changes.some((c) => c.eventId === eventId);
  }

  insert(c: StoredChange): void {
    let i = this.changes.length;
    // After every change at the same instant: same-instant ties go to the later arrival.
    while (i > 0 && this.changes[i - 1]!.at > c.at) i--;
    this.changes.splice(i, 0, c);
  }

  private latest(t: number, a: ChangeKind, b: ChangeKind): StoredChange | undefined {
    for (let i = this.changes.length - 1; i >= 0; i--) {
      const c = this.changes[i]!;
      if (c.at <= t && (c.change === a || c.change === b)) return c;
    }
    return undefined;
  }

  optedOut(t: number): StoredChange | undefined {
    const c = this.latest(t, 'promotional_opt_out', 'promotional_opt_in');
    return c?.change === 'promotional_opt_out' ? c : undefined;
  }

  erased(t: number): StoredChange | undefined {
    return this.changes.find((c) => c.change === 'erasure_completed' && c.at <= t);
  }

  legalHold(t: number): StoredChange | undefined {
    const c = this.latest(t, 'legal_hold_placed', 'legal_hold_released');
    return c?.change === 'legal_hold_placed' ? c : undefined;
  }
}

export class SubjectStateStore implements SubjectStateView {
  // Nested maps: no key string is built per lookup.
  private readonly tenants = new Map<string, Map<string, History>>();
  private count = 0;

  /** Records a validated change; false when its eventId was already applied to that subject. */
  apply(change: SubjectStateChange): boolean {
    const at = Date.parse(change.occurredAt);
    if (Number.isNaN(at)) throw new PolicyError(`subject-state change ${change.eventId}: occurredAt is not a timestamp`);
    let subjects = this.tenants.get(change.tenantId);
    if (subjects === undefined) {
      subjects = new Map();
      this.tenants.set(change.tenantId, subjects);
    }
    let h = subjects.get(change.subjectId);
    if (h === undefined) {
      h = new History();
      subjects.set(change.subjectId, h);
      this.count++;
    } else if (h.has(change.eventId)) return false;
    const stored: StoredChange = { eventId: change.eventId, at, change: change.change };
    if (change.reference !== undefined) stored.reference = change.reference;
    h.insert(stored);
    return true;
  }

  get(tenantId: string, subjectId: string): SubjectHistory | undefined {
    return this.tenants.get(tenantId)?.get(subjectId);
  }

  /** number of subjects with at least one change */
  get size(): number {
    return this.count;
  }

  /** One subject's full history, e.g. as the value of a per-subject compacted changelog record. */
  snapshotSubject(tenantId: string, subjectId: string): SubjectStateSnapshot['subjects'][number] | undefined {
    const h = this.tenants.get(tenantId)?.get(subjectId);
    if (h === undefined) return undefined;
    return {
      tenantId,
      subjectId,
      changes: h.changes.map((c) => {
        const out: SubjectStateSnapshot['subjects'][number]['changes'][number] = {
          eventId: c.eventId,
          occurredAt: new Date(c.at).toISOString(),
          change: c.change,
        };
        if (c.reference !== undefined) out.reference = c.reference;
        return out;
      }),
    };
  }

  /** JSON-serialisable; `restore` of it rebuilds an identical store, tie order included. */
  snapshot(): SubjectStateSnapshot {
    const subjects: SubjectStateSnapshot['subjects'] = [];
    for (const [tenantId, m] of this.tenants) {
      for (const subjectId of m.keys()) {
        const s = this.snapshotSubject(tenantId, subjectId);
        if (s !== undefined) subjects.push(s);
      }
    }
    return { version: 1, subjects };
  }

  /** Replaces nothing: adds the snapshot's changes (in their stored order) to this store. */
  load(snapshot: SubjectStateSnapshot): this {
    if (snapshot.version !== 1) throw new PolicyError(`unsupported subject-state snapshot version ${String(snapshot.version)}`);
    for (const s of snapshot.subjects) {
      for (const c of s.changes) this.apply({ ...c, tenantId: s.tenantId, subjectId: s.subjectId });
    }
    return this;
  }

  static restore(snapshot: SubjectStateSnapshot): SubjectStateStore {
    return new SubjectStateStore().load(snapshot);
  }
}
