/**
 * Errors carry `retriable` and are classified by type (class or kafkajs' own `retriable` flag),
 * never by parsing messages.
 */
export class CustosError extends Error {
  constructor(
    message: string,
    readonly retriable: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A record's bytes are not a Confluent-framed Avro value of a known schema. */
export class DecodeError extends CustosError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, false, options);
  }
}

/** The schema registry could not be reached or answered with a server error. */
export class RegistryUnavailableError extends CustosError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, true, options);
  }
}

/** True when trying again later may succeed. */
export function isRetriable(err: unknown): boolean {
  if (err instanceof CustosError) return err.retriable;
  if (err && typeof err === 'object' && 'retriable' in err && typeof err.retriable === 'boolean') return err.retriable;
  // Node network errors (the registry's HTTP client) are transient by type.
  if (err && typeof err === 'object' && 'code' in err && typeof err.code === 'string') {
    return ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN', 'UND_ERR_SOCKET'].includes(err.code);
  }
  return false;
}

/**
 * Kafka no longer accepts this idempotent producer's sequence numbers (the broker lost or expired its
 * state, or another instance took its id): only a new producer can send. Any other failed send is
 * retried with the same producer, so that the broker recognises a batch it already appended (same
 * producer id and sequence numbers) instead of appending it twice. Looks through kafkajs' wrappers
 * (`cause`, `originalError`) for the protocol error's type.
 */
const PRODUCER_STATE_LOST = new Set([
  'OUT_OF_ORDER_SEQUENCE_NUMBER',
  'DUPLICATE_SEQUENCE_NUMBER',
  'INVALID_PRODUCER_EPOCH',
  'UNKNOWN_PRODUCER_ID',
  'INVALID_PRODUCER_ID_MAPPING',
]);
export function producerStateLost(err: unknown): boolean {
  for (let e = err, depth = 0; e && typeof e === 'object' && depth < 8; depth++) {
    const x = e as { type?: unknown; cause?: unknown; originalError?: unknown };
    if (typeof x.type === 'string' && PRODUCER_STATE_LOST.has(x.type)) return true;
    e = x.cause ?? x.originalError;
  }
  return false;
}

export function errorType(err: unknown): string {
  return err instanceof Error ? err.name : typeof err;
}
