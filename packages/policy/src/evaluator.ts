/** The compiled evaluator: every rule of docs/rules.md, each code at most once, deny > flag > allow. */
import type { AccessEvent } from '@custos/schemas';
import { type BulkCounter, BulkWindow, type BulkWindowOptions } from './bulk-window.js';
import { policyVersionOf } from './bundle.js';
import type { PolicyBundle } from './bundle-schema.js';
import { agreementCovers, type Compiled, type CParty, compile, inForce } from './compiled.js';
import { PolicyError } from './errors.js';
import * as msg from './messages.js';
import { compareCodes, type Outcome, type Reason, RULE_OUTCOMES, type RuleCode } from './rules.js';
import type { SubjectStateView } from './subject-state.js';

export interface EvalContext {
  subjectState: SubjectStateView;
  /** its windowMs must be the bundle's bulkAccess.windowSeconds × 1000 (see Evaluator.createBulkWindow) */
  bulk: BulkCounter;
  /**
   * `Date.parse(event.occurredAt)`, when the caller has it already (e.g. decoded from Avro as epoch
   * ms): saves parsing the string back. Must be that value exactly.
   */
  time?: number;
}

/** A decision without eventId, decidedAt and event (see toDecision). */
export interface Judgement {
  outcome: Outcome;
  /** sorted by code, each code once */
  reasons: Reason[];
  /** ids of the grants (and agreements) that allowed the access; empty when denied */
  basis: string[];
  policyVersion: string;
}

export interface Evaluator {
  readonly policyVersion: string;
  readonly bundle: PolicyBundle;
  /** Judges one validated event. Records it in ctx.bulk when its actor is a known staff member. */
  evaluate(event: AccessEvent, ctx: EvalContext): Judgement;
  /**
   * Records an event in the bulk window exactly as evaluate would, without judging (for replay after
   * restart). `time`: as EvalContext.time.
   */
  observe(event: AccessEvent, bulk: BulkCounter, time?: number): void;
  createBulkWindow(options?: Omit<BulkWindowOptions, 'windowSeconds'>): BulkWindow;
}

function add(reasons: Reason[] | undefined, code: RuleCode, message: string): Reason[] {
  const r = { code, message };
  if (reasons === undefined) return [r];
  reasons.push(r);
  return reasons;
}

function addOnce(list: string[], id: string): void {
  if (!list.includes(id)) list.push(id);
}

const NONE = 0;
const NO_AGREEMENT = 1;
const EXPIRED = 2;

class CompiledEvaluator implements Evaluator {
  private readonly c: Compiled;

  constructor(
    readonly bundle: PolicyBundle,
    readonly policyVersion: string,
  ) {
    this.c = compile(bundle);
  }

  createBulkWindow(options: Omit<BulkWindowOptions, 'windowSeconds'> = {}): BulkWindow {
    return new BulkWindow({ ...options, windowSeconds: this.bundle.bulkAccess.windowSeconds });
  }

  private time(e: AccessEvent): number {
    const t = Date.parse(e.occurredAt);
    // parseAccessEvent guarantees a timestamp; anything else is a caller bug, not a denial.
    if (Number.isNaN(t)) throw new PolicyError(`event ${e.eventId}: occurredAt "${e.occurredAt}" is not a timestamp`);
    return t;
  }

  private checkWindow(bulk: BulkCounter): void {
    if (bulk.windowMs !== this.c.windowMs) {
      throw new PolicyError(
        `bulk window is ${bulk.windowMs / 1000} s but policy ${this.policyVersion} says ${this.c.windowMs / 1000} s; create it with evaluator.createBulkWindow()`,
      );
    }
  }

  observe(e: AccessEvent, bulk: BulkCounter, time?: number): void {
    this.checkWindow(bulk);
    if (e.actor.type === 'staff' && this.c.staff.has(e.actor.id))
      bulk.observe(e.actor.id, time ?? this.time(e), e.tenantId, e.subject.id);
  }

  evaluate(e: AccessEvent, ctx: EvalContext): Judgement {
    const c = this.c;
    const t = ctx.time ?? this.time(e);
    this.checkWindow(ctx.bulk);
    const { action, purpose, categories } = e;
    let reasons: Reason[] | undefined;
    const basis: string[] = [];

    const staff = e.actor.type === 'staff' ? c.staff.get(e.actor.id) : undefined;
    let processor: CParty | undefined;
    if (e.actor.type === 'processor') {
      const p = c.parties.get(e.actor.id);
      if (p !== undefined && p.type === 'processor') processor = p;
    }
    if (staff === undefined && processor === undefined) reasons = add(reasons, 'UNKNOWN_ACTOR', msg.unknownActor(c, e));

    for (let i = 0; i < categories.length; i++) {
      if (!c.categories.has(categories[i]!)) {
        reasons = add(reasons, 'UNKNOWN_CATEGORY', msg.unknownCategory(c, e));
        break;
      }
    }
    if (!c.purposes.has(purpose)) reasons = add(reasons, 'UNKNOWN_PURPOSE', msg.unknownPurpose(e));
    if (c.prohibited.has(purpose)) reasons = add(reasons, 'PROHIBITED_PURPOSE', msg.prohibitedPurpose(c, e));

    if (staff !== undefined) {
      if (!staff.allTenants && !staff.tenants.has(e.tenantId)) {
        reasons = add(reasons, 'TENANT_NOT_ASSIGNED', msg.tenantNotAssigned(staff, e));
      }
      let roleFail = false;
      let purposeFail = false;
      const assignments = staff.assignments;
      for (let ci = 0; ci < categories.length; ci++) {
        const cat = categories[ci]!;
        let covered = false;
        let permitted = false;
        for (let ai = 0; ai < assignments.length; ai++) {
          const a = assignments[ai]!;
          if (t < a.from || t >= a.toExcl) continue;
          const idx = a.role.byAction.get(action);
          if (idx === undefined) continue;
          const wild = idx.wildcard;
          for (let gi = 0; gi < wild.length; gi++) {
            covered = true;
            if (wild[gi]!.purposes.has(purpose)) {
              permitted = true;
              addOnce(basis, wild[gi]!.id);
            }
          }
          const grants = idx.byCategory.get(cat);
          if (grants !== undefined) {
            for (let gi = 0; gi < grants.length; gi++) {
              covered = true;
              if (grants[gi]!.purposes.has(purpose)) {
                permitted = true;
                addOnce(basis, grants[gi]!.id);
              }
            }
          }
        }
        if (!covered) roleFail = true;
        else if (!permitted) purposeFail = true;
      }
      if (roleFail) reasons = add(reasons, 'ROLE_NOT_AUTHORIZED', msg.roleNotAuthorizedStaff(staff, e, t));
      if (purposeFail) reasons = add(reasons, 'PURPOSE_NOT_PERMITTED', msg.purposeNotPermitted(staff, e, t));

      // Counted whatever the outcome, this event included.
      // Only "above the threshold or not" matters: the count may stop at threshold + 1.
      const distinct = ctx.bulk.observe(staff.id, t, e.tenantId, e.subject.id, c.distinctSubjects);
      if (e.recordCount > c.recordsPerEvent || distinct > c.distinctSubjects) {
        reasons = add(reasons, 'BULK_ACCESS', msg.bulkAccess(c, staff, e, distinct, t));
      }
    } else if (processor !== undefined) {
      if (action === 'export' || action === 'share' || action === 'disclose') {
        reasons = add(reasons, 'ROLE_NOT_AUTHORIZED', msg.roleNotAuthorizedProcessor(processor, e));
      } else {
        const r = this.agreements(processor, categories, purpose, t, basis);
        if (r === NO_AGREEMENT) reasons = add(reasons, 'NO_AGREEMENT', msg.noAgreement('actor', processor, processor.id, e));
        else if (r === EXPIRED) reasons = add(reasons, 'AGREEMENT_EXPIRED', msg.agreementExpired(processor, e, t));
      }
    }

    const recipient = e.recipient;
    let rParty: CParty | undefined;
    if (recipient !== undefined && recipient !== null) {
      rParty = c.parties.get(recipient.id);
      if (rParty === undefined) reasons = add(reasons, 'UNKNOWN_RECIPIENT', msg.unknownRecipient(e));
      // The bundle says what a party is; a contradicting claim is shown, never believed.
      else if (recipient.type !== rParty.type)
        reasons = add(reasons, 'RECIPIENT_TYPE_MISMATCH', msg.recipientTypeMismatch(rParty, e));
      if (action === 'share' || action === 'export') {
        const r = this.agreements(rParty, categories, purpose, t, basis);
        if (r === NO_AGREEMENT) reasons = add(reasons, 'NO_AGREEMENT', msg.noAgreement('recipient', rParty, recipient.id, e));
        else if (r === EXPIRED && rParty !== undefined)
          reasons = add(reasons, 'AGREEMENT_EXPIRED', msg.agreementExpired(rParty, e, t));
      }
    }

    if (action === 'disclose') {
      const blank = e.legalBasis === undefined || e.legalBasis === null || e.legalBasis.trim() === '';
      if (blank || rParty === undefined || rParty.type !== 'authority') {
        reasons = add(reasons, 'DISCLOSURE_WITHOUT_LEGAL_BASIS', msg.disclosureWithoutLegalBasis(rParty, e, blank));
      }
    }

    if (e.dataCollectedAt !== undefined && e.dataCollectedAt !== null && action !== 'delete') {
      const collected = Date.parse(e.dataCollectedAt);
      for (let i = 0; i < categories.length; i++) {
        const ms = c.retentionMs.get(categories[i]!);
        if (ms !== undefined && t > collected + ms) {
          reasons = add(reasons, 'RETENTION_EXPIRED', msg.retentionExpired(c, e, t, collected));
          break;
        }
      }
    }

    const history = ctx.subjectState.get(e.tenantId, e.subject.id);
    if (history !== undefined) {
      if (purpose === 'communication.promotional') {
        const out = history.optedOut(t);
        if (out !== undefined) reasons = add(reasons, 'PROMOTIONAL_OPT_OUT', msg.promotionalOptOut(e, out));
      }
      if (action !== 'delete') {
        const erased = history.erased(t);
        if (erased !== undefined && !(purpose === 'legal.compliance' && history.legalHold(t) !== undefined)) {
          reasons = add(reasons, 'SUBJECT_ERASED', msg.subjectErased(e, erased));
        }
      }
    }

    let outcome: Outcome = 'allow';
    if (reasons !== undefined) {
      for (let i = 0; i < reasons.length; i++) {
        const kind = RULE_OUTCOMES[reasons[i]!.code];
        if (kind === 'deny') {
          outcome = 'deny';
          break;
        }
        if (kind === 'flag') outcome = 'flag';
      }
    }
    if (action === 'disclose' && outcome !== 'deny') {
      reasons = add(reasons, 'LEGAL_DISCLOSURE', msg.legalDisclosure(c, e));
      outcome = 'flag';
    }
    if (reasons !== undefined && reasons.length > 1) reasons.sort(compareCodes);
    return { outcome, reasons: reasons ?? [], basis: outcome === 'deny' ? [] : basis, policyVersion: this.policyVersion };
  }

  /** Agreements of `party` that list every category and the purpose: none, none in force, or fine (ids into basis). */
  private agreements(
    party: CParty | undefined,
    categories: readonly string[],
    purpose: string,
    t: number,
    basis: string[],
  ): number {
    if (party === undefined) return NO_AGREEMENT;
    let matched = false;
    let ok = false;
    for (const a of party.agreements) {
      if (!agreementCovers(a, categories, purpose)) continue;
      matched = true;
      if (inForce(a, t)) {
        ok = true;
        addOnce(basis, a.id);
      }
    }
    return !matched ? NO_AGREEMENT : ok ? NONE : EXPIRED;
  }
}

export function compileBundle(bundle: PolicyBundle, policyVersion: string = policyVersionOf(bundle)): Evaluator {
  return new CompiledEvaluator(bundle, policyVersion);
}
