/**
 * A hand-written Avro writer for AccessEvent v1 (`schemas/avro/AccessEvent.v1.avsc`), for
 * `record()`'s hot path. avsc's generic `Type#encode` allocates a Tap per call, dispatches per field
 * through type objects and looks unions up by value; this writes the fields in schema order
 * directly. It must produce exactly avsc's bytes (avro-access.test.ts checks it with fast-check
 * against `Type#encode`, lone surrogates included: avsc writes strings of ≤ 64 bytes with its own
 * UTF-8 loop, which encodes a lone surrogate as 3 bytes of its code unit, and longer ones with
 * `utf8Write`, which writes U+FFFD).
 *
 * It returns -1 — "ask avsc" — for anything it is not sure of (a value of the wrong type, an
 * `undefined` avsc would replace by the field's default, an unknown enum symbol) and when the
 * buffer may be too small; the caller then calls avsc, which throws or reports the missing bytes.
 */
import { accessEventAvro, writeAvroLong, writeAvroString, writeAvroUtf8Short } from '@custos/schemas';
import type { AccessEventAvro } from './validate.js';

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
  const n = s.length;
  if (p + 5 + n * 3 > b.length) return -1;
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
