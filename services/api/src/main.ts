/**
 * Runs the query API alone: parse env → build dependencies → start. Reads of audit data are recorded
 * through the SDK; with API_REPORT_SCHEDULE set, periodic reports are written on schedule.
 */
import { parseEnv, shutdownOnSignals } from '@custos/config';
import { buildDeps, loadEnv, openStore } from '@custos/runtime';
import { createAuditClient } from '@custos/sdk';
import { storeEnv, trustedCheckpointKeys } from '@custos/store';
import { createApp, loadDirectory } from './app.js';
import { loadApiEnv } from './config.js';
import { storeIntegrity } from './integrity.js';
import { startReportSchedule } from './schedule.js';

const env = loadEnv();
const apiEnv = loadApiEnv();
const { logger } = buildDeps(env, 'api');
const directory = loadDirectory(env.POLICY_FILE);
const store = await openStore(env, logger);
const sEnv = parseEnv(storeEnv);
const integrity = storeIntegrity(store, { trusted: trustedCheckpointKeys(sEnv), retentionDays: sEnv.AUDIT_RETENTION_DAYS });
const audit = createAuditClient({
  brokers: env.KAFKA_BROKERS,
  schemaRegistryUrl: env.SCHEMA_REGISTRY_URL,
  service: 'custos-api',
  topicPrefix: env.TOPIC_PREFIX,
  logger,
});
const server = createApp({ store, logger, directory, recorder: audit, integrity }).listen(env.API_PORT, env.API_HOST, () => {
  logger.info({ port: env.API_PORT, host: env.API_HOST }, 'api listening');
});
const schedule = apiEnv.API_REPORT_SCHEDULE
  ? startReportSchedule({
      cron: apiEnv.API_REPORT_SCHEDULE,
      period: apiEnv.API_REPORT_PERIOD,
      formats: apiEnv.API_REPORT_FORMATS,
      outDir: apiEnv.API_REPORT_DIR,
      tenants: apiEnv.API_REPORT_TENANTS,
      actor: apiEnv.API_REPORT_ACTOR,
      purpose: apiEnv.API_REPORT_PURPOSE,
      store,
      directory,
      integrity,
      recorder: audit,
      logger,
    })
  : undefined;
if (schedule) logger.info({ next: schedule.nextRun() }, 'report schedule started');
shutdownOnSignals(
  async () => {
    schedule?.stop();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await audit.close();
    await store.close();
  },
  { timeoutMs: env.SHUTDOWN_TIMEOUT_MS, logger },
);
