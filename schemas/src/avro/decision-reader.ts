/**
 * Decision v1 Avro bodies → where each field is, without avsc and without making their strings: the
 * sink's hot path, which writes each decision's stored row straight from these spans of the bytes as
 * received (`encodeDecisionAvro` in @custos/store). Values are read the way avsc's Tap reads them (read.ts);
 * anything it does not read exactly as avsc does — truncation, trailing bytes, longs beyond what
 * avsc accepts, bad enum or union indexes, huge counts — gives undefined, and the record takes the
 * avsc path, which decides and words the error. differential.test.ts checks it against avsc's decode.
 */
import { AVRO_UNSURE, AvroReadTap } from './read.js';

/** The Decision layout this reader is written for (see layoutOf); records of any other are not read here. */
export const DECISION_READER_LAYOUT =
  '{eventId:string,decidedAt:long,outcome:enum(allow|flag|deny),reasons:[{code:string,message:string}],basis:[string],' +
  'policyVersion:string,event:{eventId:string,occurredAt:long,tenantId:string,actor:{id:string,type:enum(staff|processor)},' +
  'subject:{id:string,type:enum(customer|user|employee|client_contact)},categories:[string],fields:null|[string],' +
  'action:enum(read|create|update|delete|export|share|disclose),purpose:string,' +
  'recipient:null|{id:string,type:enum(processor|third_party|authority)},legalBasis:null|string,dataCollectedAt:null|long,' +
  'recordCount:int,source:{service:string,requestId:null|string,traceId:null|string,ip:null|string},attributes:null|{string}}}';

const EMPTY = Buffer.alloc(0);

/**
 * A read Decision. A string is a span of `buf`: its start (…S) and byte length (…L; −1 for a null
 * of a ["null", "string"] union). Lists are runs of spans in `lists` (start, length pairs) from
 * span index …0 (reasons: code and message alternately). Enums are symbol indexes in schema order.
 * One object, refilled by each read: valid until the next `readDecision`.
 */
export class DecisionSpans {
  buf: Buffer = EMPTY;
  lists = new Int32Array(256);
  evS = 0;
  evL = 0;
  decidedMs = 0;
  outcome = 0;
  r0 = 0;
  nReasons = 0;
  b0 = 0;
  nBasis = 0;
  polS = 0;
  polL = 0;
  occurredMs = 0;
  tenS = 0;
  tenL = 0;
  actS = 0;
  actL = 0;
  actorType = 0;
  subS = 0;
  subL = 0;
  subjectType = 0;
  c0 = 0;
  nCats = 0;
  f0 = 0;
  nFields = 0;
  action = 0;
  purS = 0;
  purL = 0;
  recS = 0;
  recL = -1;
  /** −1 when there is no recipient */
  recipientType = -1;
  legS = 0;
  legL = -1;
  /** NaN when null */
  dcMs = Number.NaN;
  recordCount = 0;
  svcS = 0;
  svcL = 0;
  reqS = 0;
  reqL = -1;
  trS = 0;
  trL = -1;
  ipS = 0;
  ipL = -1;
  /** as avsc builds the map (later keys win, `__proto__` ignored); undefined when null */
  attributes: Record<string, string> | undefined = undefined;

  /** Drops the references to the record's bytes and values (the caller is done with them). */
  release(): void {
    this.buf = EMPTY;
    this.attributes = undefined;
  }
}

const spans = new DecisionSpans();

// Reader state (module-level: one record at a time, synchronously).
const tap = new AvroReadTap();
let dyn = spans.lists;
let dn = 0;
let strLen = 0;

/** A string's span start (its length in strLen); the position moves past it. */
function readStr(): number {
  const len = tap.strLen();
  const start = tap.pos;
  tap.pos = start + len;
  strLen = len;
  return start;
}

function pushSpan(start: number, len: number): void {
  if (dn + 2 > dyn.length) {
    const next = new Int32Array(dyn.length * 2);
    next.set(dyn);
    dyn = next;
    spans.lists = next;
  }
  dyn[dn++] = start;
  dyn[dn++] = len;
}

/** Reads an array of strings (a record of `width` strings per item) into the lists; returns its item count. */
function readStrArray(width: number): number {
  let items = 0;
  for (let n = tap.blockCount(); n !== 0; n = tap.blockCount()) {
    items += n;
    if (items > 1_000_000) throw AVRO_UNSURE;
    for (let i = 0; i < n; i++) {
      for (let w = 0; w < width; w++) {
        const s = readStr();
        pushSpan(s, strLen);
      }
    }
  }
  return items;
}

/**
 * Reads the Decision v1 body in `buf` from `start` to its end (written with a schema of
 * DECISION_READER_LAYOUT), or undefined: take the avsc path. The result is the one DecisionSpans
 * object, refilled by the next call.
 */
export function readDecision(buf: Buffer, start: number): DecisionSpans | undefined {
  tap.reset(buf, start);
  dn = 0;
  dyn = spans.lists;
  const d = spans;
  try {
    d.evS = readStr();
    d.evL = strLen;
    d.decidedMs = tap.long();
    d.outcome = tap.enumIndex(3);
    d.r0 = dn >> 1;
    d.nReasons = readStrArray(2);
    d.b0 = dn >> 1;
    d.nBasis = readStrArray(1);
    d.polS = readStr();
    d.polL = strLen;
    readStr(); // event.eventId: the decision's own eventId is the same
    d.occurredMs = tap.long();
    d.tenS = readStr();
    d.tenL = strLen;
    d.actS = readStr();
    d.actL = strLen;
    d.actorType = tap.enumIndex(2);
    d.subS = readStr();
    d.subL = strLen;
    d.subjectType = tap.enumIndex(4);
    d.c0 = dn >> 1;
    d.nCats = readStrArray(1);
    d.f0 = dn >> 1;
    d.nFields = tap.present() ? readStrArray(1) : 0;
    d.action = tap.enumIndex(7);
    d.purS = readStr();
    d.purL = strLen;
    d.recS = 0;
    d.recL = -1;
    d.recipientType = -1;
    if (tap.present()) {
      d.recS = readStr();
      d.recL = strLen;
      d.recipientType = tap.enumIndex(3);
    }
    d.legS = 0;
    d.legL = -1;
    if (tap.present()) {
      d.legS = readStr();
      d.legL = strLen;
    }
    d.dcMs = tap.present() ? tap.long() : Number.NaN;
    d.recordCount = tap.long();
    d.svcS = readStr();
    d.svcL = strLen;
    d.reqS = 0;
    d.reqL = -1;
    if (tap.present()) {
      d.reqS = readStr();
      d.reqL = strLen;
    }
    d.trS = 0;
    d.trL = -1;
    if (tap.present()) {
      d.trS = readStr();
      d.trL = strLen;
    }
    d.ipS = 0;
    d.ipL = -1;
    if (tap.present()) {
      d.ipS = readStr();
      d.ipL = strLen;
    }
    d.attributes = undefined;
    if (tap.present()) {
      // As avsc builds it (later keys win, `__proto__` ignored).
      const m: Record<string, string> = {};
      for (let n = tap.blockCount(); n !== 0; n = tap.blockCount()) {
        if (n > 1_000_000) throw AVRO_UNSURE;
        for (let i = 0; i < n; i++) {
          const ks = readStr();
          const k = buf.toString('utf8', ks, ks + strLen);
          const vs = readStr();
          m[k] = buf.toString('utf8', vs, vs + strLen);
        }
      }
      d.attributes = m;
    }
    // an int avsc reads whatever its size; trailing bytes avsc refuses
    if (tap.pos !== tap.end || d.recordCount !== (d.recordCount | 0)) {
      d.release();
      return undefined;
    }
    d.buf = buf;
    return d;
  } catch {
    d.release();
    return undefined;
  } finally {
    tap.release();
  }
}
