/**
 * Adapts the policy engine to the stream: the current evaluator (swappable at run time: hot reload)
 * and the subject-state table. Bulk-access windows are kept by the enforcer, one per input
 * partition, and passed in, so that a partition's windows can be dropped and rebuilt on their own.
 */
import {
  type BulkCounter,
  BulkWindow,
  compileBundle,
  type Evaluator,
  type Judgement,
  loadBundle,
  SubjectStateStore,
} from '@custos/policy';
import type { PolicyHolder } from '@custos/policy/follow';
import type { AccessEvent, SubjectStateChange } from '@custos/schemas';

export interface Judge {
  /** the version that judges the next event */
  readonly policyVersion: string;
  /** window length (ms) that `bulk` must have for the current policy */
  readonly windowMs: number;
  /** `time`: Date.parse(event.occurredAt) when the caller has it (see EvalContext.time) */
  judge(event: AccessEvent, bulk: BulkCounter, time?: number): Judgement;
  /** Records the event in `bulk` as judge() would, without judging (rebuilding windows). */
  observe(event: AccessEvent, bulk: BulkCounter, time?: number): void;
  createBulkWindow(): BulkWindow;
  /** false when the change was already applied (replays are harmless) */
  applySubjectState(change: SubjectStateChange): boolean;
}

/** A judge whose policy can be replaced while it runs. */
export interface ReloadableJudge extends Judge, PolicyHolder {
  /** the bundle file it was loaded from, watched for changes when set */
  readonly file?: string | undefined;
  /** Swaps in `evaluator`; false when it has the version already judging. */
  replace(evaluator: Evaluator): boolean;
}

export function isReloadable(j: Judge): j is ReloadableJudge {
  return typeof (j as Partial<ReloadableJudge>).replace === 'function';
}

export class PolicyJudge implements ReloadableJudge {
  readonly subjectState = new SubjectStateStore();
  private readonly listeners: ((evaluator: Evaluator) => void)[] = [];

  constructor(
    private evaluator: Evaluator,
    readonly file?: string,
  ) {}

  get policyVersion(): string {
    return this.evaluator.policyVersion;
  }

  /** the bundle judging now */
  get bundle(): Evaluator['bundle'] {
    return this.evaluator.bundle;
  }

  /** Calls `listener` with every evaluator swapped in (e.g. to keep a worker's copy in step). */
  onReplace(listener: (evaluator: Evaluator) => void): void {
    this.listeners.push(listener);
  }

  get windowMs(): number {
    return this.evaluator.bundle.bulkAccess.windowSeconds * 1000;
  }

  judge(event: AccessEvent, bulk: BulkCounter, time?: number): Judgement {
    return this.evaluator.evaluate(event, { subjectState: this.subjectState, bulk, time });
  }

  observe(event: AccessEvent, bulk: BulkCounter, time?: number): void {
    this.evaluator.observe(event, bulk, time);
  }

  createBulkWindow(): BulkWindow {
    return this.evaluator.createBulkWindow();
  }

  applySubjectState(change: SubjectStateChange): boolean {
    return this.subjectState.apply(change);
  }

  replace(evaluator: Evaluator): boolean {
    if (evaluator.policyVersion === this.evaluator.policyVersion) return false;
    this.evaluator = evaluator;
    for (const l of this.listeners) l(evaluator);
    return true;
  }
}

/**
 * Carries a window over to the judge's current window length (after a reload changed it). The
 * entries are kept; when the new window is longer than the old window + lateness, the events older
 * than that were already forgotten, so counts are low until the new window has filled.
 */
export function rewindow(old: BulkWindow, judge: Judge): BulkWindow {
  const fresh = judge.createBulkWindow();
  return BulkWindow.restore({ ...old.snapshot(), windowMs: fresh.windowMs, latenessMs: fresh.latenessMs });
}

export async function createPolicyJudge(path: string): Promise<PolicyJudge> {
  const loaded = await loadBundle(path);
  return new PolicyJudge(compileBundle(loaded.bundle, loaded.policyVersion), path);
}
