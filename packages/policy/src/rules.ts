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

export const RULE_OUTCOMES: Readonly<Record<RuleCode, 'deny' | 'flag'>> = {
  AGREEMENT_EXPIRED: 'deny',
  BULK_ACCESS: 'flag',
  DISCLOSURE_WITHOUT_LEGAL_BASIS: 'deny',
  LEGAL_DISCLOSURE: 'flag',
  NO_AGREEMENT: 'deny',
  PROHIBITED_PURPOSE: 'deny',
  PROMOTIONAL_OPT_OUT: 'deny',
  PURPOSE_NOT_PERMITTED: 'deny',
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

/** deny > flag > allow. */
export function outcomeOf(codes: Iterable<RuleCode>): Outcome {
  let outcome: Outcome = 'allow';
  for (const c of codes) {
    if (RULE_OUTCOMES[c] === 'deny') return 'deny';
    outcome = 'flag';
  }
  return outcome;
}

export function compareCodes(a: Reason, b: Reason): number {
  return a.code < b.code ? -1 : a.code > b.code ? 1 : 0;
}
