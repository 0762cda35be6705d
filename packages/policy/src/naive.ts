/**
 * A deliberately straightforward evaluator: it reads the bundle's arrays for every event, with no
 * precomputed tables. It is the oracle the compiled evaluator is tested against and the baseline of
 * the benchmark, so it follows docs/rules.md line by line and shares no code with evaluator.ts.
 */
import type { AccessEvent, SubjectStateChange } from '@custos/schemas';
import type { BulkCounter } from './bulk-window.js';
import type { PolicyBundle } from './bundle-schema.js';
import type { EvalContext, Judgement } from './evaluator.js';
import { type Outcome, type Reason, RULE_OUTCOMES, type RuleCode } from './rules.js';
import type { StoredChange, SubjectHistory, SubjectStateView } from './subject-state.js';

const DAY = 86_400_000;

function inPeriod(t: number, from: string, to: string | undefined): boolean {
  return Date.parse(from) <= t && (to === undefined || t < Date.parse(to) + DAY);
}

function covers(list: string[], category: string): boolean {
  return list.includes('*') || list.includes(category);
}

function addBasis(basis: string[], id: string): void {
  if (!basis.includes(id)) basis.push(id);
}

/** Case (a) or (b) of NO_AGREEMENT / AGREEMENT_EXPIRED for the agreements of `partyId`. */
function checkAgreements(
  bundle: PolicyBundle,
  e: AccessEvent,
  t: number,
  partyId: string,
  codes: Set<RuleCode>,
  basis: string[],
): void {
  const matching = bundle.agreements.filter(
    (a) => a.party === partyId && e.categories.every((c) => covers(a.categories, c)) && a.purposes.includes(e.purpose),
  );
  if (matching.length === 0) codes.add('NO_AGREEMENT');
  else {
    const live = matching.filter((a) => inPeriod(t, a.from, a.to));
    if (live.length === 0) codes.add('AGREEMENT_EXPIRED');
    for (const a of live) addBasis(basis, a.id);
  }
}

export function naiveEvaluate(bundle: PolicyBundle, e: AccessEvent, ctx: EvalContext, policyVersion = ''): Judgement {
  const t = Date.parse(e.occurredAt);
  const codes = new Set<RuleCode>();
  const basis: string[] = [];

  const staff = e.actor.type === 'staff' ? bundle.staff.find((s) => s.id === e.actor.id) : undefined;
  const processor =
    e.actor.type === 'processor' ? bundle.parties.find((p) => p.id === e.actor.id && p.type === 'processor') : undefined;
  if (staff === undefined && processor === undefined) codes.add('UNKNOWN_ACTOR');
  if (e.categories.some((c) => !Object.hasOwn(bundle.categories, c))) codes.add('UNKNOWN_CATEGORY');
  if (!Object.hasOwn(bundle.purposes, e.purpose)) codes.add('UNKNOWN_PURPOSE');
  if (bundle.prohibitedPurposes.includes(e.purpose)) codes.add('PROHIBITED_PURPOSE');

  if (staff !== undefined) {
    if (!staff.tenants.includes('*') && !staff.tenants.includes(e.tenantId)) codes.add('TENANT_NOT_ASSIGNED');
    const held = staff.roles.filter((r) => inPeriod(t, r.from, r.to)).flatMap((r) => bundle.roles[r.role] ?? []);
    for (const c of e.categories) {
      const withAction = held.filter((g) => g.actions.includes(e.action) && covers(g.categories, c));
      if (withAction.length === 0) codes.add('ROLE_NOT_AUTHORIZED');
      else {
        const permitted = withAction.filter((g) => g.purposes.includes(e.purpose));
        if (permitted.length === 0) codes.add('PURPOSE_NOT_PERMITTED');
        for (const g of permitted) addBasis(basis, g.id);
      }
    }
    const distinct = ctx.bulk.observe(staff.id, t, e.tenantId, e.subject.id);
    if (e.recordCount > bundle.bulkAccess.recordsPerEvent || distinct > bundle.bulkAccess.distinctSubjects) {
      codes.add('BULK_ACCESS');
    }
  }
  if (processor !== undefined) {
    if (e.action === 'export' || e.action === 'share' || e.action === 'disclose') codes.add('ROLE_NOT_AUTHORIZED');
    else checkAgreements(bundle, e, t, processor.id, codes, basis);
  }
  const recipient = e.recipient ?? undefined;
  const recipientParty = recipient === undefined ? undefined : bundle.parties.find((p) => p.id === recipient.id);
  if (recipient !== undefined && recipientParty === undefined) codes.add('UNKNOWN_RECIPIENT');
  if (recipient !== undefined && recipientParty !== undefined && recipient.type !== recipientParty.type)
    codes.add('RECIPIENT_TYPE_MISMATCH');
  if ((e.action === 'share' || e.action === 'export') && recipient !== undefined)
    checkAgreements(bundle, e, t, recipient.id, codes, basis);
  if (e.action === 'disclose' && (!e.legalBasis?.trim() || recipientParty?.type !== 'authority')) {
    codes.add('DISCLOSURE_WITHOUT_LEGAL_BASIS');
  }
  if (e.dataCollectedAt && e.action !== 'delete') {
    const collected = Date.parse(e.dataCollectedAt);
    const expired = e.categories.some((c) => {
      const days = bundle.retentionDays[c];
      return days !== undefined && t > collected + days * 86_400 * 1000;
    });
    if (expired) codes.add('RETENTION_EXPIRED');
  }
  const h = ctx.subjectState.get(e.tenantId, e.subject.id);
  if (e.purpose === 'communication.promotional' && h?.optedOut(t)) codes.add('PROMOTIONAL_OPT_OUT');
  if (h?.erased(t) && e.action !== 'delete' && !(e.purpose === 'legal.compliance' && h.legalHold(t))) codes.add('SUBJECT_ERASED');
  if (e.action === 'disclose' && ![...codes].some((c) => RULE_OUTCOMES[c] === 'deny')) codes.add('LEGAL_DISCLOSURE');

  const sorted = [...codes].sort();
  const outcome: Outcome = sorted.some((c) => RULE_OUTCOMES[c] === 'deny')
    ? 'deny'
    : sorted.some((c) => RULE_OUTCOMES[c] === 'flag')
      ? 'flag'
      : 'allow';
  const reasons: Reason[] = sorted.map((code) => ({ code, message: code.toLowerCase().replaceAll('_', ' ') }));
  return { outcome, reasons, basis: outcome === 'deny' ? [] : basis, policyVersion };
}

/** Subject state as a plain list of changes in arrival order, scanned on every question. */
export class NaiveSubjectState implements SubjectStateView {
  readonly changes: SubjectStateChange[] = [];

  apply(change: SubjectStateChange): void {
    this.changes.push(change);
  }

  get(tenantId: string, subjectId: string): SubjectHistory | undefined {
    const mine = this.changes.filter((c) => c.tenantId === tenantId && c.subjectId === subjectId);
    if (mine.length === 0) return undefined;
    const stored = (c: SubjectStateChange): StoredChange => ({
      eventId: c.eventId,
      at: Date.parse(c.occurredAt),
      change: c.change,
    });
    // Latest at or before t; of equal times the one that arrived last.
    const latest = (t: number, kinds: string[]) => {
      let best: SubjectStateChange | undefined;
      for (const c of mine) {
        if (
          kinds.includes(c.change) &&
          Date.parse(c.occurredAt) <= t &&
          (best === undefined || Date.parse(c.occurredAt) >= Date.parse(best.occurredAt))
        ) {
          best = c;
        }
      }
      return best;
    };
    return {
      optedOut: (t) => {
        const c = latest(t, ['promotional_opt_out', 'promotional_opt_in']);
        return c?.change === 'promotional_opt_out' ? stored(c) : undefined;
      },
      erased: (t) => {
        const c = mine.find((x) => x.change === 'erasure_completed' && Date.parse(x.occurredAt) <= t);
        return c === undefined ? undefined : stored(c);
      },
      legalHold: (t) => {
        const c = latest(t, ['legal_hold_placed', 'legal_hold_released']);
        return c?.change === 'legal_hold_placed' ? stored(c) : undefined;
      },
    };
  }
}

/** Bulk counting by scanning every event observed so far. Quadratic; for tests only. */
export class NaiveBulkCounter implements BulkCounter {
  private readonly seen: Array<{ actorId: string; t: number; key: string }> = [];

  constructor(readonly windowMs: number) {}

  observe(actorId: string, t: number, tenantId: string, subjectId: string): number {
    this.seen.push({ actorId, t, key: JSON.stringify([tenantId, subjectId]) });
    const keys = new Set(this.seen.filter((s) => s.actorId === actorId && s.t > t - this.windowMs && s.t <= t).map((s) => s.key));
    return keys.size;
  }
}
