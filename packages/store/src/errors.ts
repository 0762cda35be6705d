/**
 * ClickHouse errors classified by their code (both backends carry it: the server's ClickHouseError
 * as `code`, chDB's errors as `clickhouseCode`), never by parsing messages.
 *
 * - `record`: the data of some row cannot be stored (parse or type errors). Retrying the same rows
 *   fails the same way: find the row(s) by bisecting the batch and dead-letter them.
 * - `retriable`: the store is unavailable or overloaded (table missing or detached, read-only,
 *   network, timeouts, too many parts, memory). Unknown codes are treated as retriable too: pausing
 *   is always safe, dead-lettering a good record is not.
 */
export type ErrorKind = 'record' | 'retriable';

/** Codes meaning "this input value cannot be stored in this column". */
const RECORD_CODES = new Set([
  6, // CANNOT_PARSE_TEXT
  26, // CANNOT_PARSE_QUOTED_STRING
  27, // CANNOT_PARSE_INPUT_ASSERTION_FAILED
  38, // CANNOT_PARSE_DATE
  41, // CANNOT_PARSE_DATETIME
  53, // TYPE_MISMATCH
  69, // ARGUMENT_OUT_OF_BOUND
  70, // CANNOT_CONVERT_TYPE
  72, // CANNOT_PARSE_NUMBER
  117, // INCORRECT_DATA
  131, // TOO_LARGE_STRING_SIZE
  321, // VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE
  349, // CANNOT_INSERT_NULL_IN_ORDINARY_COLUMN
  376, // CANNOT_PARSE_UUID
  691, // UNKNOWN_ELEMENT_OF_ENUM
]);

export function clickhouseCode(err: unknown): number | undefined {
  if (!err || typeof err !== 'object') return undefined;
  const e = err as { clickhouseCode?: unknown; code?: unknown; cause?: unknown };
  if (typeof e.clickhouseCode === 'number') return e.clickhouseCode;
  if (typeof e.code === 'string' && /^\d+$/.test(e.code)) return Number(e.code);
  if (typeof e.code === 'number') return e.code;
  if (e.cause && e.cause !== err) return clickhouseCode(e.cause);
  return undefined;
}

export function classifyStoreError(err: unknown): ErrorKind {
  const code = clickhouseCode(err);
  return code !== undefined && RECORD_CODES.has(code) ? 'record' : 'retriable';
}

/**
 * Codes meaning "this query ran out of time": TIMEOUT_EXCEEDED (159, `max_execution_time`; what
 * chDB's `rawInsert` raises too, as `clickhouseCode`, with nothing of the insert stored), TOO_SLOW
 * (160, `min_execution_speed`), SOCKET_TIMEOUT (209). Still `retriable`, but an insert failing so
 * may fail again the same way at the same size: the sink stores it in smaller pieces instead.
 */
const TIMEOUT_CODES = new Set([159, 160, 209]);

export function isTimeoutError(err: unknown): boolean {
  const code = clickhouseCode(err);
  return code !== undefined && TIMEOUT_CODES.has(code);
}

/** The stored chain contradicts itself or its checkpoints; the sink will not build on it. */
export class ChainIntegrityError extends Error {
  readonly retriable = false;
  constructor(message: string) {
    super(message);
    this.name = 'ChainIntegrityError';
  }
}
