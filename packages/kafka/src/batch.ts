/**
 * What a consumer needs of a fetched kafkajs batch beyond its public types. Everything that reaches
 * past kafkajs' typings (or depends on the Custos patch) is here, so consumers never cast kafkajs
 * objects themselves.
 */
import type { EachBatchPayload } from 'kafkajs';

export type Batch = EachBatchPayload['batch'];

/**
 * The offset the fetch that gave this batch started at. kafkajs keeps it on the Batch without
 * typing it; it differs from the first message's offset when the broker skipped records (commit
 * markers, aborted transactions), which a consumer that tracks where it is needs to know.
 */
export function fetchedOffset(batch: Batch): bigint {
  const raw = (batch as unknown as { fetchedOffset?: string }).fetchedOffset;
  if (raw === undefined) throw new Error('kafkajs batch has no fetchedOffset: an unsupported kafkajs version');
  return BigInt(raw);
}

/**
 * A partition's offset for `Transaction#sendOffsets` with commit metadata: kafkajs sends the metadata
 * in TxnOffsetCommit, its types just do not list it.
 */
export function offsetWithMetadata(
  partition: number,
  offset: string,
  metadata: string | null,
): { partition: number; offset: string } {
  return { partition, offset, metadata } as { partition: number; offset: string };
}
