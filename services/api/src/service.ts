/**
 * The API as a running service: the app, the SDK client that records every read of audit data, the
 * store's integrity checks and the report schedule. `main.ts` and `custos start` both start it
 * this way, so the API behaves the same alone or composed.
 */
import { randomBytes } from 'node:crypto';
import { serveOps } from '@custos/config';
import { createKafka } from '@custos/kafka';
import { topics } from '@custos/schemas';
import { createAuditClient } from '@custos/sdk';
import { reportSigningKey, type Store, trustedCheckpointKeys } from '@custos/store';
import type { Logger } from 'pino';
import { Registry } from 'prom-client';
import { authFromEnv, createApp, limitsFromEnv } from './app.js';
import type { ApiServiceEnv } from './config.js';
import { HeavyPool, heavyIntegrity } from './heavy.js';
import { storeIntegrity } from './integrity.js';
import { createMetrics } from './metrics.js';
import { followPolicy } from './policy-follow.js';
import { startReportSchedule } from './schedule.js';

export interface ApiServiceOptions {
  /** parsed once by the caller (`loadApiServiceEnv`) */
  env: ApiServiceEnv;
  logger: Logger;
  store: Store;
  /** other services' metrics in this process, served at /metrics too */
  registries?: Registry[];
  /**
   * Demo only: with no credentials configured, create a random API key for an auditor and log it,
   * so a newcomer can query at once. Never a fixed key.
   */
  demoKey?: boolean;
  ready?: () => boolean;
}

export interface ApiService {
  url: string;
  /** the generated demo key, when one was made */
  demoKey?: string;
  stop(): Promise<void>;
}

export async function startApiService(opts: ApiServiceOptions): Promise<ApiService> {
  const { env, logger, store } = opts;
  const apiEnv = env;
  // The directory follows the bundle (topic and file) as the enforcer's policy does.
  const kafka = createKafka({ brokers: env.KAFKA_BROKERS, clientId: `${env.KAFKA_CLIENT_ID}-api-policy`, logger });
  const followed = await followPolicy({
    file: env.POLICY_FILE,
    logger,
    kafka,
    topic: topics({ prefix: env.TOPIC_PREFIX, partitions: env.TOPIC_PARTITIONS }).policyBundles,
  });
  const directory = followed.current();
  // The API signs reports with a key of its own (docs/decisions/api-report-key.md); the demo makes one.
  const reportKey = reportSigningKey(opts.demoKey ? { ...env, CHECKPOINT_KEY_AUTOGEN: true } : env, logger);
  if (!reportKey) logger.warn('no REPORT_PRIVATE_KEY: the reports the API serves are not signed');
  const trusted = trustedCheckpointKeys(env);
  const integrity = storeIntegrity(store, { trusted, retentionDays: env.AUDIT_RETENTION_DAYS, reportKey });
  // periodic reports and verification run off the request thread, with the API's query limits
  const limits = limitsFromEnv(apiEnv);
  const heavy = new HeavyPool(
    store,
    {
      database: store.database,
      mode: store.mode,
      limits,
      integrity: trusted.length ? heavyIntegrity(trusted, env.AUDIT_RETENTION_DAYS) : 'unavailable',
    },
    limits.heavyConcurrency ?? 2,
  );
  const auth = authFromEnv(apiEnv);
  let demoKey: string | undefined;
  if (opts.demoKey && auth.apiKeys.length === 0 && !auth.jwt?.secret && !auth.jwt?.jwksUrl) {
    demoKey = `demo-${randomBytes(18).toString('base64url')}`;
    auth.apiKeys.push({ id: 'demo-admin', key: demoKey, staffId: 's-ira', role: 'admin', tenants: ['*'] });
  }
  // The API's own reads go through the SDK like any other service's accesses.
  const audit = createAuditClient({
    brokers: env.KAFKA_BROKERS,
    schemaRegistryUrl: env.SCHEMA_REGISTRY_URL,
    service: 'custos-api',
    topicPrefix: env.TOPIC_PREFIX,
    logger,
  });
  const metrics = createMetrics();
  if (opts.registries?.length) metrics.registry = Registry.merge([metrics.registry, ...opts.registries]);
  const app = createApp({
    store,
    logger,
    directory: followed,
    recorder: audit,
    subjectState: audit,
    integrity,
    heavy,
    auth,
    env: apiEnv,
    metrics,
    ...(opts.ready ? { ready: opts.ready } : {}),
  });
  const metricsServer =
    apiEnv.API_METRICS_PORT !== undefined
      ? await serveOps({ registry: metrics.registry, port: apiEnv.API_METRICS_PORT, host: '127.0.0.1' })
      : undefined;
  if (metricsServer) logger.info({ address: metricsServer.address() }, 'metrics at /metrics (local only, no credential)');
  const server = app.listen(env.API_PORT, env.API_HOST);
  await new Promise<void>((resolve, reject) => server.once('listening', resolve).once('error', reject));
  const url = `http://${env.API_HOST}:${env.API_PORT}`;
  logger.info({ url }, 'api listening');
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
  return {
    url,
    ...(demoKey ? { demoKey } : {}),
    stop: async () => {
      schedule?.stop();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await audit.close();
      await followed.stop();
      await heavy.close();
      await new Promise<void>((resolve) => (metricsServer ? metricsServer.close(() => resolve()) : resolve()));
    },
  };
}
