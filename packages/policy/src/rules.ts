/** The rule codes of docs/rules.md and the outcome each one forces. */

/** Alphabetical, the order codes appear in a decision. */
export const RULE_CODES = [
  'AGREEMENT_EXPIRED',
  'BULK_ACCESS',
  'DISCLOSURE_WITHOUT_LEGAL_BASIS',
  'LEGAL_DISCLOSURE',
  'NO_AGREEMENT',
  'PROHIBITED_PURPOSE',
  'PROMOTIONAL_OPT_OUT',
  'PURPOSE_NOT_PERMITTED',
  'RECIPIENT_TYPE_MISMATCH',
  'RETENTION_EXPIRED',
  'ROLE_NOT_AUTHORIZED',
  'SUBJECT_ERASED',
  'TENANT_NOT_ASSIGNED',
  'UNKNOWN_ACTOR',
  'UNKNOWN_CATEGORY',
  'UNKNOWN_PURPOSE',
  'UNKNOWN_RECIPIENT',
] as const;

export type RuleCode = (typeof RULE_CODES)[number];
export type Outcome = 'allow' | 'flag' | 'deny';
/**
 * What a code does to the outcome. A `note` changes nothing: it records a fact the decision should
 * show (e.g. an event's claimed recipient type that the bundle contradicts) without judging it.
 */
export type CodeKind = 'deny' | 'flag' | 'note';

export const RULE_OUTCOMES: Readonly<Record<RuleCode, CodeKind>> = {
  AGREEMENT_EXPIRED: 'deny',
  BULK_ACCESS: 'flag',
  DISCLOSURE_WITHOUT_LEGAL_BASIS: 'deny',
  LEGAL_DISCLOSURE: 'flag',
  NO_AGREEMENT: 'deny',
  PROHIBITED_PURPOSE: 'deny',
  PROMOTIONAL_OPT_OUT: 'deny',
  PURPOSE_NOT_PERMITTED: 'deny',
  RECIPIENT_TYPE_MISMATCH: 'note',
  RETENTION_EXPIRED: 'deny',
  ROLE_NOT_AUTHORIZED: 'deny',
  SUBJECT_ERASED: 'deny',
  TENANT_NOT_ASSIGNED: 'deny',
  UNKNOWN_ACTOR: 'deny',
  UNKNOWN_CATEGORY: 'deny',
  UNKNOWN_PURPOSE: 'deny',
  UNKNOWN_RECIPIENT: 'deny',
};

export interface Reason {
  code: RuleCode;
  message: string;
}

/** deny > flag > allow; notes count for nothing. */
export function outcomeOf(codes: Iterable<RuleCode>): Outcome {
  let outcome: Outcome = 'allow';
  for (const c of codes) {
    const kind = RULE_OUTCOMES[c];
    if (kind === 'deny') return 'deny';
    if (kind === 'flag') outcome = 'flag';
  }
  return outcome;
}

export function compareCodes(a: Reason, b: Reason): number {
  return a.code < b.code ? -1 : a.code > b.code ? 1 : 0;
}
