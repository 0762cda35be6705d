import type { ProducerConfig } from 'kafkajs';

/**
 * The SDK's producer settings, the same on the caller's thread and on the sender thread. The
 * partitioner comes in as an argument: this module is also loaded by the sender thread without a
 * TypeScript loader, where imports need their `.ts` names.
 */
export function producerConfig(createPartitioner: NonNullable<ProducerConfig['createPartitioner']>): ProducerConfig {
  return {
    idempotent: true,
    maxInFlightRequests: 1,
    allowAutoTopicCreation: false,
    // kafkajs' default partition for every key, at a fraction of its CPU (partitioner.ts)
    createPartitioner,
    // kafkajs retries a request a few times itself; past that the SDK retries the batch with backoff.
    retry: { retries: 3, initialRetryTime: 100, maxRetryTime: 1000 },
  };
}
