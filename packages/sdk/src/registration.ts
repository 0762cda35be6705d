/**
 * The streams' schemas at the registry: registered in the background (retried until it answers),
 * their ids remembered beside the spool so that frames recorded while the registry is away carry
 * the id it gave before, and ids of older writer schemas found in the spool on replay.
 */
import type { AvroCodec } from '@custos/kafka';
import type { Kind } from './frame.js';
import type { LoggerLike } from './logger.js';
import type { SchemaStore } from './spool.js';
import type { Stream } from './stream.js';

export class SchemaRegistration {
  constructor(
    private readonly streams: Record<Kind, Stream>,
    private readonly codec: AvroCodec,
    private readonly registryUrl: string,
    /** the spool's schemas and ids (none without a spool), and its directory */
    private readonly store: SchemaStore | undefined,
    private readonly spoolDir: string | undefined,
    private readonly logger: LoggerLike,
  ) {
    for (const s of Object.values(streams)) {
      // Until the registry answers, frames carry the id it gave this spool before (if any).
      s.id = store?.id(registryUrl, s.subject, s.fpHex) ?? 0;
    }
  }

  /** Registers every stream's schema, retrying; returns early (ids left unknown) once `givenUp()`. */
  async registerAll(backoff: (attempt: number) => number, givenUp: () => boolean): Promise<void> {
    await Promise.all(
      Object.values(this.streams).map(async (s) => {
        for (let attempt = 0; ; attempt++) {
          try {
            s.id = (await this.codec.register(s.subject, s.schema)).id;
            this.saveId(s.subject, s.fpHex, s.id);
            return;
          } catch (err) {
            if (attempt === 0 || attempt % 20 === 0) {
              this.logger.warn({ err, subject: s.subject, cachedId: s.id || undefined }, 'schema registration failed; retrying');
            }
            if (givenUp()) return;
            await new Promise((resolve) => setTimeout(resolve, backoff(attempt)));
          }
        }
      }),
    );
  }

  /** Remembers an id beside the spool; a full disk must not make a registration that worked fail. */
  private saveId(subject: string, fpHex: string, id: number): void {
    try {
      this.store?.saveId(this.registryUrl, subject, fpHex, id);
    } catch (err) {
      this.logger.warn({ err, dir: this.spoolDir }, 'spool: could not save a schema id (the registry gives it again)');
    }
  }

  /** The registry id of the writer schema `fpHex` of stream `kind` (for frames read from the spool). */
  async schemaId(kind: Kind, fpHex: string): Promise<number> {
    const s = this.streams[kind];
    if (fpHex === s.fpHex && s.id !== 0) return s.id;
    const cached = this.store?.id(this.registryUrl, s.subject, fpHex);
    const schema = fpHex === s.fpHex ? s.schema : this.store?.loadSchema(fpHex);
    if (schema === undefined) {
      if (cached !== undefined) return cached;
      throw new Error(`spool holds frames of an unknown writer schema ${fpHex} and no registry id for it`);
    }
    try {
      const id = (await this.codec.register(s.subject, schema)).id;
      this.saveId(s.subject, fpHex, id);
      return id;
    } catch (err) {
      if (cached !== undefined) return cached;
      throw err;
    }
  }
}
