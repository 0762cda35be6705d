/**
 * Avro in Confluent wire format (magic 0, 4-byte schema id, Avro body) through a Confluent-compatible
 * registry. Encoding is synchronous once a schema is registered (the id is cached), so producers can
 * encode on the caller's thread without awaiting the network.
 */
import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import avro from 'avsc';
import { CustosError, DecodeError, isRetriable, RegistryUnavailableError } from './errors.js';

export interface RegisteredSchema {
  id: number;
  subject: string;
  type: avro.Type;
  /** Avro form → framed bytes. */
  encode(value: unknown): Buffer;
}

export interface Decoded<T = unknown> {
  schemaId: number;
  value: T;
}

const MAGIC = 0;
type Resolver = ReturnType<avro.Type['createResolver']>;

export function frame(id: number, body: Buffer): Buffer {
  const out = Buffer.allocUnsafe(5 + body.length);
  out.writeUInt8(MAGIC, 0);
  out.writeUInt32BE(id, 1);
  body.copy(out, 5);
  return out;
}

/** What a log needs to tell two schemas apart: the record's full name and its canonical form's SHA-256. */
export interface SchemaIdentity {
  name: string;
  /** SHA-256 of the Parsing Canonical Form, hex (formatting, docs and defaults do not change it) */
  fingerprint: string;
}

export function schemaIdentity(type: avro.Type): SchemaIdentity {
  return { name: type.name ?? type.typeName, fingerprint: type.fingerprint('sha256').toString('hex') };
}

/**
 * The registry now gives a schema id another schema (or none) than it gave this process before: it
 * lost its storage, or it is not the registry the producers used. Not the record's fault, and not
 * transient either: consuming on would dead-letter good records, or read them with the wrong schema.
 * A consumer stops without committing and the service exits non-zero (`fatal`).
 */
export class RegistryChangedError extends CustosError {
  readonly fatal = true;

  constructor(
    readonly schemaId: number,
    readonly cached: SchemaIdentity,
    readonly current: SchemaIdentity | null,
    registryUrl: string,
  ) {
    super(
      `the schema registry at ${registryUrl} changed schema id ${schemaId}: it was ${cached.name} ` +
        `(sha256 ${cached.fingerprint.slice(0, 16)}) and is now ${
          current ? `${current.name} (sha256 ${current.fingerprint.slice(0, 16)})` : 'unknown to the registry'
        }; the registry lost its storage or is another registry. Stopping without committing: records ` +
        'framed with this id cannot be read reliably until producers and consumers agree on the registry again',
      false,
    );
  }
}

/**
 * True for an error after which a consumer must stop (not retry, not dead-letter): a
 * RegistryChangedError, also when it crossed a thread boundary as a name and a message.
 */
export function isFatal(err: unknown): boolean {
  if (err instanceof RegistryChangedError) return true;
  return !!err && typeof err === 'object' && 'name' in err && err.name === 'RegistryChangedError';
}

/**
 * How long a check that the registry still gives an id the cached schema is taken as current: a burst
 * of bad records of one id costs one lookup. Far shorter than any registry restart, so no check can
 * span one.
 */
const CONFIRM_TTL_MS = 1000;

/** default bound on one registry call (see AvroCodec) */
const REGISTRY_TIMEOUT_MS = 15_000;

/** attempts at a registration the registry refuses with 409 Conflict (a concurrent registration) */
const REGISTER_CONFLICT_ATTEMPTS = 5;

const statusOf = (err: unknown): number | undefined =>
  err && typeof err === 'object' && 'status' in err ? Number(err.status) : undefined;

/**
 * The registry client reports a refused or broken connection as a 400 whose message names the
 * network error: that is the registry being unreachable (retriable), not a bad request.
 */
const NETWORK_ERROR = /\b(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|EAI_AGAIN|EHOSTUNREACH|UND_ERR_SOCKET)\b|socket hang up/;

function registryError(what: string, err: unknown): Error {
  const status = statusOf(err);
  const message = err instanceof Error ? err.message : String(err);
  if (status !== undefined && status >= 400 && status < 500 && !NETWORK_ERROR.test(message)) {
    return new DecodeError(`${what}: registry answered ${status}: ${err instanceof Error ? err.message : String(err)}`, {
      cause: err,
    });
  }
  return new RegistryUnavailableError(
    `${what}: schema registry unavailable (${err instanceof Error ? err.message : String(err)})`,
    {
      cause: err,
    },
  );
}

export class AvroCodec {
  private readonly writerTypes = new Map<number, Promise<avro.Type>>();
  private readonly resolvers = new Map<string, avro.Type | Resolver>();
  private readonly registered = new Map<string, Promise<RegisteredSchema>>();
  /** a client without a cache of its own (cleared before each lookup) for confirmSchema */
  private readonly uncached: SchemaRegistry;
  /** per id: the last check that the registry still gives the cached schema (see CONFIRM_TTL_MS) */
  private readonly confirmed = new Map<number, { at: number; check: Promise<void> }>();

  /**
   * `timeoutMs`: how long one call to the registry (with its client's own retries) may take before
   * it fails as RegistryUnavailableError (retriable). The registry client has no timeout of its
   * own, so a registry that accepts a request and never answers would stall a caller for good.
   */
  constructor(
    readonly registry: SchemaRegistry,
    readonly url: string,
    private readonly timeoutMs = REGISTRY_TIMEOUT_MS,
  ) {
    this.uncached = new SchemaRegistry({ host: url, retry: { retries: 2, initialRetryTimeInSecs: 0.1, maxRetryTimeInSecs: 1 } });
  }

  static connect(url: string, opts: { timeoutMs?: number } = {}): AvroCodec {
    return new AvroCodec(
      new SchemaRegistry({ host: url, retry: { retries: 2, initialRetryTimeInSecs: 0.1, maxRetryTimeInSecs: 1 } }),
      url,
      opts.timeoutMs,
    );
  }

  /** `call`, or RegistryUnavailableError once it has taken `timeoutMs` (the call is left to finish). */
  private timed<T>(what: string, call: Promise<T>): Promise<T> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new RegistryUnavailableError(`${what}: the schema registry did not answer within ${this.timeoutMs} ms`)),
        this.timeoutMs,
      );
    });
    return Promise.race([call, expired]).finally(() => clearTimeout(timer));
  }

  /** Registers `schema` under `subject` once per process and returns a synchronous encoder. */
  register(subject: string, schema: object): Promise<RegisteredSchema> {
    const key = `${subject}\u0000${JSON.stringify(schema)}`;
    let p = this.registered.get(key);
    if (!p) {
      p = (async () => {
        const type = avro.Type.forSchema(schema as avro.Schema);
        let id: number | undefined;
        for (let attempt = 1; id === undefined; attempt++) {
          try {
            ({ id } = await this.timed(
              `registering ${subject}`,
              this.registry.register({ type: SchemaType.AVRO, schema: JSON.stringify(schema) }, { subject }),
            ));
          } catch (err) {
            if (err instanceof RegistryUnavailableError) throw err;
            // 409 while another process registers the same new subject (Apicurio creates the
            // subject and its compatibility rule in two steps and refuses the second creator):
            // registering is idempotent, so the next attempt gets the id. Any other answer stands.
            if (statusOf(err) !== 409 || attempt >= REGISTER_CONFLICT_ATTEMPTS)
              throw registryError(`registering ${subject}`, err);
            await new Promise((r) => setTimeout(r, 50 * attempt));
          }
        }
        this.writerTypes.set(id, Promise.resolve(type));
        return { id, subject, type, encode: (value: unknown) => frame(id, type.toBuffer(value)) };
      })();
      // A failed registration is retried on the next call rather than cached.
      p.catch(() => this.registered.delete(key));
      this.registered.set(key, p);
    }
    return p;
  }

  private writerType(id: number): Promise<avro.Type> {
    let p = this.writerTypes.get(id);
    if (!p) {
      p = this.timed(`fetching schema ${id}`, this.registry.getSchema(id)).then(
        (s) => {
          if (!(s instanceof avro.Type)) throw new DecodeError(`schema ${id} is not an Avro schema`);
          return s;
        },
        (err: unknown) => {
          this.writerTypes.delete(id);
          if (err instanceof RegistryUnavailableError) throw err;
          throw registryError(`fetching schema ${id}`, err);
        },
      );
      this.writerTypes.set(id, p);
    }
    return p;
  }

  /**
   * Called when a record framed with schema id `id` could not be read: resolves when the registry
   * still gives `id` the schema cached here (the record is bad: dead-letter it), or when nothing is
   * cached for `id` (nothing to compare); throws RegistryChangedError when it now gives another schema
   * or none, RegistryUnavailableError when it cannot be asked. Bypasses every cache. One lookup serves
   * concurrent calls for an id and calls within CONFIRM_TTL_MS of a confirmation.
   */
  confirmSchema(id: number): Promise<void> {
    const last = this.confirmed.get(id);
    if (last && performance.now() - last.at < CONFIRM_TTL_MS) return last.check;
    const entry = { at: Number.POSITIVE_INFINITY, check: this.compareWithRegistry(id) };
    this.confirmed.set(id, entry);
    entry.check.then(
      () => {
        entry.at = performance.now();
      },
      // A change or an outage is asked again next time.
      () => {
        if (this.confirmed.get(id) === entry) this.confirmed.delete(id);
      },
    );
    return entry.check;
  }

  private async compareWithRegistry(id: number): Promise<void> {
    const cachedP = this.writerTypes.get(id);
    const cached = cachedP && (await cachedP.catch(() => undefined));
    if (!cached) return;
    let current: avro.Type | null;
    try {
      this.uncached.cache.clear();
      const s = await this.timed(`fetching schema ${id} again`, this.uncached.getSchema(id));
      current = s instanceof avro.Type ? s : null;
    } catch (err) {
      // Only "no such schema" is an answer; anything else leaves the question open (retriable).
      if (statusOf(err) !== 404) {
        throw err instanceof RegistryUnavailableError
          ? err
          : new RegistryUnavailableError(`fetching schema ${id} again: ${err instanceof Error ? err.message : String(err)}`, {
              cause: err,
            });
      }
      current = null;
    }
    if (current?.fingerprint().equals(cached.fingerprint())) return;
    throw new RegistryChangedError(id, schemaIdentity(cached), current && schemaIdentity(current), this.url);
  }

  /**
   * Whether `buf` is Confluent-framed with `reader`'s own schema id: its Avro body (from byte 5) was
   * then written with exactly `reader`'s schema, and can be read by a decoder written for it.
   */
  isFramedWith(buf: Buffer | null | undefined, reader: RegisteredSchema): buf is Buffer {
    return !!buf && buf.length >= 5 && buf[0] === MAGIC && buf.readUInt32BE(1) === reader.id;
  }

  /**
   * The hot path of `decode`: when `buf` was written with `reader`'s own schema id, decodes it
   * synchronously (no promise per record) with the same result and errors; undefined otherwise (other
   * writer schema, or bytes `decode` must judge), then call `decode`.
   */
  decodeSync<T = unknown>(buf: Buffer | null | undefined, reader: RegisteredSchema): T | undefined {
    if (!this.isFramedWith(buf, reader)) return undefined;
    try {
      return reader.type.fromBuffer(buf.subarray(5)) as T;
    } catch (err) {
      throw new DecodeError(
        `cannot decode Avro body with schema ${reader.id}: ${err instanceof Error ? err.message : String(err)}`,
        {
          cause: err,
        },
      );
    }
  }

  /**
   * Framed bytes → Avro form. With `reader`, values written with an older (compatible) schema are
   * resolved into the reader's shape. A body that cannot be read with the id's schema is a
   * DecodeError only once the registry confirmed that schema (confirmSchema): if it changed its mind,
   * RegistryChangedError.
   */
  async decode<T = unknown>(buf: Buffer | null | undefined, reader?: RegisteredSchema | avro.Type): Promise<Decoded<T>> {
    if (!buf || buf.length < 5)
      throw new DecodeError(`value of ${buf ? buf.length : 0} bytes is too short for Confluent wire format`);
    if (buf.readUInt8(0) !== MAGIC)
      throw new DecodeError(`unknown magic byte ${buf.readUInt8(0)}; expected Confluent wire format`);
    const schemaId = buf.readUInt32BE(1);
    const writer = await this.writerType(schemaId);
    const readerType = reader
      ? 'type' in reader && reader.type instanceof avro.Type
        ? reader.type
        : (reader as avro.Type)
      : writer;
    try {
      if (readerType === writer || readerType.fingerprint().equals(writer.fingerprint())) {
        return { schemaId, value: readerType.fromBuffer(buf.subarray(5)) as T };
      }
      const key = `${schemaId}\u0000${readerType.fingerprint().toString('hex')}`;
      let resolver = this.resolvers.get(key);
      if (!resolver) {
        resolver = readerType.createResolver(writer);
        this.resolvers.set(key, resolver);
      }
      return { schemaId, value: readerType.fromBuffer(buf.subarray(5), resolver as Resolver) as T };
    } catch (err) {
      await this.confirmSchema(schemaId);
      throw new DecodeError(
        `cannot decode Avro body with schema ${schemaId}: ${err instanceof Error ? err.message : String(err)}`,
        {
          cause: err,
        },
      );
    }
  }
}

/**
 * Runs `fn` again while it fails with a retriable error (the schema registry unreachable while a
 * service starts, e.g. during the registry's own restart): backoff from 200 ms to 5 s, a warning on
 * the first failure and every tenth. Other errors are thrown at once.
 */
export async function retryWhileUnavailable<T>(
  what: string,
  fn: () => Promise<T>,
  logger: { warn(obj: object, msg?: string): void },
  stopping: () => boolean = () => false,
): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (!isRetriable(err) || stopping()) throw err;
      if (attempt % 10 === 0) logger.warn({ err, attempt }, `${what}: schema registry unavailable; retrying`);
      await new Promise((r) => setTimeout(r, Math.min(5000, 200 * 2 ** Math.min(attempt, 5))));
    }
  }
}
