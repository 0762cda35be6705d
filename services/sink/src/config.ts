/** The sink's own settings from the environment (`sinkEnvSchema` adds the common and the store's). */
import { env } from '@custos/config';
import { DEFAULT_SINK_BATCH_ROWS } from '@custos/store';
import { z } from 'zod';
import { DEFAULT_JOINT_INSERT_WINDOW_MS } from './joint-insert.js';
import { DEFAULT_PARTITIONS_CONCURRENTLY, DEFAULT_SESSION_TIMEOUT_MS } from './sink.js';

export const sinkEnv = z.object({
  SINK_GROUP_ID: z.string().default('custos-sink'),
  /** most rows stored per insert */
  SINK_MAX_BATCH_ROWS: env.int({ min: 1 }).default(DEFAULT_SINK_BATCH_ROWS),
  /** serve /metrics, /healthz and /readyz on this port (the standalone sink) */
  SINK_METRICS_PORT: env.int({ min: 0, max: 65535 }).optional(),
  SINK_METRICS_HOST: z.string().default('127.0.0.1'),
  /** the broker answers a fetch once this many bytes are ready… */
  SINK_MIN_BATCH_BYTES: env.int({ min: 1 }).default(1_048_576),
  /** …or this much time passed: the sink's batch by size and time */
  SINK_MAX_BATCH_WAIT_MS: env.int({ min: 1, max: 60_000 }).default(500),
  /** most bytes fetched per partition per batch (48 MiB: room for a full batch of ~390-byte decisions) */
  SINK_MAX_BYTES_PER_PARTITION: env.int({ min: 1024 }).default(48 * 1_048_576),
  /** partitions (chains) stored concurrently */
  SINK_PARTITIONS_CONCURRENTLY: env.int({ min: 1, max: 64 }).default(DEFAULT_PARTITIONS_CONCURRENTLY),
  /** the group drops the sink after this long without a heartbeat (sent every tenth of it while storing) */
  SINK_SESSION_TIMEOUT_MS: env.int({ min: 6000, max: 1_800_000 }).default(DEFAULT_SESSION_TIMEOUT_MS),
  /** the longest a prepared batch waits to be stored with other partitions' by one insert; 0: alone */
  SINK_JOINT_INSERT_WINDOW_MS: env.int({ min: 0, max: 10_000 }).default(DEFAULT_JOINT_INSERT_WINDOW_MS),
  /** an eventId among a chain's last this-many entries is a duplicate (dead-lettered, not stored) */
  SINK_DEDUP_WINDOW: env.int({ min: 0 }).default(100_000),
  /** first and longest wait between insert retries while ClickHouse is unavailable */
  SINK_RETRY_MIN_MS: env.int({ min: 1 }).default(200),
  SINK_RETRY_MAX_MS: env.int({ min: 1 }).default(10_000),
});
export type SinkEnv = z.infer<typeof sinkEnv>;
