/**
 * kafkajs' log lines reach our logger at their own level, except its notice about an idempotent
 * producer with finite retries: it does not apply to how Custos uses producers (kafka-client.js), and
 * logged once per producer it would be most of a demo start's warnings.
 */
import { describe, expect, it } from 'vitest';
import { createKafka } from './client.js';
import { IDEMPOTENT_RETRIES_NOTICE } from './kafka-client.js';

function capture() {
  const lines: { level: string; msg: string; kafka?: string }[] = [];
  const at =
    (level: string) =>
    (obj: { kafka?: string }, msg: string): void => {
      lines.push({ level, msg, ...(obj.kafka === undefined ? {} : { kafka: obj.kafka }) });
    };
  const logger = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
  return { lines, logger };
}

describe('kafkajs logging', () => {
  it("logs the idempotent producer's retries notice at debug, not warn", () => {
    const { lines, logger } = capture();
    const kafka = createKafka({ brokers: ['127.0.0.1:1'], clientId: 't', logger });
    kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    kafka.producer({ idempotent: true, transactionalId: 'x', maxInFlightRequests: 1 });
    const notices = lines.filter((l) => l.msg === IDEMPOTENT_RETRIES_NOTICE);
    expect(notices).toEqual([
      { level: 'debug', msg: IDEMPOTENT_RETRIES_NOTICE, kafka: 'Producer' },
      { level: 'debug', msg: IDEMPOTENT_RETRIES_NOTICE, kafka: 'Producer' },
    ]);
    expect(lines.filter((l) => l.level === 'warn')).toEqual([]);
  });
});
