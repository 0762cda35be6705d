/**
 * The contract's rules for input values (contract.ts' zod schemas), checked by hand for the fast
 * paths that validate without zod (the SDK's `record()`, the fused AccessEvent writer in
 * `./avro/access-event-writer.ts`). Each answers undefined where only zod can judge; the fast paths
 * then hand the input to zod, which decides and words the error.
 */
import { z } from 'zod';
import { accessEventV1Base } from './generated.js';

// The very patterns zod's `z.guid()` and `z.iso.datetime({ offset: true, local: true })` use.
export const GUID = z.regexes.guid;
const ISO = z.regexes.datetime({ offset: true, local: true });
// As in `canonicalTime` (contract.ts): a time without a zone reads as UTC.
const HAS_ZONE = /(Z|[+-]\d{2}:?\d{2})$/i;
// The range of Date values whose toISOString() has a four-digit year (what the contract accepts).
const MIN_MS = -62_167_219_200_000; // 0000-01-01T00:00:00.000Z
const MAX_MS = 253_402_300_799_999; // 9999-12-31T23:59:59.999Z

/** The symbols zod accepts for each enum of the access event (the fused writer indexes them by Avro's order). */
export const CONTRACT_ENUMS = {
  ActorType: accessEventV1Base.shape.actor.shape.type.options,
  SubjectType: accessEventV1Base.shape.subject.shape.type.options,
  RecipientType: accessEventV1Base.shape.recipient.unwrap().unwrap().shape.type.options,
  Action: accessEventV1Base.shape.action.options,
} as const;

export const INT_MAX = 2_147_483_647;

export type Obj = Record<string, unknown>;

/** zod's notion of an object for z.object(): anything non-null of type object that is not an array. */
export function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** z.string().trim().min(1): the trimmed string, or undefined. */
export function nonEmpty(v: unknown): string | undefined {
  if (typeof v !== 'string') return undefined;
  const t = v.trim();
  return t.length > 0 ? t : undefined;
}

/** An ISO timestamp string → epoch ms exactly as the contract + codec would compute it, or undefined. */
function isoMillis(s: string): number | undefined {
  if (!ISO.test(s)) return undefined;
  const ms = Date.parse(HAS_ZONE.test(s) ? s : `${s}Z`);
  return Number.isNaN(ms) ? undefined : ms;
}

/** occurredAt-style input (string or Date) → epoch ms, or undefined when only zod can judge it. */
export function timeMillis(v: unknown): number | undefined {
  if (typeof v === 'string') return isoMillis(v);
  if (v instanceof Date) {
    const ms = v.getTime();
    return ms >= MIN_MS && ms <= MAX_MS ? ms : undefined;
  }
  return undefined;
}
