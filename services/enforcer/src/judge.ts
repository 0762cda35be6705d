/**
 * Adapts the policy engine to the stream: one evaluator, the subject-state table and the per-actor
 * bulk windows, with the bundle swappable at run time (hot reload keeps the state).
 */
import { type BulkWindow, compileBundle, type Evaluator, type Judgement, loadBundle, SubjectStateStore } from '@custos/policy';
import type { AccessEvent, SubjectStateChange } from '@custos/schemas';

export interface Judge {
  readonly policyVersion: string;
  judge(event: AccessEvent): Judgement;
  applySubjectState(change: SubjectStateChange): void;
}

export class PolicyJudge implements Judge {
  readonly subjectState = new SubjectStateStore();
  private bulk: BulkWindow;

  constructor(private evaluator: Evaluator) {
    this.bulk = evaluator.createBulkWindow();
  }

  get policyVersion(): string {
    return this.evaluator.policyVersion;
  }

  judge(event: AccessEvent): Judgement {
    return this.evaluator.evaluate(event, { subjectState: this.subjectState, bulk: this.bulk });
  }

  applySubjectState(change: SubjectStateChange): void {
    this.subjectState.apply(change);
  }

  /** Swaps in a new bundle; the bulk window is kept unless the window length changed. */
  replace(evaluator: Evaluator): void {
    if (evaluator.createBulkWindow().windowMs !== this.bulk.windowMs) this.bulk = evaluator.createBulkWindow();
    this.evaluator = evaluator;
  }
}

export async function createPolicyJudge(path: string): Promise<PolicyJudge> {
  const loaded = await loadBundle(path);
  return new PolicyJudge(compileBundle(loaded.bundle, loaded.policyVersion));
}
