// @ts-check
/**
 * The SDK's producer settings, the same on the caller's thread and on the sender thread (JavaScript,
 * type-checked from its JSDoc: the sender thread loads it without a TypeScript loader).
 */
import { createKeyPartitioner } from '@custos/kafka/partitioner';

/** @returns {import('kafkajs').ProducerConfig} */
export function producerConfig() {
  return {
    idempotent: true,
    maxInFlightRequests: 1,
    allowAutoTopicCreation: false,
    // kafkajs' default partition for every key, at a fraction of its CPU (explicit: the caller may
    // hand the SDK a plain kafkajs client)
    createPartitioner: createKeyPartitioner,
    // kafkajs retries a request a few times itself; past that the SDK retries the batch with backoff.
    retry: { retries: 3, initialRetryTime: 100, maxRetryTime: 1000 },
  };
}
