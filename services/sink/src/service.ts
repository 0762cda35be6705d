/**
 * The sink as a running service: checks it can sign checkpoints, applies retention, starts the Sink
 * and serves /metrics, /healthz and /readyz (when SINK_METRICS_PORT is set). `main.ts` and
 * `custos start` both start it this way, so the sink behaves the same alone or composed.
 */
import type { Server } from 'node:http';
import { ConfigError, type Logger, serveOps } from '@custos/config';
import type { KafkaDeps } from '@custos/kafka';
import { applyRetention, retentionConfig, type Store } from '@custos/store';
import { collectDefaultMetrics, type Registry } from 'prom-client';
import { register } from './metrics.js';
import { type SinkEnvConfig, sinkOptionsFromEnv } from './options.js';
import { Sink } from './sink.js';

export interface SinkServiceDeps extends KafkaDeps {
  env: SinkEnvConfig;
  logger: Logger;
  store: Store;
  /** the sink cannot go on: the process should stop */
  onFatal: (err: unknown) => void;
  /** also collect the process's default metrics (CPU, memory, event loop) in the sink's registry */
  processMetrics?: boolean;
}

export interface SinkService {
  sink: Sink;
  registry: Registry;
  /** started, and ClickHouse takes writes (not while the sink waits for it to come back) */
  ready(): boolean;
  /** Graceful: the batch in hand is stored, each chain checkpointed and witnessed. */
  stop(): Promise<void>;
}

export async function startSinkService(deps: SinkServiceDeps): Promise<SinkService> {
  const { env: e, logger, store } = deps;
  const options = sinkOptionsFromEnv(e, logger);
  if (!options.checkpointKey) {
    throw new ConfigError([
      {
        variable: 'CHECKPOINT_PRIVATE_KEY',
        message: 'required: the Ed25519 key (PEM or file) that signs checkpoints; for a demo set CHECKPOINT_KEY_AUTOGEN=true',
      },
    ]);
  }
  if (await applyRetention(store, retentionConfig(e))) logger.info({ days: e.AUDIT_RETENTION_DAYS }, 'retention applied');
  if (deps.processMetrics) collectDefaultMetrics({ register });
  let started = false;
  const sink = new Sink({
    kafka: deps.kafka,
    codec: deps.codec,
    topics: deps.topics,
    logger,
    store,
    ...options,
    onFatal: (err) => {
      logger.fatal({ err }, 'sink stopped by a fatal error');
      deps.onFatal(err);
    },
  });
  let ops: Server | undefined;
  if (e.SINK_METRICS_PORT !== undefined) {
    ops = await serveOps({
      registry: register,
      port: e.SINK_METRICS_PORT,
      host: e.SINK_METRICS_HOST,
      ready: () => started && !sink.storeUnavailable,
    });
    logger.info({ address: ops.address() }, 'sink: metrics at /metrics, health at /healthz and /readyz');
  }
  await sink.start();
  started = true;
  logger.info('sink started');
  return {
    sink,
    registry: register,
    ready: () => started && !sink.storeUnavailable,
    stop: async () => {
      started = false;
      await sink.stop();
      ops?.close();
    },
  };
}
