/** Runs the sink alone: parse env → build dependencies → start. */
import type { Server } from 'node:http';
import { ConfigError, parseEnv, serveOps, shutdownOnSignals } from '@custos/config';
import { buildDeps, loadEnv, openStore } from '@custos/runtime';
import { applyRetention, retentionConfig } from '@custos/store';
import { Sink, sinkEnvSchema, sinkOptionsFromEnv, register as sinkRegister } from './index.js';

const env = loadEnv();
const cfg = parseEnv(sinkEnvSchema);
const deps = buildDeps(env, 'sink');
const options = sinkOptionsFromEnv(cfg, deps.logger);
if (!options.checkpointKey) {
  throw new ConfigError([
    {
      variable: 'CHECKPOINT_PRIVATE_KEY',
      message: 'required: the Ed25519 key (PEM or file) that signs checkpoints; for a demo set CHECKPOINT_KEY_AUTOGEN=true',
    },
  ]);
}
const store = await openStore(env, deps.logger);
if (await applyRetention(store, retentionConfig(cfg))) deps.logger.info({ days: cfg.AUDIT_RETENTION_DAYS }, 'retention applied');
const sink = new Sink({
  ...deps,
  store,
  groupId: env.SINK_GROUP_ID,
  maxBatchRows: env.SINK_MAX_BATCH_ROWS,
  ...options,
  onFatal: (err) => {
    deps.logger.fatal({ err }, 'sink stopped by a fatal error');
    setTimeout(() => process.exit(1), env.SHUTDOWN_TIMEOUT_MS).unref();
    void sink
      .stop()
      .then(() => store.close())
      .finally(() => process.exit(1));
  },
});
let ops: Server | undefined;
let started = false;
shutdownOnSignals(
  async () => {
    await sink.stop();
    await store.close();
    ops?.close();
  },
  { timeoutMs: env.SHUTDOWN_TIMEOUT_MS, logger: deps.logger },
);
if (cfg.SINK_METRICS_PORT !== undefined) {
  ops = await serveOps({
    registry: sinkRegister,
    port: cfg.SINK_METRICS_PORT,
    host: cfg.SINK_METRICS_HOST,
    ready: () => started,
  });
  deps.logger.info({ address: ops.address() }, 'metrics at /metrics, health at /healthz and /readyz');
}
await sink.start();
started = true;
deps.logger.info('sink started');
