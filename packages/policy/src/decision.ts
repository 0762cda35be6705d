import type { AccessEvent, Decision } from '@custos/schemas';
import type { Judgement } from './evaluator.js';

/** The full decision record of the contract for a judged event. */
export function toDecision(event: AccessEvent, judgement: Judgement, decidedAt: Date = new Date()): Decision {
  return {
    eventId: event.eventId,
    decidedAt: decidedAt.toISOString(),
    outcome: judgement.outcome,
    reasons: judgement.reasons,
    basis: judgement.basis,
    policyVersion: judgement.policyVersion,
    event,
  };
}
