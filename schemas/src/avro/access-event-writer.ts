/**
 * A hand-written Avro writer for AccessEvent v1 (`schemas/avro/AccessEvent.v1.avsc`), for
 * `record()`'s hot path. avsc's generic `Type#encode` allocates a Tap per call, dispatches per field
 * through type objects and looks unions up by value; this writes the fields in schema order
 * directly. It must produce exactly avsc's bytes (differential.test.ts checks it with fast-check
 * against `Type#encode`, lone surrogates included: avsc writes strings of ≤ 64 bytes with its own
 * UTF-8 loop, which encodes a lone surrogate as 3 bytes of its code unit, and longer ones with
 * `utf8Write`, which writes U+FFFD).
 *
 * It returns -1 — "ask avsc" — for anything it is not sure of (a value of the wrong type, an
 * `undefined` avsc would replace by the field's default, an unknown enum symbol) and when the
 * buffer may be too small; the caller then calls avsc, which throws or reports the missing bytes.
 */
import { type AccessEventV1AvroValue as AccessEventAvro, AccessEventV1Avro as accessEventAvro } from '../generated.js';
import { CONTRACT_ENUMS, GUID, INT_MAX, isObj, nonEmpty, timeMillis } from '../input-checks.js';
import { writeAvroLong, writeAvroString, writeAvroUtf8Short } from './write.js';

interface SchemaNode {
  type?: unknown;
  name?: string;
  fields?: { name: string; type: unknown }[];
  symbols?: string[];
}

/** symbol → index of every enum in the schema, by the enum's name */
function enumIndices(): Map<string, Map<string, number>> {
  const out = new Map<string, Map<string, number>>();
  const walk = (t: unknown): void => {
    if (Array.isArray(t)) for (const x of t) walk(x);
    else if (typeof t === 'object' && t !== null) {
      const n = t as SchemaNode;
      if (n.type === 'enum' && n.name && n.symbols) out.set(n.name, new Map(n.symbols.map((s, i) => [s, i])));
      if (n.fields) for (const f of n.fields) walk(f.type);
      walk(n.type);
    }
  };
  walk(accessEventAvro);
  return out;
}
const ENUMS = enumIndices();
const enumOf = (name: string): Map<string, number> => {
  const m = ENUMS.get(name);
  if (m === undefined) throw new Error(`AccessEvent schema has no enum ${name}`);
  return m;
};
const ACTOR_TYPE = enumOf('ActorType');
const SUBJECT_TYPE = enumOf('SubjectType');
const ACTION = enumOf('Action');
const RECIPIENT_TYPE = enumOf('RecipientType');

/** The field order this writer assumes; a test checks it against the schema. */
export const WRITER_FIELDS = [
  'eventId',
  'occurredAt',
  'tenantId',
  'actor',
  'subject',
  'categories',
  'fields',
  'action',
  'purpose',
  'recipient',
  'legalBasis',
  'dataCollectedAt',
  'recordCount',
  'source',
  'attributes',
] as const;

/** writeAvroLong with a room check: -1 when the buffer may be too small */
function long(b: Buffer, p: number, n: number): number {
  return p + 10 > b.length ? -1 : writeAvroLong(b, p, n);
}

/** avsc's Tap#writeString: varint byte length, then the bytes; -1 when not a string or no room. */
function str(b: Buffer, p: number, s: unknown): number {
  if (typeof s !== 'string') return -1;
  if (p + 5 + s.length * 3 > b.length) return -1;
  return strAt(b, p, s);
}

/** avsc's Tap#writeString of `s` at b[p], the room checked by the caller. */
function strAt(b: Buffer, p: number, s: string): number {
  const n = s.length;
  if (n < 64) {
    // Optimistically: the bytes after a one-byte length (zig-zag 2 × len < 128 for len ≤ 63).
    const end = writeAvroUtf8Short(b, p + 1, s);
    const len = end - p - 1;
    if (len <= 63) {
      b[p] = len << 1;
      return end;
    }
    if (len === 64) {
      // avsc's loop too, behind a two-byte length (128 = 0x80 0x01)
      b.copyWithin(p + 2, p + 1, end);
      b[p] = 0x80;
      b[p + 1] = 0x01;
      return end + 1;
    }
    // > 64 bytes: avsc uses utf8Write (below), which differs from the loop for lone surrogates
  }
  return writeAvroString(b, p, s);
}

function enumIndex(m: Map<string, number>, b: Buffer, p: number, v: unknown): number {
  const i = m.get(v as string);
  return i === undefined ? -1 : long(b, p, i);
}

function strings(b: Buffer, p: number, a: unknown): number {
  if (!Array.isArray(a)) return -1;
  const n = a.length;
  if (n > 0) {
    p = long(b, p, n);
    for (let i = 0; i < n && p >= 0; i++) p = str(b, p, a[i]);
    if (p < 0) return -1;
  }
  return long(b, p, 0);
}

/** ["null", "string"] */
function nullableStr(b: Buffer, p: number, s: unknown): number {
  if (p + 1 > b.length) return -1;
  if (s === null) {
    b[p] = 0;
    return p + 1;
  }
  b[p] = 2;
  return str(b, p + 1, s);
}

/** avsc's LongType check: an integer within ±(2^53 − 2) */
function isSafeLong(n: unknown): n is number {
  return typeof n === 'number' && n % 1 === 0 && n >= -9007199254740990 && n <= 9007199254740990;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Writes `v` at `b[at]` and returns the end, or -1 when avsc must do it (see above). Whatever it
 * wrote before giving up is garbage the caller overwrites.
 */
export function encodeAccessEvent(v: AccessEventAvro, b: Buffer, at: number): number {
  let p = str(b, at, v.eventId);
  if (p < 0 || !isSafeLong(v.occurredAt)) return -1;
  p = long(b, p, v.occurredAt);
  if (p < 0) return -1;
  p = str(b, p, v.tenantId);
  const actor = v.actor;
  if (p < 0 || !isRecord(actor)) return -1;
  p = str(b, p, actor.id);
  if (p < 0) return -1;
  p = enumIndex(ACTOR_TYPE, b, p, actor.type);
  const subject = v.subject;
  if (p < 0 || !isRecord(subject)) return -1;
  p = str(b, p, subject.id);
  if (p < 0) return -1;
  p = enumIndex(SUBJECT_TYPE, b, p, subject.type);
  if (p < 0) return -1;
  p = strings(b, p, v.categories);
  if (p < 0) return -1;
  const fields = v.fields;
  if (fields === null) p = long(b, p, 0);
  else {
    p = long(b, p, 1);
    if (p < 0) return -1;
    p = strings(b, p, fields);
  }
  if (p < 0) return -1;
  p = enumIndex(ACTION, b, p, v.action);
  if (p < 0) return -1;
  p = str(b, p, v.purpose);
  if (p < 0) return -1;
  const r = v.recipient;
  if (r === null) p = long(b, p, 0);
  else {
    if (!isRecord(r)) return -1;
    p = long(b, p, 1);
    if (p < 0) return -1;
    p = str(b, p, r.id);
    if (p < 0) return -1;
    p = enumIndex(RECIPIENT_TYPE, b, p, r.type);
  }
  if (p < 0) return -1;
  p = nullableStr(b, p, v.legalBasis);
  if (p < 0) return -1;
  const dc = v.dataCollectedAt;
  if (dc === null) p = long(b, p, 0);
  else {
    if (!isSafeLong(dc)) return -1;
    p = long(b, p, 1);
    if (p < 0) return -1;
    p = long(b, p, dc);
  }
  const rc = v.recordCount;
  if (p < 0 || rc !== (rc | 0)) return -1;
  p = long(b, p, rc);
  const src = v.source;
  if (p < 0 || !isRecord(src)) return -1;
  p = str(b, p, src.service);
  if (p < 0) return -1;
  p = nullableStr(b, p, src.requestId);
  if (p < 0) return -1;
  p = nullableStr(b, p, src.traceId);
  if (p < 0) return -1;
  p = nullableStr(b, p, src.ip);
  if (p < 0) return -1;
  const attrs = v.attributes;
  if (attrs === null) return long(b, p, 0);
  if (!isRecord(attrs)) return -1;
  p = long(b, p, 1);
  const keys = Object.keys(attrs);
  const n = keys.length;
  if (n > 0 && p >= 0) {
    p = long(b, p, n);
    for (let i = 0; i < n && p >= 0; i++) {
      const k = keys[i]!;
      p = str(b, p, k);
      if (p >= 0) p = str(b, p, attrs[k]);
    }
  }
  return p < 0 ? -1 : long(b, p, 0);
}

// ---- validation and writing fused: record()'s hot path ---------------------------------------------

/** writeAccessEvent: only zod (the SDK's validate.ts, its slow path) can judge the input. */
export const ASK_ZOD = -1;
/** writeAccessEvent: the buffer may be too small (the input is not judged). */
export const NO_ROOM = -2;
/**
 * What every string write keeps free beyond its own worst case, so the fixed-size writes between two
 * strings (unions, enum indices, counts, longs: ≤ 18 bytes in a row) need no check of their own.
 */
const SLACK = 64;

/** An enum's contract symbols → Avro index: a symbol must be in both zod's enum and the schema's. */
function contractEnum(name: keyof typeof CONTRACT_ENUMS): Map<string, number> {
  const zod = new Set<string>(CONTRACT_ENUMS[name]);
  const out = new Map<string, number>();
  for (const [s, i] of enumOf(name)) {
    // the writer puts an index in one zig-zag byte
    if (i >= 64) throw new Error(`AccessEvent enum ${name} has more than 64 symbols`);
    if (zod.has(s)) out.set(s, i);
  }
  return out;
}
const C_ACTOR_TYPE = contractEnum('ActorType');
const C_SUBJECT_TYPE = contractEnum('SubjectType');
const C_ACTION = contractEnum('Action');
const C_RECIPIENT_TYPE = contractEnum('RecipientType');
const ACTION_SHARE = ACTION.get('share');
const ACTION_DISCLOSE = ACTION.get('disclose');

/** Writes a new UUID's 36 ASCII characters at b[at] (the SDK's writeUuidv7). */
export type IdWriter = (b: Buffer, at: number, now: number) => void;

/** `str` for a string known to be one: NO_ROOM when the buffer may be too small. */
function wstr(b: Buffer, p: number, s: string): number {
  if (p + 5 + SLACK + s.length * 3 > b.length) return NO_ROOM;
  return strAt(b, p, s);
}

/** ["null", "string"] of a nullish-or-string input field (undefined reads as null, as in the contract). */
function wnullableStr(b: Buffer, p: number, v: unknown): number {
  if (v === undefined || v === null) {
    b[p] = 0;
    return p + 1;
  }
  if (typeof v !== 'string') return ASK_ZOD;
  b[p] = 2;
  return wstr(b, p + 1, v);
}

/**
 * Validates an access event as the SDK's `fastAccessEvent` (validate.ts) does and writes its Avro form (with the SDK's fills)
 * straight to `b[at]`, without the intermediate object: the bytes `encodeAccessEvent` writes for
 * `fastAccessEvent`'s result, a missing eventId written by `writeId` (no string per event).
 * `actorId` is `accessKey(input)` (the Kafka key, read once). Returns the end, ASK_ZOD for anything
 * `fastAccessEvent` would not vouch for, or NO_ROOM. Whatever it wrote before giving up is garbage
 * the caller overwrites.
 */
export function writeAccessEvent(
  e: unknown,
  actorId: string,
  service: string,
  now: number,
  writeId: IdWriter,
  b: Buffer,
  at: number,
): number {
  if (!isObj(e)) return ASK_ZOD;
  let p: number;
  const rawId = e.eventId;
  if (rawId === undefined || rawId === null) {
    if (at + 37 + SLACK > b.length) return NO_ROOM;
    b[at] = 72; // zig-zag length of the 36 ASCII characters
    writeId(b, at + 1, now);
    p = at + 37;
  } else if (typeof rawId === 'string' && GUID.test(rawId)) p = wstr(b, at, rawId);
  else return ASK_ZOD;
  if (p < 0) return p;
  const oa = e.occurredAt;
  const occurredAt = oa === undefined || oa === null ? now : timeMillis(oa);
  if (occurredAt === undefined) return ASK_ZOD;
  p = writeAvroLong(b, p, occurredAt);
  const tenantId = nonEmpty(e.tenantId);
  if (tenantId === undefined) return ASK_ZOD;
  p = wstr(b, p, tenantId);
  if (p < 0) return p;

  const a = e.actor;
  if (!isObj(a)) return ASK_ZOD;
  const actorType = C_ACTOR_TYPE.get(a.type as string);
  if (actorType === undefined) return ASK_ZOD;
  p = wstr(b, p, actorId);
  if (p < 0) return p;
  b[p++] = actorType << 1; // enum indices < 64: one zig-zag byte

  const s = e.subject;
  if (!isObj(s)) return ASK_ZOD;
  const subjectId = nonEmpty(s.id);
  const subjectType = C_SUBJECT_TYPE.get(s.type as string);
  if (subjectId === undefined || subjectType === undefined) return ASK_ZOD;
  p = wstr(b, p, subjectId);
  if (p < 0) return p;
  b[p++] = subjectType << 1;

  const cats = e.categories;
  if (!Array.isArray(cats)) return ASK_ZOD;
  const nc = cats.length;
  if (nc === 0) return ASK_ZOD;
  p = writeAvroLong(b, p, nc);
  for (let i = 0; i < nc; i++) {
    const c = nonEmpty(cats[i]);
    if (c === undefined) return ASK_ZOD;
    p = wstr(b, p, c);
    if (p < 0) return p;
  }
  b[p++] = 0;

  const fields = e.fields;
  if (fields === undefined || fields === null) b[p++] = 0;
  else {
    if (!Array.isArray(fields)) return ASK_ZOD;
    b[p++] = 2;
    const nf = fields.length;
    if (nf > 0) {
      p = writeAvroLong(b, p, nf);
      for (let i = 0; i < nf; i++) {
        const f: unknown = fields[i];
        if (typeof f !== 'string') return ASK_ZOD;
        p = wstr(b, p, f);
        if (p < 0) return p;
      }
    }
    b[p++] = 0;
  }

  const action = C_ACTION.get(e.action as string);
  if (action === undefined) return ASK_ZOD;
  b[p++] = action << 1;
  const purpose = nonEmpty(e.purpose);
  if (purpose === undefined) return ASK_ZOD;
  p = wstr(b, p, purpose);
  if (p < 0) return p;

  const r = e.recipient;
  if (r !== undefined && r !== null) {
    if (!isObj(r)) return ASK_ZOD;
    const rid = r.id;
    const rtype = C_RECIPIENT_TYPE.get(r.type as string);
    if (typeof rid !== 'string' || rtype === undefined) return ASK_ZOD;
    b[p++] = 2;
    p = wstr(b, p, rid);
    if (p < 0) return p;
    b[p++] = rtype << 1;
  } else if (action === ACTION_SHARE || action === ACTION_DISCLOSE) return ASK_ZOD;
  else b[p++] = 0;

  p = wnullableStr(b, p, e.legalBasis);
  if (p < 0) return p;
  const dc = e.dataCollectedAt;
  if (dc === undefined || dc === null) b[p++] = 0;
  else {
    const ms = timeMillis(dc);
    if (ms === undefined) return ASK_ZOD;
    b[p++] = 2;
    p = writeAvroLong(b, p, ms);
  }
  const rc = e.recordCount;
  if (rc === undefined) b[p++] = 2;
  else {
    if (typeof rc !== 'number' || !Number.isInteger(rc) || rc < 1 || rc > INT_MAX) return ASK_ZOD;
    p = writeAvroLong(b, p, rc);
  }

  const src = e.source;
  if (src === undefined || src === null) {
    p = wstr(b, p, service);
    if (p < 0) return p;
    b[p++] = 0;
    b[p++] = 0;
    b[p++] = 0;
  } else {
    if (!isObj(src)) return ASK_ZOD;
    const svc = nonEmpty(src.service ?? service);
    if (svc === undefined) return ASK_ZOD;
    p = wstr(b, p, svc);
    if (p >= 0) p = wnullableStr(b, p, src.requestId);
    if (p >= 0) p = wnullableStr(b, p, src.traceId);
    if (p >= 0) p = wnullableStr(b, p, src.ip);
    if (p < 0) return p;
  }

  const attrs = e.attributes;
  if (attrs === undefined || attrs === null) {
    b[p++] = 0;
    return p;
  }
  // z.record(z.string(), z.string()) for the common case, as the SDK's stringMap
  if (!isObj(attrs)) return ASK_ZOD;
  const proto: unknown = Object.getPrototypeOf(attrs);
  if (proto !== Object.prototype && proto !== null) return ASK_ZOD;
  if (Object.getOwnPropertySymbols(attrs).length > 0) return ASK_ZOD;
  b[p++] = 2;
  const keys = Object.keys(attrs);
  const nk = keys.length;
  if (nk > 0) {
    p = writeAvroLong(b, p, nk);
    for (let i = 0; i < nk; i++) {
      const k = keys[i]!;
      if (k === '__proto__') return ASK_ZOD;
      const v = attrs[k];
      if (typeof v !== 'string') return ASK_ZOD;
      p = wstr(b, p, k);
      if (p >= 0) p = wstr(b, p, v);
      if (p < 0) return p;
    }
  }
  b[p++] = 0;
  return p;
}

/** The Kafka key of an access event (its trimmed actor id), or undefined when only zod can judge it. */
export function accessKey(input: unknown): string | undefined {
  if (!isObj(input)) return undefined;
  const a = input.actor;
  return isObj(a) ? nonEmpty(a.id) : undefined;
}
