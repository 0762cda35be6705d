/**
 * Dead letters keep the original key, value bytes and headers, plus why (reason, error type,
 * retriable) and where (service, step, source topic, partition, offset). The value is a DeadLetter v1
 * Avro record; the headers repeat the reason so a plain console consumer can see it.
 */
import { type DeadLetter, deadLetterAvro, toAvro } from '@custos/schemas';
import type { IHeaders, Message } from 'kafkajs';
import { errorType, isRetriable } from './errors.js';
import type { AvroCodec, RegisteredSchema } from './registry.js';

export interface FailedRecord {
  topic: string;
  partition: number;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  headers?: IHeaders | undefined;
}

function headerList(headers: IHeaders | undefined): DeadLetter['headers'] {
  const out: DeadLetter['headers'] = [];
  for (const [key, v] of Object.entries(headers ?? {})) {
    const values = Array.isArray(v) ? v : [v];
    for (const one of values) out.push({ key, value: one === undefined ? null : Buffer.from(one) });
  }
  return out;
}

export class DeadLetterEncoder {
  private constructor(
    private readonly schema: RegisteredSchema,
    private readonly service: string,
  ) {}

  static async create(codec: AvroCodec, dlqSubject: string, service: string): Promise<DeadLetterEncoder> {
    return new DeadLetterEncoder(await codec.register(dlqSubject, deadLetterAvro), service);
  }

  /** Builds the DLQ message for `record` that failed at `step` with `err`. */
  message(record: FailedRecord, step: string, err: unknown): Message {
    const reason = err instanceof Error ? err.message : String(err);
    const letter: DeadLetter = {
      reason,
      errorType: errorType(err),
      retriable: isRetriable(err),
      step,
      service: this.service,
      sourceTopic: record.topic,
      partition: record.partition,
      offset: record.offset,
      failedAt: new Date().toISOString(),
      key: record.key,
      value: record.value,
      headers: headerList(record.headers),
    };
    return {
      key: record.key,
      value: this.schema.encode(toAvro(deadLetterAvro, letter)),
      headers: {
        'custos.dlq.reason': reason.slice(0, 1000),
        'custos.dlq.step': step,
        'custos.dlq.source': `${record.topic}/${record.partition}/${record.offset}`,
      },
    };
  }
}
