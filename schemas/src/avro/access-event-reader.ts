/**
 * AccessEvent Avro bodies written in the reader's own schema → valid events, in one pass, without
 * avsc: the fields are read the way avsc's Tap reads them (read.ts) and the contract's remaining rules (those
 * of `fastAccessEvent` below) are checked as they come, building the event's JSON form directly
 * (no Avro-form object in between). Anything it cannot vouch for — a contract violation, bytes avsc
 * would reject or that are unusual (negative block counts, truncation, trailing bytes, unsafe
 * longs) — gives undefined, and the record takes the avsc path, which decides and words the error.
 * differential.test.ts checks it equal to avsc's decode + the contract.
 *
 * Short ASCII strings of the fields that repeat (tenant, actor, subject, categories, purpose, …) are
 * interned: the same string object comes back for the same bytes, so no string is made for them
 * and the policy's Map lookups find their hash already computed.
 */
import { formatInstant, LAST_4_DIGIT_YEAR_MS } from '../civil-date.js';
import type { AccessEvent } from '../contract.js';
import type { AccessEventV1AvroValue } from '../generated.js';
import { AVRO_UNSURE, AvroReadTap } from './read.js';

type Actor = AccessEvent['actor'];
type Subject = AccessEvent['subject'];
type Recipient = NonNullable<AccessEvent['recipient']>;

const ACTOR_TYPES: readonly Actor['type'][] = ['staff', 'processor'];
const SUBJECT_TYPES: readonly Subject['type'][] = ['customer', 'user', 'employee', 'client_contact'];
const ACTIONS: readonly AccessEvent['action'][] = ['read', 'create', 'update', 'delete', 'export', 'share', 'disclose'];
const RECIPIENT_TYPES: readonly Recipient['type'][] = ['processor', 'third_party', 'authority'];

/** The layout this reader is written for (see layoutOf); a reader schema of any other layout is not read here. */
export const READER_LAYOUT =
  '{eventId:string,occurredAt:long,tenantId:string,actor:{id:string,type:enum(staff|processor)},' +
  'subject:{id:string,type:enum(customer|user|employee|client_contact)},categories:[string],' +
  'fields:null|[string],action:enum(read|create|update|delete|export|share|disclose),purpose:string,' +
  'recipient:null|{id:string,type:enum(processor|third_party|authority)},legalBasis:null|string,' +
  'dataCollectedAt:null|long,recordCount:int,' +
  'source:{service:string,requestId:null|string,traceId:null|string,ip:null|string},attributes:null|{string}}';

const INTERN_SLOTS = 4096; // power of 2
const INTERN_MAX_LEN = 64;

/** JS whitespace as String#trim() removes it, ASCII part */
const isAsciiSpace = (c: number) => c === 32 || (c >= 9 && c <= 13);

/** non-empty and unchanged by the contract's trim() */
function clean(s: string): boolean {
  const n = s.length;
  if (n === 0) return false;
  const first = s.charCodeAt(0);
  const last = s.charCodeAt(n - 1);
  // trim() only looks at the ends; ASCII ends that are not space are the common case
  if (first < 0x80 && last < 0x80) return !isAsciiSpace(first) && !isAsciiSpace(last);
  return s.trim().length === n;
}

const goodTime = (ms: number) => Number.isInteger(ms) && ms >= 0 && ms <= LAST_4_DIGIT_YEAR_MS;

/** The shared Avro tap (read.ts) with the strings and lists of this record, interned where they repeat. */
class Tap extends AvroReadTap {
  private readonly interned: (string | undefined)[] = new Array(INTERN_SLOTS).fill(undefined);

  /** An ASCII string as `Buffer#utf8Slice` (what avsc uses) makes it, any other through it. */
  string(): string {
    const len = this.strLen();
    const buf = this.buf;
    const a = this.pos;
    const z = a + len;
    this.pos = z;
    for (let i = a; i < z; i++) if (buf[i]! >= 0x80) return buf.toString('utf8', a, z);
    return buf.toString('latin1', a, z);
  }

  /** string(), the same string object for the same short ASCII bytes (one slot per hash: a cache, not a set) */
  internedString(): string {
    const len = this.strLen();
    const buf = this.buf;
    const a = this.pos;
    const z = a + len;
    this.pos = z;
    if (len > INTERN_MAX_LEN) return buf.toString('utf8', a, z);
    let h = 0x811c9dc5; // FNV-1a
    let high = 0;
    for (let i = a; i < z; i++) {
      const c = buf[i]!;
      high |= c;
      h = Math.imul(h ^ c, 16777619);
    }
    if (high >= 0x80) return buf.toString('utf8', a, z);
    const slot = (h >>> 0) & (INTERN_SLOTS - 1);
    const cached = this.interned[slot];
    if (cached !== undefined && cached.length === len) {
      let i = 0;
      while (i < len && cached.charCodeAt(i) === buf[a + i]) i++;
      if (i === len) return cached;
    }
    const s = buf.toString('latin1', a, z);
    this.interned[slot] = s;
    return s;
  }

  symbol<T>(symbols: readonly T[]): T {
    return symbols[this.enumIndex(symbols.length)]!;
  }

  /** a block count; negative counts (followed by a byte size) are legal Avro but left to avsc */
  private plainBlockCount(): number {
    const n = this.long();
    if (n < 0) throw AVRO_UNSURE;
    return n;
  }

  stringArray(): string[] {
    const out: string[] = [];
    for (let n = this.plainBlockCount(); n > 0; n = this.plainBlockCount()) {
      while (n-- > 0) out.push(this.internedString());
    }
    return out;
  }

  /** avsc's MapType: a plain object, keys assigned in order */
  stringMap(): Record<string, string> {
    const out: Record<string, string> = {};
    for (let n = this.plainBlockCount(); n > 0; n = this.plainBlockCount()) {
      while (n-- > 0) {
        const key = this.string();
        out[key] = this.string();
      }
    }
    return out;
  }

  /** zod's z.guid() on the 36 bytes at `p` (ASCII: the string is then those bytes) */
  guidAt(p: number): boolean {
    const buf = this.buf;
    for (let i = 0; i < 36; i++) {
      const c = buf[p + i]!;
      if (i === 8 || i === 13 || i === 18 || i === 23) {
        if (c !== 45) return false;
      } else if (!((c >= 48 && c <= 57) || (c >= 97 && c <= 102) || (c >= 65 && c <= 70))) return false;
    }
    return true;
  }
}

// One tap for all: reading is synchronous and not re-entrant.
const tap = new Tap();

export interface ReadEvent {
  event: AccessEvent;
  /** occurredAt, epoch ms */
  time: number;
}

/**
 * A valid event from the Avro body in `buf` from `start` to its end (the reader's own schema), or
 * undefined: take the avsc path.
 */
export function readAccessEvent(buf: Buffer, start = 0): ReadEvent | undefined {
  tap.reset(buf, start);
  try {
    return read(tap);
  } catch (err) {
    if (err === AVRO_UNSURE) return undefined;
    throw err;
  }
}

function read(t: Tap): ReadEvent | undefined {
  // eventId: a guid is 36 ASCII bytes, length byte 72
  const at = t.pos;
  if (t.end - at < 37 || t.buf[at] !== 72 || !t.guidAt(at + 1)) return undefined;
  const eventId = t.buf.toString('latin1', at + 1, at + 37);
  t.pos = at + 37;
  const time = t.long();
  if (!goodTime(time)) return undefined;
  const tenantId = t.internedString();
  const actorId = t.internedString();
  const actorType = t.symbol(ACTOR_TYPES);
  const subjectId = t.internedString();
  const subjectType = t.symbol(SUBJECT_TYPES);
  const categories = t.stringArray();
  const fields = t.present() ? t.stringArray() : null;
  const action = t.symbol(ACTIONS);
  const purpose = t.internedString();
  let recipient: Recipient | null = null;
  if (t.present()) {
    const id = t.internedString();
    recipient = { id, type: t.symbol(RECIPIENT_TYPES) };
  }
  const legalBasis = t.present() ? t.internedString() : null;
  const collected = t.present() ? t.long() : null;
  const recordCount = t.long();
  if (recordCount > 2_147_483_647) return undefined; // not an Avro int (avsc reads it anyway); left to the contract
  const service = t.internedString();
  const requestId = t.present() ? t.string() : null;
  const traceId = t.present() ? t.string() : null;
  const ip = t.present() ? t.string() : null;
  const attributes = t.present() ? t.stringMap() : null;
  if (t.pos !== t.end) return undefined; // avsc: trailing data

  if (
    !clean(tenantId) ||
    !clean(actorId) ||
    !clean(subjectId) ||
    !clean(purpose) ||
    !clean(service) ||
    categories.length === 0 ||
    !(recordCount >= 1) ||
    (collected !== null && !goodTime(collected)) ||
    ((action === 'share' || action === 'disclose') && recipient === null)
  ) {
    return undefined;
  }
  for (let i = 0; i < categories.length; i++) if (!clean(categories[i]!)) return undefined;

  // Built as fastAccessEvent builds it (same keys, same order).
  const source: AccessEvent['source'] = { service };
  if (requestId !== null) source.requestId = requestId;
  if (traceId !== null) source.traceId = traceId;
  if (ip !== null) source.ip = ip;
  const event: AccessEvent = {
    eventId,
    occurredAt: formatInstant(time),
    tenantId,
    actor: { id: actorId, type: actorType },
    subject: { id: subjectId, type: subjectType },
    categories,
    action,
    purpose,
    recordCount,
    source,
  };
  if (fields !== null) event.fields = fields;
  if (recipient !== null) event.recipient = recipient;
  if (legalBasis !== null) event.legalBasis = legalBasis;
  if (collected !== null) event.dataCollectedAt = formatInstant(collected);
  if (attributes !== null) event.attributes = attributes;
  return { event, time };
}

/**
 * zod's z.guid(), which the contract uses for eventId:
 * /^([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})$/, by hand (the
 * regex costs ~3 % of judging an event).
 */
export function isGuid(s: string): boolean {
  if (s.length !== 36) return false;
  for (let i = 0; i < 36; i++) {
    const c = s.charCodeAt(i);
    if (i === 8 || i === 13 || i === 18 || i === 23) {
      if (c !== 45) return false; // '-'
    } else if (!((c >= 48 && c <= 57) || (c >= 97 && c <= 102) || (c >= 65 && c <= 70))) return false;
  }
  return true;
}

/**
 * What is left of the contract once avsc has decoded a record (it is then structurally an
 * AccessEvent): non-empty, untrimmed ids; ≥ 1 category; a uuid; sane timestamps; a recipient for
 * share/disclose; recordCount ≥ 1. The JSON form, or undefined when this cannot vouch for the
 * record (the contract's own parser then decides and words the error).
 */
export function fastAccessEvent(v: AccessEventV1AvroValue): AccessEvent | undefined {
  const { actor, subject, source, categories } = v;
  if (
    !isGuid(v.eventId) ||
    !goodTime(v.occurredAt) ||
    !clean(v.tenantId) ||
    !clean(actor.id) ||
    !clean(subject.id) ||
    !clean(v.purpose) ||
    !clean(source.service) ||
    categories.length === 0 ||
    !(v.recordCount >= 1) ||
    v.recordCount > 2_147_483_647 || // avsc reads an int of any size; the contract's maximum
    (v.dataCollectedAt !== null && !goodTime(v.dataCollectedAt)) ||
    ((v.action === 'share' || v.action === 'disclose') && v.recipient === null)
  ) {
    return undefined;
  }
  for (let i = 0; i < categories.length; i++) if (!clean(categories[i]!)) return undefined;
  const src: AccessEvent['source'] = { service: source.service };
  if (source.requestId !== null) src.requestId = source.requestId;
  if (source.traceId !== null) src.traceId = source.traceId;
  if (source.ip !== null) src.ip = source.ip;
  const e: AccessEvent = {
    eventId: v.eventId,
    occurredAt: formatInstant(v.occurredAt),
    tenantId: v.tenantId,
    actor: { id: actor.id, type: actor.type },
    subject: { id: subject.id, type: subject.type },
    categories,
    action: v.action,
    purpose: v.purpose,
    recordCount: v.recordCount,
    source: src,
  };
  if (v.fields !== null) e.fields = v.fields;
  if (v.recipient !== null) e.recipient = { id: v.recipient.id, type: v.recipient.type };
  if (v.legalBasis !== null) e.legalBasis = v.legalBasis;
  if (v.dataCollectedAt !== null) e.dataCollectedAt = formatInstant(v.dataCollectedAt);
  if (v.attributes !== null) e.attributes = v.attributes;
  return e;
}
