/**
 * The kafkajs patch's log levels (patches/kafkajs@2.2.4.patch), on the real broker.
 * - A transactional producer that commits and at once begins again is a healthy loop. It often
 *   meets CONCURRENT_TRANSACTIONS while the broker still writes the previous commit's markers, and
 *   kafkajs retries that.
 * - Such a loop must log no error: upstream kafkajs logs two error lines per retry ("Response
 *   AddPartitionsToTxn", "Failed to send messages"); the patch makes them warnings.
 * - An error that ends the request is still logged as an error. The check here: a transaction
 *   timeout the broker refuses (INVALID_TRANSACTION_TIMEOUT, not retriable).
 */
import { randomUUID } from 'node:crypto';
import { infraEnv, uniquePrefix } from '@custos/test/support';
import { afterAll, describe, expect, it } from 'vitest';
import { createKafka } from './client.js';

interface Entry {
  level: string;
  obj: Record<string, unknown>;
  msg: string | undefined;
}

function capture() {
  const entries: Entry[] = [];
  const at =
    (level: string) =>
    (obj: object, msg?: string): void => {
      entries.push({ level, obj: obj as Record<string, unknown>, msg });
    };
  return { entries, logger: { error: at('error'), warn: at('warn'), info: at('info'), debug: at('debug') } };
}

describe('kafkajs log levels (patched)', () => {
  const { brokers } = infraEnv();
  const topic = `${uniquePrefix('retry-logging')}.t`;
  const { entries, logger } = capture();
  const kafka = createKafka({ brokers, clientId: 'retry-logging-test', logger });
  const admin = kafka.admin();
  afterAll(async () => {
    await admin.disconnect();
  });

  it('logs no error for a transactional loop whose retries succeed', async () => {
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
    const producer = kafka.producer({
      transactionalId: `retry-logging-${randomUUID()}`,
      idempotent: true,
      maxInFlightRequests: 1,
    });
    await producer.connect();
    try {
      for (let i = 0; i < 60; i++) {
        const txn = await producer.transaction();
        await txn.send({ topic, messages: [{ key: 'k', value: String(i) }] });
        await txn.commit();
      }
    } finally {
      await producer.disconnect();
    }
    const errors = entries.filter((e) => e.level === 'error');
    expect(errors).toEqual([]);
    // (how many retries the broker caused, for whoever reads the output)
    console.info(`retried and logged as warnings: ${entries.filter((e) => e.level === 'warn').length}`);
  });

  it('still logs an error that ends the request', async () => {
    const producer = kafka.producer({
      transactionalId: `retry-logging-${randomUUID()}`,
      idempotent: true,
      maxInFlightRequests: 1,
      // over the broker's transaction.max.timeout.ms (15 min): INVALID_TRANSACTION_TIMEOUT
      transactionTimeout: 60 * 60 * 1000,
    });
    await producer.connect();
    try {
      await expect(producer.transaction()).rejects.toThrow();
    } finally {
      await producer.disconnect();
    }
    const errors = entries.filter((e) => e.level === 'error');
    expect(errors.length).toBeGreaterThan(0);
    expect(errors.some((e) => JSON.stringify(e.obj).includes('transaction timeout'))).toBe(true);
  });
});
