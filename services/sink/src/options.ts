import { checkpointSigningKey, storeProcessEnv, trustedCheckpointKeys } from '@custos/store';
import type { Logger } from 'pino';
import type { z } from 'zod';
import { sinkEnv } from './config.js';
import type { SinkOptions } from './sink.js';

/** Everything the sink reads from the environment: the common settings, the store's and its own. */
export const sinkEnvSchema = storeProcessEnv.extend(sinkEnv.shape);
export type SinkEnvConfig = z.infer<typeof sinkEnvSchema>;

/**
 * Sink options from the environment, including the checkpoint key (created in the data directory
 * when CHECKPOINT_KEY_AUTOGEN is set — the demo). `checkpointKey` is undefined when none is
 * configured: the standalone sink refuses to start then; `custos start` may decide otherwise.
 */
export function sinkOptionsFromEnv(
  e: SinkEnvConfig,
  logger?: Logger,
): Pick<
  SinkOptions,
  | 'groupId'
  | 'maxBatchRows'
  | 'minBatchBytes'
  | 'maxBatchWaitMs'
  | 'maxBytesPerPartition'
  | 'partitionsConcurrently'
  | 'sessionTimeoutMs'
  | 'jointInsertWindowMs'
  | 'dedupWindow'
  | 'retryMinMs'
  | 'retryMaxMs'
  | 'checkpointKey'
  | 'checkpointIntervalMs'
  | 'checkpointMaxRows'
  | 'witnessDir'
  | 'trustedKeys'
> {
  return {
    groupId: e.SINK_GROUP_ID,
    maxBatchRows: e.SINK_MAX_BATCH_ROWS,
    minBatchBytes: e.SINK_MIN_BATCH_BYTES,
    maxBatchWaitMs: e.SINK_MAX_BATCH_WAIT_MS,
    maxBytesPerPartition: e.SINK_MAX_BYTES_PER_PARTITION,
    partitionsConcurrently: e.SINK_PARTITIONS_CONCURRENTLY,
    sessionTimeoutMs: e.SINK_SESSION_TIMEOUT_MS,
    jointInsertWindowMs: e.SINK_JOINT_INSERT_WINDOW_MS,
    dedupWindow: e.SINK_DEDUP_WINDOW,
    retryMinMs: e.SINK_RETRY_MIN_MS,
    retryMaxMs: e.SINK_RETRY_MAX_MS,
    checkpointKey: checkpointSigningKey(e, logger),
    checkpointIntervalMs: e.CHECKPOINT_INTERVAL_MS,
    checkpointMaxRows: e.CHECKPOINT_MAX_ROWS,
    witnessDir: e.WITNESS_DIR,
    trustedKeys: e.CHECKPOINT_PUBLIC_KEY ? trustedCheckpointKeys(e) : [],
  };
}
