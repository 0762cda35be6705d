/**
 * Decision rows: the mapping between a decision (its JSON form, or the Avro form as decoded from the
 * topic) and the decisions table, and the row's canonical bytes — the input of the chain hash.
 *
 * Canonical bytes = the UTF-8 of a JSON array of the stored values in CANONICAL_COLUMNS order
 * (strings and arrays as JSON, integers as digits, times as `YYYY-MM-DD hh:mm:ss.sss` UTC, a map as
 * an object with sorted keys, a missing time as null). The sink inserts exactly that line plus the
 * hash (JSONCompactEachRow), so it is built once; the verifier reads the values back and rebuilds it.
 */
import { civilFromDays, type Decision, type DecisionV1AvroValue } from '@custos/schemas';
import { BufferPool, DECISION_READER_LAYOUT, layoutOf, readDecision } from '@custos/schemas/avro';
import { type Store, settingsClause } from './client.js';

/** The decision and its event, as stored. */
export interface DecisionContent {
  tenant_id: string;
  event_id: string;
  occurred_at: string;
  decided_at: string;
  outcome: Decision['outcome'];
  codes: string[];
  reason_messages: string[];
  basis: string[];
  policy_version: string;
  actor_id: string;
  actor_type: string;
  subject_id: string;
  subject_type: string;
  categories: string[];
  fields: string[];
  action: string;
  purpose: string;
  recipient_id: string;
  recipient_type: string;
  legal_basis: string;
  data_collected_at: string | null;
  record_count: number;
  source_service: string;
  source_request_id: string;
  source_trace_id: string;
  source_ip: string;
  attributes: Record<string, string>;
}

/** A decision with where it came from: Kafka partition (= chain) and offset. */
export interface DecisionRow extends DecisionContent {
  kafka_partition: number;
  /** decimal string (int64) */
  kafka_offset: string;
}

/** A chained row: its place in the chain and its hash (hex). */
export interface StoredDecision extends DecisionRow {
  chain_seq: number;
  chain_hash: string;
}

type Kind = 'str' | 'int' | 'u64' | 'arr' | 'time' | 'ntime' | 'map';

/** Content columns in canonical (and table) order, with how each is encoded. */
export const CONTENT_COLUMNS = [
  ['tenant_id', 'str'],
  ['event_id', 'str'],
  ['occurred_at', 'time'],
  ['decided_at', 'time'],
  ['outcome', 'str'],
  ['codes', 'arr'],
  ['reason_messages', 'arr'],
  ['basis', 'arr'],
  ['policy_version', 'str'],
  ['actor_id', 'str'],
  ['actor_type', 'str'],
  ['subject_id', 'str'],
  ['subject_type', 'str'],
  ['categories', 'arr'],
  ['fields', 'arr'],
  ['action', 'str'],
  ['purpose', 'str'],
  ['recipient_id', 'str'],
  ['recipient_type', 'str'],
  ['legal_basis', 'str'],
  ['data_collected_at', 'ntime'],
  ['record_count', 'int'],
  ['source_service', 'str'],
  ['source_request_id', 'str'],
  ['source_trace_id', 'str'],
  ['source_ip', 'str'],
  ['attributes', 'map'],
] as const satisfies readonly (readonly [keyof DecisionContent, Kind])[];

/** Everything the chain hash covers: the content, where it came from and its place in the chain. */
export const CANONICAL_COLUMNS = [
  ...CONTENT_COLUMNS,
  ['kafka_partition', 'int'],
  ['kafka_offset', 'u64'],
  ['chain_seq', 'int'],
] as const satisfies readonly (readonly [keyof StoredDecision, Kind])[];

/** Insert column order: the canonical columns, then the hash. */
export const INSERT_COLUMNS: readonly string[] = [...CANONICAL_COLUMNS.map(([c]) => c), 'chain_hash'];

export const CONTENT_COLUMN_NAMES: readonly (keyof DecisionContent)[] = CONTENT_COLUMNS.map(([c]) => c);

/**
 * A string as JSON, byte-identical to `JSON.stringify(s)`: a string without `"`, `\\`, control
 * characters or surrogates is only wrapped in quotes (JSON.stringify escapes nothing else); any other
 * string goes through JSON.stringify. About twice as fast on the short ids and codes of a row.
 */
function q(s: string): string {
  if (typeof s !== 'string') return JSON.stringify(s);
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c === 0x22 || c === 0x5c || (c >= 0xd800 && c <= 0xdfff)) return JSON.stringify(s);
  }
  return `"${s}"`;
}

function encodeMap(m: Record<string, string>): string {
  const keys = Object.keys(m);
  if (keys.length === 0) return '{}';
  keys.sort();
  let out = '{';
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i] as string;
    out += `${i ? ',' : ''}${q(k)}:${q(m[k] as string)}`;
  }
  return `${out}}`;
}

function encodeArr(a: readonly string[]): string {
  return a.length === 0 ? '[]' : JSON.stringify(a);
}

/** Canonical text of the content columns, without the enclosing brackets. */
export function encodeContent(r: DecisionContent): string {
  // Written out rather than looped over CONTENT_COLUMNS: this runs once per stored row.
  return (
    `${q(r.tenant_id)},${q(r.event_id)},"${r.occurred_at}","${r.decided_at}",${q(r.outcome)},${encodeArr(r.codes)},` +
    `${encodeArr(r.reason_messages)},${encodeArr(r.basis)},${q(r.policy_version)},${q(r.actor_id)},${q(r.actor_type)},` +
    `${q(r.subject_id)},${q(r.subject_type)},${encodeArr(r.categories)},${encodeArr(r.fields)},${q(r.action)},` +
    `${q(r.purpose)},${q(r.recipient_id)},${q(r.recipient_type)},${q(r.legal_basis)},` +
    `${r.data_collected_at === null ? 'null' : `"${r.data_collected_at}"`},${r.record_count},${q(r.source_service)},` +
    `${q(r.source_request_id)},${q(r.source_trace_id)},${q(r.source_ip)},${encodeMap(r.attributes)}`
  );
}

/** The canonical bytes (as a string) of a chained row: what its hash covers. */
export function canonical(r: DecisionRow & { chain_seq: number }): string {
  return `[${encodeContent(r)},${r.kafka_partition},${r.kafka_offset},${r.chain_seq}]`;
}

/** The JSONCompactEachRow line inserted for a row: its canonical bytes plus the hash. */
export function insertLine(canonicalText: string, hash: string): string {
  return `${canonicalText.slice(0, -1)},"${hash}"]`;
}

/** ClickHouse DateTime64(3) text form (no `T`/`Z`), read as UTC by the column's time zone. */
export function chTime(iso: string): string {
  return chTimeMs(Date.parse(iso));
}

let cachedSecond = Number.NaN;
let cachedPrefix = '';

export function chTimeMs(ms: number): string {
  // Decisions come in time order, many per second: reuse the formatted second.
  const sec = Math.floor(ms / 1000);
  if (sec === cachedSecond && Number.isSafeInteger(ms)) return `${cachedPrefix}${String(ms - sec * 1000).padStart(3, '0')}`;
  // Throws RangeError for an invalid time: the record cannot be stored.
  const iso = new Date(ms).toISOString();
  if (Number.isSafeInteger(ms) && iso.length === 24) {
    cachedSecond = sec;
    cachedPrefix = `${iso.slice(0, 10)} ${iso.slice(11, 20)}`;
  }
  return `${iso.slice(0, 10)} ${iso.slice(11, 23)}`;
}

/** ClickHouse text time → ISO-8601 UTC. */
export function isoTime(ch: string): string {
  return `${ch.replace(' ', 'T')}Z`;
}

const UUID_DASHED = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
const UUID_PLAIN = /^\{?([0-9a-fA-F]{8})([0-9a-fA-F]{4})([0-9a-fA-F]{4})([0-9a-fA-F]{4})([0-9a-fA-F]{12})\}?$/;

/**
 * A UUID in the form ClickHouse prints it (lowercase, dashed), so the canonical bytes computed before
 * the insert equal the ones rebuilt from the stored row. Anything that is no UUID is left alone for
 * ClickHouse to refuse (the record is then dead-lettered).
 */
export function normalizeUuid(s: string): string {
  if (UUID_DASHED.test(s)) return s.toLowerCase();
  const m = UUID_PLAIN.exec(s);
  return m ? `${m[1]}-${m[2]}-${m[3]}-${m[4]}-${m[5]}`.toLowerCase() : s;
}

function sortedMap(m: Record<string, string> | null | undefined): Record<string, string> {
  if (!m) return {};
  const out: Record<string, string> = {};
  for (const k of Object.keys(m).sort()) out[k] = m[k] as string;
  return out;
}

/** The JSON form of a decision → its row. */
export function toRow(d: Decision, partition: number, offset: string): DecisionRow {
  const e = d.event;
  return {
    tenant_id: e.tenantId,
    event_id: normalizeUuid(d.eventId),
    occurred_at: chTime(e.occurredAt),
    decided_at: chTime(d.decidedAt),
    outcome: d.outcome,
    codes: d.reasons.map((r) => r.code),
    reason_messages: d.reasons.map((r) => r.message),
    basis: [...d.basis],
    policy_version: d.policyVersion,
    actor_id: e.actor.id,
    actor_type: e.actor.type,
    subject_id: e.subject.id,
    subject_type: e.subject.type,
    categories: [...e.categories],
    fields: e.fields ? [...e.fields] : [],
    action: e.action,
    purpose: e.purpose,
    recipient_id: e.recipient?.id ?? '',
    recipient_type: e.recipient?.type ?? '',
    legal_basis: e.legalBasis ?? '',
    data_collected_at: e.dataCollectedAt ? chTime(e.dataCollectedAt) : null,
    record_count: e.recordCount ?? 1,
    source_service: e.source.service,
    source_request_id: e.source.requestId ?? '',
    source_trace_id: e.source.traceId ?? '',
    source_ip: e.source.ip ?? '',
    attributes: sortedMap(e.attributes),
    kafka_partition: partition,
    kafka_offset: offset,
  };
}

/** A decision as avsc decodes it with the Decision v1 schema (times as epoch millis, nulls explicit). */
export type AvroDecision = DecisionV1AvroValue;

/**
 * The Avro form straight to a row (the sink's hot path; same result as `toRow(fromAvro(…))`).
 * Throws when a time is not representable: the record cannot be stored.
 */
export function rowFromAvro(d: AvroDecision, partition: number, offset: string): DecisionRow {
  const e = d.event;
  const reasons = d.reasons;
  const codes = new Array<string>(reasons.length);
  const messages = new Array<string>(reasons.length);
  for (let i = 0; i < reasons.length; i++) {
    const r = reasons[i] as { code: string; message: string };
    codes[i] = r.code;
    messages[i] = r.message;
  }
  const src = e.source;
  return {
    tenant_id: e.tenantId,
    event_id: normalizeUuid(d.eventId),
    occurred_at: chTimeMs(Number(e.occurredAt)),
    decided_at: chTimeMs(Number(d.decidedAt)),
    outcome: d.outcome,
    codes,
    reason_messages: messages,
    basis: d.basis,
    policy_version: d.policyVersion,
    actor_id: e.actor.id,
    actor_type: e.actor.type,
    subject_id: e.subject.id,
    subject_type: e.subject.type,
    categories: e.categories,
    fields: e.fields ?? [],
    action: e.action,
    purpose: e.purpose,
    recipient_id: e.recipient?.id ?? '',
    recipient_type: e.recipient?.type ?? '',
    legal_basis: e.legalBasis ?? '',
    data_collected_at: e.dataCollectedAt === null || e.dataCollectedAt === undefined ? null : chTimeMs(Number(e.dataCollectedAt)),
    record_count: e.recordCount,
    source_service: src.service,
    source_request_id: src.requestId ?? '',
    source_trace_id: src.traceId ?? '',
    source_ip: src.ip ?? '',
    attributes: e.attributes ? sortedMap(e.attributes) : {},
    kafka_partition: partition,
    kafka_offset: offset,
  };
}

/** SELECT list that reads a stored row back in INSERT_COLUMNS order (64-bit values as strings). */
export const STORED_SELECT = INSERT_COLUMNS.map((c) => (c === 'kafka_offset' || c === 'chain_seq' ? `toString(${c})` : c)).join(
  ', ',
);

/** A row read with STORED_SELECT in JSONCompactEachRow → StoredDecision. */
export function storedFromValues(v: unknown[]): StoredDecision {
  const out: Record<string, unknown> = {};
  INSERT_COLUMNS.forEach((c, i) => {
    out[c] = v[i];
  });
  out.kafka_offset = String(out.kafka_offset);
  out.chain_seq = Number(out.chain_seq);
  out.attributes = sortedMap(out.attributes as Record<string, string>);
  return out as unknown as StoredDecision;
}

/** Reads rows with a WHERE clause (on the decisions table) in chain order. */
export async function readStored(
  store: Store,
  where: string,
  params: Record<string, unknown>,
  orderBy = 'chain_seq, chain_hash',
): Promise<StoredDecision[]> {
  const rs = await store.client.query({
    // 64-bit integers (offsets, sequence numbers) as JSON strings: exact beyond 2^53. For this query
    // only (a SETTINGS clause; chDB would keep clickhouse_settings for the whole session).
    query: `SELECT ${STORED_SELECT} FROM ${store.table('decisions')} WHERE ${where} ORDER BY ${orderBy}${settingsClause({
      date_time_output_format: 'simple',
      output_format_json_quote_64bit_integers: 1,
    })}`,
    query_params: params,
    format: 'JSONCompactEachRow',
  });
  return (await rs.json<unknown[]>()).map(storedFromValues);
}

/** Field-by-field differences of two rows' content (for reports). */
export function contentDiff(a: DecisionContent, b: DecisionContent): { field: string; stored: unknown; expected: unknown }[] {
  const out: { field: string; stored: unknown; expected: unknown }[] = [];
  for (const [c] of CONTENT_COLUMNS) {
    const x = c === 'attributes' ? encodeMap(a[c]) : JSON.stringify(a[c]);
    const y = c === 'attributes' ? encodeMap(b[c]) : JSON.stringify(b[c]);
    if (x !== y) out.push({ field: c, stored: a[c], expected: b[c] });
  }
  return out;
}

// --- Avro (Decision v1) straight to canonical bytes: the sink's hot path ----------------------------

/**
 * A decision decoded from Avro straight into its canonical content bytes (`encodeContent` as UTF-8,
 * in `buf[start, end)`), with only what the chain needs kept as values. `prepare` sets `chain_seq`
 * and `chain_hash` when it chains it.
 */
export interface EncodedDecision {
  buf: Buffer;
  start: number;
  end: number;
  event_id: string;
  kafka_partition: number;
  /** decimal string (int64) */
  kafka_offset: string;
  occurredMs: number;
  decidedMs: number;
  chain_seq: number;
  chain_hash: string;
}

/** Arena chunks given back by `release`, for later recycled arenas. */
const arenaChunks = new BufferPool(16);

/**
 * Where encoded decisions are written: large buffers filled in turn. A plain arena's chunks are freed
 * with their last reference; a recycled one (`ContentArena.recycled()`) takes chunks from a shared
 * pool and gives them back on `release()`, once nothing decoded into it is read again.
 */
export class ContentArena {
  buf: Buffer = Buffer.allocUnsafeSlow(0);
  pos = 0;
  private readonly taken: Buffer[] = [];
  constructor(
    private readonly chunkBytes = 4 << 20,
    private readonly pooled = false,
  ) {}

  /** An arena whose chunks come from, and go back to, the shared pool. */
  static recycled(): ContentArena {
    return new ContentArena(undefined, true);
  }

  /** Makes room for `n` more bytes at `pos`. */
  reserve(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const size = Math.max(this.chunkBytes, n);
    if (this.pooled) {
      this.buf = arenaChunks.take(size);
      this.taken.push(this.buf);
    } else this.buf = Buffer.allocUnsafeSlow(size);
    this.pos = 0;
  }

  /**
   * Gives this arena's chunks to later arenas and empties it. The caller promises that nothing
   * decoded into it (an `EncodedDecision`'s bytes) is read after this.
   */
  release(): void {
    for (const b of this.taken) arenaChunks.give(b);
    this.taken.length = 0;
    this.buf = Buffer.allocUnsafeSlow(0);
    this.pos = 0;
  }
}

/** Whether records written with `schema` can be decoded by `encodeDecisionAvro` (else: avsc + rowFromAvro). */
export function decisionLineSupports(schema: unknown): boolean {
  return layoutOf(schema) === DECISION_READER_LAYOUT;
}

const OUTCOMES = ['"allow"', '"flag"', '"deny"'];
const ACTOR_TYPES = ['"staff"', '"processor"'];
const SUBJECT_TYPES = ['"customer"', '"user"', '"employee"', '"client_contact"'];
const ACTIONS = ['"read"', '"create"', '"update"', '"delete"', '"export"', '"share"', '"disclose"'];
const RECIPIENT_TYPES = ['"processor"', '"third_party"', '"authority"'];
/** year 10000: times from 1970 up to here are formatted here, any other goes the general way */
const MAX_FAST_MS = 253402300800000;

const EMPTY = Buffer.alloc(0);
// Writer state (module-level: one record at a time, synchronously): the record's bytes and its
// list spans (readDecision's), and where the row is written.
let src: Buffer = EMPTY;
let dyn: Int32Array = new Int32Array(0);
let out: Buffer = EMPTY;
let op = 0;

function putAscii(s: string): void {
  for (let i = 0; i < s.length; i++) out[op++] = s.charCodeAt(i);
}

/** The string at src[start, start + len) as JSON, as `q()` would write it. */
function putStr(start: number, len: number): void {
  const end = start + len;
  let w = op;
  out[w++] = 0x22;
  for (let i = start; i < end; i++) {
    const c = src[i] as number;
    if (c < 0x20 || c === 0x22 || c === 0x5c || c >= 0x80) {
      // Escapes or non-ASCII: the general way (avsc decodes UTF-8 with utf8Slice, same as toString).
      op += out.write(q(src.toString('utf8', start, end)), op, 'utf8');
      return;
    }
    out[w++] = c;
  }
  out[w++] = 0x22;
  op = w;
}

function putNullableStr(start: number, len: number): void {
  if (len < 0) {
    out[op++] = 0x22;
    out[op++] = 0x22;
  } else putStr(start, len);
}

/** `[` strings `]` from `count` spans of dyn starting at span index `from`, every `stride`-th. */
function putStrList(from: number, count: number, stride: number): void {
  out[op++] = 0x5b;
  for (let i = 0; i < count; i++) {
    if (i) out[op++] = 0x2c;
    const k = (from + i * stride) * 2;
    putStr(dyn[k] as number, dyn[k + 1] as number);
  }
  out[op++] = 0x5d;
}

function put2(n: number): void {
  out[op++] = 48 + ((n / 10) | 0);
  out[op++] = 48 + (n % 10);
}

/** `"YYYY-MM-DD hh:mm:ss.sss"` (UTC) for 0 ≤ ms < MAX_FAST_MS: the same text as chTimeMs. */
function putTime(ms: number): void {
  const days = Math.floor(ms / 86_400_000);
  let rest = ms - days * 86_400_000;
  const ymd = civilFromDays(days);
  const y = Math.floor(ymd / 10_000);
  const m = Math.floor(ymd / 100) % 100;
  const d = ymd % 100;
  out[op++] = 0x22;
  put2((y / 100) | 0);
  put2(y % 100);
  out[op++] = 0x2d;
  put2(m);
  out[op++] = 0x2d;
  put2(d);
  out[op++] = 0x20;
  const hh = (rest / 3_600_000) | 0;
  rest -= hh * 3_600_000;
  const mm = (rest / 60_000) | 0;
  rest -= mm * 60_000;
  const ss = (rest / 1000) | 0;
  rest -= ss * 1000;
  put2(hh);
  out[op++] = 0x3a;
  put2(mm);
  out[op++] = 0x3a;
  put2(ss);
  out[op++] = 0x2e;
  out[op++] = 48 + ((rest / 100) | 0);
  put2(rest % 100);
  out[op++] = 0x22;
}

const UUID_HEX = new Uint8Array(256);
for (const c of '0123456789abcdef') UUID_HEX[c.charCodeAt(0)] = 1;

/** A lowercase dashed UUID at src[start, start + 36): normalizeUuid leaves it as it is. */
function isPlainUuid(start: number, len: number): boolean {
  if (len !== 36) return false;
  for (let i = 0; i < 36; i++) {
    const c = src[start + i] as number;
    if (i === 8 || i === 13 || i === 18 || i === 23) {
      if (c !== 0x2d) return false;
    } else if (UUID_HEX[c] !== 1) return false;
  }
  return true;
}

/**
 * Decodes an Avro Decision v1 body (`buf[start…]` to the end; check `decisionLineSupports` for the
 * writer schema first) straight into its canonical content bytes in `arena`: the same bytes as
 * `encodeContent(rowFromAvro(avsc-decoded value))`, without the value, the row or their strings
 * (`readDecision` of @custos/schemas/avro finds the fields; this writes the row from their bytes).
 * Returns undefined for anything it does not handle exactly — malformed bytes, times before 1970 or
 * after 9999, huge counts — which the caller then takes the general way (avsc decode, rowFromAvro),
 * so errors and dead letters are those of the general path.
 */
export function encodeDecisionAvro(
  buf: Buffer,
  start: number,
  arena: ContentArena,
  partition: number,
  offset: string,
): EncodedDecision | undefined {
  const d = readDecision(buf, start);
  if (d === undefined) return undefined;
  const { evS, evL, decidedMs, outcome, r0, nReasons, b0, nBasis, polS, polL, occurredMs, tenS, tenL, actS, actL } = d;
  const { actorType, subS, subL, subjectType, c0, nCats, f0, nFields, action, purS, purL, recS, recL, recipientType } = d;
  const { legS, legL, dcMs, recordCount, svcS, svcL, reqS, reqL, trS, trL, ipS, ipL, attributes } = d;
  src = buf;
  dyn = d.lists;
  try {
    if (
      !(decidedMs >= 0 && decidedMs < MAX_FAST_MS) ||
      !(occurredMs >= 0 && occurredMs < MAX_FAST_MS) ||
      !(Number.isNaN(dcMs) || (dcMs >= 0 && dcMs < MAX_FAST_MS))
    ) {
      return undefined;
    }

    // --- pass 2: the canonical content, in CONTENT_COLUMNS order
    let bound = 6 * (src.length - start) + 256;
    if (attributes) bound += 3 * encodeMap(attributes).length;
    arena.reserve(bound);
    out = arena.buf;
    const begin = arena.pos;
    op = begin;
    putStr(tenS, tenL);
    out[op++] = 0x2c;
    let eventId: string;
    if (isPlainUuid(evS, evL)) {
      eventId = src.toString('latin1', evS, evS + 36);
      out[op++] = 0x22;
      for (let i = 0; i < 36; i++) out[op++] = src[evS + i] as number;
      out[op++] = 0x22;
    } else {
      eventId = normalizeUuid(src.toString('utf8', evS, evS + evL));
      op += out.write(q(eventId), op, 'utf8');
    }
    out[op++] = 0x2c;
    putTime(occurredMs);
    out[op++] = 0x2c;
    putTime(decidedMs);
    out[op++] = 0x2c;
    putAscii(OUTCOMES[outcome] as string);
    out[op++] = 0x2c;
    putStrList(r0, nReasons, 2); // codes
    out[op++] = 0x2c;
    putStrList(r0 + 1, nReasons, 2); // messages
    out[op++] = 0x2c;
    putStrList(b0, nBasis, 1);
    out[op++] = 0x2c;
    putStr(polS, polL);
    out[op++] = 0x2c;
    putStr(actS, actL);
    out[op++] = 0x2c;
    putAscii(ACTOR_TYPES[actorType] as string);
    out[op++] = 0x2c;
    putStr(subS, subL);
    out[op++] = 0x2c;
    putAscii(SUBJECT_TYPES[subjectType] as string);
    out[op++] = 0x2c;
    putStrList(c0, nCats, 1);
    out[op++] = 0x2c;
    putStrList(f0, nFields, 1);
    out[op++] = 0x2c;
    putAscii(ACTIONS[action] as string);
    out[op++] = 0x2c;
    putStr(purS, purL);
    out[op++] = 0x2c;
    putNullableStr(recS, recL);
    out[op++] = 0x2c;
    if (recipientType < 0) putAscii('""');
    else putAscii(RECIPIENT_TYPES[recipientType] as string);
    out[op++] = 0x2c;
    putNullableStr(legS, legL);
    out[op++] = 0x2c;
    if (Number.isNaN(dcMs)) putAscii('null');
    else putTime(dcMs);
    out[op++] = 0x2c;
    putAscii(String(recordCount));
    out[op++] = 0x2c;
    putStr(svcS, svcL);
    out[op++] = 0x2c;
    putNullableStr(reqS, reqL);
    out[op++] = 0x2c;
    putNullableStr(trS, trL);
    out[op++] = 0x2c;
    putNullableStr(ipS, ipL);
    out[op++] = 0x2c;
    if (attributes) op += out.write(encodeMap(attributes), op, 'utf8');
    else putAscii('{}');
    arena.pos = op;
    return {
      buf: out,
      start: begin,
      end: op,
      event_id: eventId,
      kafka_partition: partition,
      kafka_offset: offset,
      occurredMs,
      decidedMs,
      chain_seq: 0,
      chain_hash: '',
    };
  } catch {
    return undefined;
  } finally {
    d.release();
    src = EMPTY;
    out = EMPTY;
  }
}
