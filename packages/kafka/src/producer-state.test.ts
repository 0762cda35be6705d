import { describe, expect, it } from 'vitest';
import { producerStateLost } from './errors.js';

// kafkajs' shapes: a protocol error carries `type`; retries exhausted wrap it (`cause` and, in
// kafkajs' own classes, `originalError`).
const protocol = (type: string) => Object.assign(new Error(type), { name: 'KafkaJSProtocolError', type, retriable: false });
const exhausted = (cause: Error) =>
  Object.assign(new Error('retries exhausted', { cause }), { name: 'KafkaJSNumberOfRetriesExceeded', retriable: false });

describe('producerStateLost: when only a new producer can send', () => {
  it('a sequence or producer-id error, bare or wrapped', () => {
    expect(producerStateLost(protocol('OUT_OF_ORDER_SEQUENCE_NUMBER'))).toBe(true);
    expect(producerStateLost(exhausted(protocol('UNKNOWN_PRODUCER_ID')))).toBe(true);
    expect(producerStateLost(Object.assign(new Error('x'), { originalError: protocol('INVALID_PRODUCER_EPOCH') }))).toBe(true);
    // the sender thread's SenderError carries the innermost type at the top
    expect(producerStateLost({ name: 'KafkaJSNumberOfRetriesExceeded', type: 'DUPLICATE_SEQUENCE_NUMBER' })).toBe(true);
  });

  it('a lost connection, a timeout or a leader change keeps the producer (the broker de-duplicates the retry)', () => {
    expect(
      producerStateLost(
        exhausted(Object.assign(new Error('Connection error'), { name: 'KafkaJSConnectionError', retriable: true })),
      ),
    ).toBe(false);
    expect(producerStateLost(exhausted(protocol('REQUEST_TIMED_OUT')))).toBe(false);
    expect(producerStateLost(protocol('NOT_LEADER_FOR_PARTITION'))).toBe(false);
    expect(producerStateLost(new Error('plain'))).toBe(false);
    expect(producerStateLost(undefined)).toBe(false);
  });
});
