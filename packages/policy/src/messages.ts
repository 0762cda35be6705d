/** Reason messages a person can act on: they name the grant, agreement, role, dates and subject. Built only when a rule fires. */
import type { AccessEvent } from '@custos/schemas';
import {
  agreementCovers,
  type CAgreement,
  type CGrant,
  type Compiled,
  type CParty,
  type CStaff,
  holds,
  inForce,
} from './compiled.js';
import { formatDay, formatInstant } from './dates.js';
import type { StoredChange } from './subject-state.js';

// one item (most events have one category) needs no de-duplication
const list = (xs: readonly string[]) => (xs.length === 1 ? xs[0]! : [...new Set(xs)].join(', '));
const quoted = (xs: readonly string[]) => [...new Set(xs)].map((x) => `"${x}"`).join(', ');
const who = (s: CStaff) => `${s.name} (${s.id})`;
const party = (p: CParty) => `${p.name} (${p.id}, ${p.type})`;
const period = (from: string, to: string | undefined) => (to === undefined ? `from ${from}` : `${from} to ${to}`);
const ref = (c: StoredChange) => (c.reference ? ` (${c.reference})` : '');
const subject = (e: AccessEvent) => `${e.tenantId}/${e.subject.id}`;

function grantCats(g: CGrant): string {
  return g.all ? 'all categories' : list(g.categories);
}

export function unknownActor(c: Compiled, e: AccessEvent): string {
  if (e.actor.type === 'staff') return `No staff member has the id "${e.actor.id}"`;
  const p = c.parties.get(e.actor.id);
  return p === undefined
    ? `No processor party has the id "${e.actor.id}"`
    : `${p.name} (${p.id}) is a ${p.type} party, not a processor`;
}

export function unknownCategory(c: Compiled, e: AccessEvent): string {
  const unknown = e.categories.filter((x) => !c.categories.has(x));
  return unknown.length === 1
    ? `Category ${quoted(unknown)} is not defined in the policy`
    : `Categories ${quoted(unknown)} are not defined in the policy`;
}

export function unknownPurpose(e: AccessEvent): string {
  return `Purpose "${e.purpose}" is not defined in the policy`;
}

export function prohibitedPurpose(c: Compiled, e: AccessEvent): string {
  const what = c.purposes.get(e.purpose);
  return `Purpose "${e.purpose}" is prohibited by the policy${what ? `: ${what}` : ''}`;
}

export function tenantNotAssigned(s: CStaff, e: AccessEvent): string {
  return `${who(s)} is not assigned to tenant ${e.tenantId} (assigned: ${s.tenantList.length > 0 ? list(s.tenantList) : 'none'})`;
}

/** Grants of held roles that list the action and the category. */
function covering(s: CStaff, e: AccessEvent, t: number, category: string): CGrant[] {
  const out: CGrant[] = [];
  for (const a of s.assignments) {
    if (!holds(a, t)) continue;
    const idx = a.role.byAction.get(e.action);
    if (idx === undefined) continue;
    out.push(...idx.wildcard, ...(idx.byCategory.get(category) ?? []));
  }
  return out;
}

export function roleNotAuthorizedStaff(s: CStaff, e: AccessEvent, t: number): string {
  const missing = e.categories.filter((c) => covering(s, e, t, c).length === 0);
  const held = s.assignments.filter((a) => holds(a, t));
  if (held.length === 0) {
    const history = s.assignments.map((a) => `${a.role.name} ${period(a.fromDay, a.toDay)}`);
    return `${who(s)} holds no role on ${formatDay(t)}, so no grant to ${e.action} ${list(missing)} (${history.length > 0 ? `roles: ${history.join('; ')}` : 'no role assigned'})`;
  }
  const roles = [...new Set(held.map((a) => a.role))].map((r) => {
    const idx = r.byAction.get(e.action);
    if (idx === undefined) return `${r.name} has no grant to ${e.action}`;
    const grants = [...new Set([...idx.wildcard, ...[...idx.byCategory.values()].flat()])];
    return `${r.name} grants ${grants.map((g) => `${g.id} cover ${grantCats(g)}`).join(' and ')}`;
  });
  return `${who(s)} holds no grant to ${e.action} ${list(missing)}: ${roles.join('; ')}`;
}

export function roleNotAuthorizedProcessor(p: CParty, e: AccessEvent): string {
  return `${p.name} (${p.id}) is a processor: it may read, create, update or delete under an agreement, never ${e.action}`;
}

export function purposeNotPermitted(s: CStaff, e: AccessEvent, t: number): string {
  const failing: string[] = [];
  const grants = new Set<CGrant>();
  for (const c of e.categories) {
    const g = covering(s, e, t, c);
    if (g.length > 0 && !g.some((x) => x.purposes.has(e.purpose))) {
      failing.push(c);
      for (const x of g) grants.add(x);
    }
  }
  const allowed = [...grants].map((g) => `${g.role} grant ${g.id} allows only ${list(g.purposeList)}`);
  return `${who(s)} may not ${e.action} ${list(failing)} for ${e.purpose}: ${allowed.join('; ')}`;
}

function agreementText(a: CAgreement): string {
  return `${a.id} (${a.all ? 'all categories' : list(a.categoryList)} for ${list(a.purposeList)}, ${period(a.fromDay, a.toDay)})`;
}

/** a party's agreements as noAgreement lists them: the same for every event, so made once per party */
const agreementsTexts = new WeakMap<CParty, string>();
function agreementsText(p: CParty): string {
  let text = agreementsTexts.get(p);
  if (text === undefined) {
    text = p.agreements.map(agreementText).join('; ');
    agreementsTexts.set(p, text);
  }
  return text;
}

/** `kind`: whose agreement was needed (the acting processor, or the recipient); `p` undefined: the id is no party. */
export function noAgreement(kind: 'actor' | 'recipient', p: CParty | undefined, partyId: string, e: AccessEvent): string {
  const need = `${list(e.categories)} for ${e.purpose}`;
  if (p === undefined) return `Recipient "${partyId}" is no party in the policy, so it has no agreement covering ${need}`;
  const head =
    kind === 'actor'
      ? `No agreement of processor ${party(p)} covers ${need}`
      : `${e.action === 'share' ? 'Sharing with' : 'Exporting to'} ${party(p)} needs an agreement covering ${need}`;
  return p.agreements.length === 0 ? `${head}; it has no agreements` : `${head}; its agreements: ${agreementsText(p)}`;
}

export function agreementExpired(p: CParty, e: AccessEvent, t: number): string {
  const matching = p.agreements.filter((a) => agreementCovers(a, e.categories, e.purpose) && !inForce(a, t));
  const texts = matching.map((a) => `${a.id} is in force ${period(a.fromDay, a.toDay)}`);
  return `The agreement with ${party(p)} covering ${list(e.categories)} for ${e.purpose} is not in force on ${formatDay(t)}: ${texts.join('; ')}`;
}

export function unknownRecipient(e: AccessEvent): string {
  return `Recipient "${e.recipient?.id ?? ''}" is not a party in the policy`;
}

export function recipientTypeMismatch(p: CParty, e: AccessEvent): string {
  return `Recipient ${p.name} (${p.id}) has type ${p.type} in the policy, but the event claims ${e.recipient?.type ?? 'none'}; judged as ${p.type}`;
}

export function disclosureWithoutLegalBasis(p: CParty | undefined, e: AccessEvent, blankBasis: boolean): string {
  const why: string[] = [];
  if (blankBasis) why.push('no legalBasis is given');
  const r = e.recipient?.id ?? '';
  if (p === undefined) why.push(`recipient "${r}" is no party in the policy, so not an authority`);
  else if (p.type !== 'authority') why.push(`recipient ${p.name} (${p.id}) is a ${p.type}, not an authority`);
  return `Disclosure of ${list(e.categories)} to ${p ? `${p.name} (${p.id})` : `"${r}"`} without a legal basis: ${why.join('; ')}`;
}

export function legalDisclosure(c: Compiled, e: AccessEvent): string {
  const p = c.parties.get(e.recipient?.id ?? '');
  const s = c.staff.get(e.actor.id);
  const by = e.actor.type === 'staff' && s ? ` by ${who(s)}` : '';
  return `Disclosure of ${list(e.categories)} about ${subject(e)} to ${p ? `${p.name} (${p.id})` : e.recipient?.id}${by} under ${e.legalBasis ?? ''}: lawful, kept for review`;
}

export function retentionExpired(c: Compiled, e: AccessEvent, t: number, collected: number): string {
  const parts: string[] = [];
  for (const cat of new Set(e.categories)) {
    const ms = c.retentionMs.get(cat);
    if (ms !== undefined && t > collected + ms) {
      parts.push(`${cat} is kept ${c.retentionDays.get(cat)} days, until ${formatInstant(collected + ms)}`);
    }
  }
  return `Data about ${subject(e)} collected ${formatInstant(collected)} is past its retention on ${formatInstant(t)}: ${parts.join('; ')}`;
}

export function promotionalOptOut(e: AccessEvent, change: StoredChange): string {
  return `Subject ${subject(e)} opted out of promotional communication on ${formatInstant(change.at)}${ref(change)}`;
}

export function subjectErased(e: AccessEvent, change: StoredChange): string {
  const tail =
    e.purpose === 'legal.compliance'
      ? '; no legal hold is in force, so even legal.compliance may not touch it'
      : '; only delete, or legal.compliance under a legal hold, may touch it';
  return `Subject ${subject(e)} was erased on ${formatInstant(change.at)}${ref(change)}${tail}`;
}

/** `t`: the event's time (Date.parse(e.occurredAt)) */
/** `distinct`: the subjects counted, at most threshold + 1 (the window stops counting there) */
export function bulkAccess(c: Compiled, s: CStaff, e: AccessEvent, distinct: number, t: number): string {
  const records = e.recordCount > c.recordsPerEvent ? `${e.recordCount} records in one event (limit ${c.recordsPerEvent})` : '';
  const subjects =
    distinct > c.distinctSubjects
      ? `more than ${c.distinctSubjects} distinct subjects within ${c.windowMs / 1000} s up to ${formatInstant(t)}`
      : '';
  const parts = records !== '' && subjects !== '' ? `${records} and ${subjects}` : records + subjects;
  return `${who(s)} touched ${parts}`;
}
