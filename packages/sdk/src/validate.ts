/**
 * Validation and conversion to the Avro form, on the caller's thread.
 *
 * The contract's rules live in `@custos/schemas` (zod). Running zod costs ~2 µs per event, more than
 * the SDK's whole budget, so valid events take a hand-written fast path that accepts only what the
 * zod contract accepts and builds the Avro form directly. Anything the fast path does not accept
 * (invalid events, but also unusual valid ones) goes through zod, which decides: an invalid event
 * throws a ValidationError naming each bad field, a valid one is converted by the generic codec.
 * A property test (validate.test.ts) checks that whatever the fast path accepts, zod accepts with the
 * same Avro bytes, and that ordinary valid events take the fast path.
 */
import {
  type AccessEventV1,
  type AccessEventV1AvroValue,
  accessEventAvro,
  CONTRACT_ENUMS,
  type FieldError,
  GUID,
  INT_MAX,
  isObj,
  nonEmpty,
  parseAccessEvent,
  parseSubjectStateChange,
  type SubjectStateChangeV1,
  type SubjectStateChangeV1AvroValue,
  subjectStateChangeAvro,
  subjectStateChangeV1Base,
  timeMillis,
  toAvro,
  ValidationError,
} from '@custos/schemas';

/** What `record()` accepts: the contract's JSON form, with the fields the SDK fills made optional. */
export interface AccessEventInput extends Omit<AccessEventV1, 'eventId' | 'occurredAt' | 'source' | 'dataCollectedAt'> {
  /** a UUID; a UUIDv7 is generated when absent */
  eventId?: string | null;
  /** ISO-8601 (no zone reads as UTC) or a Date; now when absent */
  occurredAt?: string | Date | null;
  dataCollectedAt?: string | Date | null;
  /** `service` defaults to the client's `service` option */
  source?: Partial<AccessEventV1['source']> | null;
}

/** What `recordSubjectState()` accepts. */
export interface SubjectStateInput extends Omit<SubjectStateChangeV1, 'eventId' | 'occurredAt'> {
  eventId?: string | null;
  occurredAt?: string | Date | null;
}

/** The Avro forms avsc encodes (every field present, times in epoch ms), generated from schemas/. */
export type AccessEventAvro = AccessEventV1AvroValue;
export type SubjectStateAvro = SubjectStateChangeV1AvroValue;

/** A type guard for the symbols of a generated enum, so the fast path checks the same set zod does. */
function oneOf<T extends string>(symbols: readonly T[]): (v: unknown) => v is T {
  const set = new Set<string>(symbols);
  return (v: unknown): v is T => typeof v === 'string' && set.has(v);
}
const isActorType = oneOf(CONTRACT_ENUMS.ActorType);
const isSubjectType = oneOf(CONTRACT_ENUMS.SubjectType);
const isRecipientType = oneOf(CONTRACT_ENUMS.RecipientType);
const isAction = oneOf(CONTRACT_ENUMS.Action);
const isChange = oneOf(subjectStateChangeV1Base.shape.change.options);

function nullishString(v: unknown): string | null | undefined {
  if (v === undefined || v === null) return null;
  return typeof v === 'string' ? v : undefined;
}

/** z.record(z.string(), z.string()) for the common case: a plain object of string values. */
function stringMap(v: unknown): Record<string, string> | undefined {
  if (!isObj(v)) return undefined;
  const proto = Object.getPrototypeOf(v);
  if (proto !== Object.prototype && proto !== null) return undefined;
  const keys = Object.keys(v);
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i]!;
    if (k === '__proto__' || typeof v[k] !== 'string') return undefined;
  }
  if (Object.getOwnPropertySymbols(v).length > 0) return undefined;
  return v as Record<string, string>;
}

function stringArray(v: unknown, trim: boolean): string[] | undefined {
  if (!Array.isArray(v)) return undefined;
  let out: string[] = v;
  for (let i = 0; i < v.length; i++) {
    const s: unknown = v[i];
    if (typeof s !== 'string') return undefined;
    if (trim) {
      const t = s.trim();
      if (t.length === 0) return undefined;
      if (t !== s) {
        if (out === v) out = v.slice();
        out[i] = t;
      }
    }
  }
  return out;
}

export type IdGen = (now: number) => string;

/**
 * The fast path: the Avro form of a valid access event with the SDK's fills applied, or undefined
 * when the event is not one it can vouch for (then `toAccessEventAvro` asks zod).
 */
export function fastAccessEvent(input: unknown, service: string, now: number, genId: IdGen): AccessEventAvro | undefined {
  if (!isObj(input)) return undefined;
  const e = input;
  const rawId = e.eventId;
  let eventId: string;
  if (rawId === undefined || rawId === null) eventId = genId(now);
  else if (typeof rawId === 'string' && GUID.test(rawId)) eventId = rawId;
  else return undefined;
  const oa = e.occurredAt;
  const occurredAt = oa === undefined || oa === null ? now : timeMillis(oa);
  if (occurredAt === undefined) return undefined;
  const tenantId = nonEmpty(e.tenantId);
  if (tenantId === undefined) return undefined;

  const a = e.actor;
  if (!isObj(a)) return undefined;
  const actorId = nonEmpty(a.id);
  const actorType = a.type;
  if (actorId === undefined || !isActorType(actorType)) return undefined;

  const s = e.subject;
  if (!isObj(s)) return undefined;
  const subjectId = nonEmpty(s.id);
  const subjectType = s.type;
  if (subjectId === undefined || !isSubjectType(subjectType)) return undefined;

  const categories = stringArray(e.categories, true);
  if (categories === undefined || categories.length === 0) return undefined;
  let fields: string[] | null | undefined = null;
  if (e.fields !== undefined && e.fields !== null) {
    fields = stringArray(e.fields, false);
    if (fields === undefined) return undefined;
  }
  const action = e.action;
  if (!isAction(action)) return undefined;
  const purpose = nonEmpty(e.purpose);
  if (purpose === undefined) return undefined;

  let recipient: AccessEventAvro['recipient'] = null;
  const r = e.recipient;
  if (r !== undefined && r !== null) {
    if (!isObj(r)) return undefined;
    const rid = r.id;
    const rtype = r.type;
    if (typeof rid !== 'string' || !isRecipientType(rtype)) return undefined;
    recipient = { id: rid, type: rtype };
  } else if (action === 'share' || action === 'disclose') return undefined;

  const legalBasis = nullishString(e.legalBasis);
  if (legalBasis === undefined) return undefined;
  const dc = e.dataCollectedAt;
  let dataCollectedAt: number | null | undefined = null;
  if (dc !== undefined && dc !== null) {
    dataCollectedAt = timeMillis(dc);
    if (dataCollectedAt === undefined) return undefined;
  }
  const rc = e.recordCount;
  let recordCount = 1;
  if (rc !== undefined) {
    if (typeof rc !== 'number' || !Number.isInteger(rc) || rc < 1 || rc > INT_MAX) return undefined;
    recordCount = rc;
  }

  const src = e.source;
  let source: AccessEventAvro['source'];
  if (src === undefined || src === null) source = { service, requestId: null, traceId: null, ip: null };
  else {
    if (!isObj(src)) return undefined;
    const svc = nonEmpty(src.service ?? service);
    const requestId = nullishString(src.requestId);
    const traceId = nullishString(src.traceId);
    const ip = nullishString(src.ip);
    if (svc === undefined || requestId === undefined || traceId === undefined || ip === undefined) return undefined;
    source = { service: svc, requestId, traceId, ip };
  }

  let attributes: Record<string, string> | null | undefined = null;
  if (e.attributes !== undefined && e.attributes !== null) {
    attributes = stringMap(e.attributes);
    if (attributes === undefined) return undefined;
  }

  return {
    eventId,
    occurredAt,
    tenantId,
    actor: { id: actorId, type: actorType },
    subject: { id: subjectId, type: subjectType },
    categories,
    fields,
    action,
    purpose,
    recipient,
    legalBasis,
    dataCollectedAt,
    recordCount,
    source,
    attributes,
  };
}

function timeInput(v: unknown): unknown {
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? 'Invalid Date' : v.toISOString();
  return v;
}

/** The input with the SDK's fills applied, in the JSON form the contract validates. */
export function fillAccessEvent(input: unknown, service: string, now: number, genId: IdGen): unknown {
  if (!isObj(input)) return input;
  const e = input;
  const src = e.source;
  let source: unknown = src;
  if (src === undefined || src === null) source = { service };
  else if (isObj(src)) source = { service: src.service ?? service, requestId: src.requestId, traceId: src.traceId, ip: src.ip };
  return {
    eventId: e.eventId ?? genId(now),
    occurredAt: timeInput(e.occurredAt ?? new Date(now)),
    tenantId: e.tenantId,
    actor: e.actor,
    subject: e.subject,
    categories: e.categories,
    fields: e.fields,
    action: e.action,
    purpose: e.purpose,
    recipient: e.recipient,
    legalBasis: e.legalBasis,
    dataCollectedAt: timeInput(e.dataCollectedAt),
    recordCount: e.recordCount,
    source,
    attributes: e.attributes,
  };
}

function contractErrors(what: string, run: () => { ok: true } | { ok: false; errors: FieldError[] }): never | undefined {
  let r: ReturnType<typeof run>;
  try {
    r = run();
  } catch (err) {
    // e.g. a timestamp the contract's pattern accepts but Date cannot represent
    throw new ValidationError(what, [{ path: '', message: err instanceof Error ? err.message : String(err) }]);
  }
  if (!r.ok) throw new ValidationError(what, r.errors);
  return undefined;
}

/** Validates (throwing a ValidationError naming each bad field) and returns the Avro form. */
export function toAccessEventAvro(input: unknown, service: string, now: number, genId: IdGen): AccessEventAvro {
  const fast = fastAccessEvent(input, service, now, genId);
  if (fast !== undefined) return fast;
  const candidate = fillAccessEvent(input, service, now, genId);
  let value: unknown;
  contractErrors('access event', () => {
    const r = parseAccessEvent(candidate);
    if (r.ok) value = toAvro(accessEventAvro, r.value);
    return r;
  });
  return value as AccessEventAvro;
}

export function fastSubjectState(input: unknown, now: number, genId: IdGen): SubjectStateAvro | undefined {
  if (!isObj(input)) return undefined;
  const e = input;
  const rawId = e.eventId;
  let eventId: string;
  if (rawId === undefined || rawId === null) eventId = genId(now);
  else if (typeof rawId === 'string' && GUID.test(rawId)) eventId = rawId;
  else return undefined;
  const oa = e.occurredAt;
  const occurredAt = oa === undefined || oa === null ? now : timeMillis(oa);
  if (occurredAt === undefined) return undefined;
  const tenantId = nonEmpty(e.tenantId);
  const subjectId = nonEmpty(e.subjectId);
  const change = e.change;
  const reference = nullishString(e.reference);
  if (tenantId === undefined || subjectId === undefined || reference === undefined) return undefined;
  if (!isChange(change)) return undefined;
  return { eventId, occurredAt, tenantId, subjectId, change, reference };
}

export function fillSubjectState(input: unknown, now: number, genId: IdGen): unknown {
  if (!isObj(input)) return input;
  return {
    eventId: input.eventId ?? genId(now),
    occurredAt: timeInput(input.occurredAt ?? new Date(now)),
    tenantId: input.tenantId,
    subjectId: input.subjectId,
    change: input.change,
    reference: input.reference,
  };
}

export function toSubjectStateAvro(input: unknown, now: number, genId: IdGen): SubjectStateAvro {
  const fast = fastSubjectState(input, now, genId);
  if (fast !== undefined) return fast;
  const candidate = fillSubjectState(input, now, genId);
  let value: unknown;
  contractErrors('subject-state change', () => {
    const r = parseSubjectStateChange(candidate);
    if (r.ok) value = toAvro(subjectStateChangeAvro, r.value);
    return r;
  });
  return value as SubjectStateAvro;
}

/** The family of a change: compaction keeps the latest change of each family per subject. */
export function changeFamily(change: string): 'promotional' | 'erasure' | 'legal_hold' {
  if (change === 'erasure_completed') return 'erasure';
  if (change === 'legal_hold_placed' || change === 'legal_hold_released') return 'legal_hold';
  return 'promotional';
}

/**
 * Kafka key of a subject-state change: tenant, subject and the change's family, unambiguous whatever
 * characters the ids contain. The topic is compacted per key: keyed by subject alone, a legal hold
 * placed after an erasure would compact the erasure away; per family, compaction keeps exactly what
 * the rules read (the latest opt-out/opt-in, the erasure, the latest hold placement/release).
 */
export function subjectStateKey(tenantId: string, subjectId: string, change: string): string {
  return JSON.stringify([tenantId, subjectId, changeFamily(change)]);
}
