/**
 * Decision rows: the mapping between a decision (its JSON form, or the Avro form as decoded from the
 * topic) and the decisions table, and the row's canonical bytes — the input of the chain hash.
 *
 * Canonical bytes = the UTF-8 of a JSON array of the stored values in CANONICAL_COLUMNS order
 * (strings and arrays as JSON, integers as digits, times as `YYYY-MM-DD hh:mm:ss.sss` UTC, a map as
 * an object with sorted keys, a missing time as null). The sink inserts exactly that line plus the
 * hash (JSONCompactEachRow), so it is built once; the verifier reads the values back and rebuilds it.
 */
import type { Decision, DecisionV1AvroValue } from '@custos/schemas';
import type { Store } from './client.js';

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
    query: `SELECT ${STORED_SELECT} FROM ${store.table('decisions')} WHERE ${where} ORDER BY ${orderBy}`,
    query_params: params,
    format: 'JSONCompactEachRow',
    clickhouse_settings: { date_time_output_format: 'simple', output_format_json_quote_64bit_integers: 1 },
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
