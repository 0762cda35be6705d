/**
 * `custos start`: the whole pipeline in one process — enforcer, sink and API (in embedded mode chDB
 * binds one data directory per process, so the services that touch ClickHouse must share one).
 * Starts the local infra when none is configured; `--demo` also feeds simulated traffic.
 */
import { startApiService } from '@custos/api';
import { ConfigError, parseEnv, shutdownOnSignals } from '@custos/config';
import { createPolicyJudge, Enforcer, EnforcerMetrics, enforcerEnv, enforcerOptionsFromEnv } from '@custos/enforcer';
import { loadBundle } from '@custos/policy';
import { buildDeps, ensureLocalInfra, loadEnv, openStore } from '@custos/runtime';
import { createAuditClient } from '@custos/sdk';
import { Sink, sinkEnvSchema, sinkOptionsFromEnv, register as sinkRegister } from '@custos/sink';
import type { Store } from '@custos/store';
import type { Command } from 'commander';
import type { Registry } from 'prom-client';
import { demoGenerator } from '../demo.js';

const SERVICES = ['enforcer', 'sink', 'api'] as const;
type Service = (typeof SERVICES)[number];

interface StartOptions {
  demo?: boolean;
  demoRate: string;
  services: string;
}

export function registerStart(program: Command): void {
  program
    .command('start')
    .description(
      'start the pipeline (enforcer, sink, API) in one process; starts local Kafka and registry when none is configured',
    )
    .option('--demo', 'also feed simulated access events drawn from the policy bundle')
    .option('--demo-rate <n>', 'demo events per second', '300')
    .option('--services <list>', `comma-separated subset of ${SERVICES.join(',')}`, SERVICES.join(','))
    .action((opts: StartOptions) => start(opts));
}

async function start(opts: StartOptions): Promise<void> {
  const chosen = opts.services.split(',').map((s) => s.trim());
  const unknown = chosen.filter((s) => !(SERVICES as readonly string[]).includes(s));
  if (unknown.length > 0) throw new Error(`unknown service(s) ${unknown.join(', ')}; choose from ${SERVICES.join(', ')}`);
  const want = (s: Service) => chosen.includes(s);
  const rate = Number(opts.demoRate);
  if (!Number.isFinite(rate) || rate <= 0 || rate > 100_000)
    throw new Error('--demo-rate must be a number of events per second in (0, 100000]');

  const env = loadEnv();
  const deps = buildDeps(env, 'custos');
  const { logger } = deps;
  ensureLocalInfra(process.env, logger);

  const stops: (() => Promise<void>)[] = [];
  shutdownOnSignals(
    async () => {
      // Reverse order: stop feeding first, then consumers, then the store they write to.
      for (const stop of stops.reverse()) await stop().catch((err: unknown) => logger.error({ err }, 'stop failed'));
    },
    { timeoutMs: env.SHUTDOWN_TIMEOUT_MS, logger },
  );

  let ready = false;
  /** not ready while the sink waits for ClickHouse to take writes again */
  let storeUnavailable = () => false;
  const registries: Registry[] = [];
  let store: Store | undefined;
  if (want('sink') || want('api')) {
    store = await openStore(env, logger);
    const s = store;
    stops.push(() => s.close());
  }
  if (want('sink') && store) {
    // The demo signs checkpoints with a key it creates in the data directory; otherwise a key must
    // be configured (no insecure default), exactly as for the standalone sink.
    const sinkEnv = parseEnv(sinkEnvSchema, opts.demo ? { CHECKPOINT_KEY_AUTOGEN: 'true', ...process.env } : process.env);
    const sinkOptions = sinkOptionsFromEnv(sinkEnv, logger);
    if (!sinkOptions.checkpointKey) {
      throw new ConfigError([
        {
          variable: 'CHECKPOINT_PRIVATE_KEY',
          message:
            'required: the Ed25519 key (PEM or file) that signs checkpoints; for a demo use --demo or CHECKPOINT_KEY_AUTOGEN=true',
        },
      ]);
    }
    const sink = new Sink({
      ...deps,
      store,
      groupId: env.SINK_GROUP_ID,
      maxBatchRows: env.SINK_MAX_BATCH_ROWS,
      ...sinkOptions,
      onFatal: (err) => {
        logger.fatal({ err }, 'sink stopped by a fatal error; stopping');
        process.exitCode = 1;
        process.kill(process.pid, 'SIGTERM');
      },
    });
    registries.push(sinkRegister);
    await sink.start();
    storeUnavailable = () => sink.storeUnavailable;
    stops.push(() => sink.stop());
    logger.info('sink started');
  }
  if (want('enforcer')) {
    const judge = await createPolicyJudge(env.POLICY_FILE);
    const metrics = new EnforcerMetrics();
    const enforcer = new Enforcer({
      ...deps,
      judge,
      metrics,
      ...enforcerOptionsFromEnv(parseEnv(enforcerEnv)),
      onFatal: (err) => {
        logger.fatal({ err }, 'enforcer stopped by a fatal error; stopping');
        process.exitCode = 1;
        process.kill(process.pid, 'SIGTERM');
      },
    });
    await enforcer.start();
    registries.push(metrics.registry);
    stops.push(() => enforcer.stop(Math.max(100, env.SHUTDOWN_TIMEOUT_MS - 1000)));
    logger.info({ policy: judge.policyVersion }, 'enforcer started');
  }
  if (want('api') && store) {
    const api = await startApiService({
      env,
      logger,
      store,
      registries,
      demoKey: opts.demo === true,
      ready: () => ready && !storeUnavailable(),
    });
    stops.push(() => api.stop());
    if (api.demoKey) {
      logger.info(
        { url: `${api.url}/v1/accesses?limit=20`, console: `${api.url}/console`, apiKey: api.demoKey },
        'demo API key (admin, all tenants; valid for this run only): send it as "Authorization: Bearer <key>" with "X-Purpose: security"',
      );
    }
  }
  ready = true;
  if (opts.demo) {
    const client = createAuditClient({
      brokers: env.KAFKA_BROKERS,
      schemaRegistryUrl: env.SCHEMA_REGISTRY_URL,
      service: 'custos-demo',
      topicPrefix: env.TOPIC_PREFIX,
      logger,
    });
    const next = demoGenerator((await loadBundle(env.POLICY_FILE)).bundle);
    // Ticks of 50 ms keep the rate smooth without a timer per event.
    const perTick = rate / 20;
    let owed = 0;
    const timer = setInterval(() => {
      owed += perTick;
      for (; owed >= 1; owed -= 1) client.record(next(new Date()));
    }, 50);
    stops.push(async () => {
      clearInterval(timer);
      await client.close();
    });
    logger.info({ eventsPerSecond: rate }, 'demo traffic started');
  }
}
