/**
 * `custos start`: the whole pipeline in one process — enforcer, sink and API (in embedded mode chDB
 * binds one data directory per process, so the services that touch ClickHouse must share one). Each
 * service starts through the same `start…Service()` its own main calls. Starts the local infra when
 * none is configured; `--demo` also feeds simulated traffic.
 */
import { apiServiceEnv, refuseEmptyChecks, startApiService } from '@custos/api';
import {
  createLogger,
  logColors,
  parseEnv,
  resolveLogFormat,
  type ShutdownBudget,
  shutdownOnSignals,
  stopOnFatal,
} from '@custos/config';
import { type EnforcerService, enforcerEnv, startEnforcerService } from '@custos/enforcer';
import { kafkaDeps } from '@custos/kafka';
import { loadBundle } from '@custos/policy';
import { createAuditClient } from '@custos/sdk';
import { type SinkService, sinkEnvSchema, startSinkService } from '@custos/sink';
import { openStore, type Store } from '@custos/store';
import type { Command } from 'commander';
import type { Registry } from 'prom-client';
import { banner, startStatusLine } from '../console.js';
import { demoGenerator } from '../demo.js';
import { ensureLocalInfra } from '../infra.js';

const SERVICES = ['enforcer', 'sink', 'api'] as const;
type Service = (typeof SERVICES)[number];

/** Everything the composed process reads: the three services' settings, parsed once. */
export const startEnv = enforcerEnv.extend(sinkEnvSchema.shape).extend(apiServiceEnv.shape);

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

  // The demo signs checkpoints with a key it creates in the data directory; otherwise a key must be
  // configured (no insecure default), exactly as for the standalone sink.
  refuseEmptyChecks(process.env);
  const env = parseEnv(startEnv, opts.demo ? { CHECKPOINT_KEY_AUTOGEN: 'true', ...process.env } : process.env);
  // One logger per service, so that each line says which service wrote it.
  const loggerOf = (name: string) => createLogger(name, env.LOG_LEVEL, env.LOG_FORMAT, logColors(env));
  const logger = loggerOf('custos');
  const person = resolveLogFormat(env.LOG_FORMAT) === 'pretty';
  ensureLocalInfra(process.env, logger);
  const deps = kafkaDeps(env, 'custos', logger);

  let store: Store | undefined;
  let sink: SinkService | undefined;
  let enforcer: EnforcerService | undefined;
  let api: Awaited<ReturnType<typeof startApiService>> | undefined;
  let demo: { stop(): Promise<void> } | undefined;
  let stopStatus = () => {};
  const timed = async (what: string, work: Promise<unknown> | undefined) => {
    if (work === undefined) return;
    const t0 = Date.now();
    await work.catch((err: unknown) => logger.error({ err }, `stopping the ${what} failed`));
    logger.info({ ms: Date.now() - t0 }, `${what} stopped`);
  };
  shutdownOnSignals(
    async (budget: ShutdownBudget) => {
      stopStatus();
      // Stop feeding and serving first; then the enforcer and the sink together (each commits or
      // stores the batch in hand; the sink checkpoints and witnesses what it stored), each within
      // what is left of the budget; the store they write to last.
      await Promise.all([timed('demo traffic', demo?.stop()), timed('api', api?.stop())]);
      await Promise.all([timed('enforcer', enforcer?.stop(budget.left())), timed('sink', sink?.stop())]);
      await timed('store', store?.close());
    },
    { timeoutMs: env.SHUTDOWN_TIMEOUT_MS, logger },
  );

  let ready = false;
  const registries: Registry[] = [];
  if (want('sink') || want('api')) store = await openStore(env, logger);
  if (want('sink') && store) {
    sink = await startSinkService({ env, logger: loggerOf('sink'), store, ...deps, onFatal: stopOnFatal });
    registries.push(sink.registry);
  }
  if (want('enforcer')) {
    enforcer = await startEnforcerService({ env, logger: loggerOf('enforcer'), ...deps, onFatal: stopOnFatal });
    registries.push(enforcer.metrics.registry);
  }
  if (want('api') && store) {
    api = await startApiService({
      env,
      logger: loggerOf('api'),
      store,
      registries,
      demoKey: opts.demo === true,
      ready: () => ready && sink?.ready() !== false,
    });
    if (api.demoKey && !person) {
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
    demo = {
      stop: async () => {
        clearInterval(timer);
        await client.close();
      },
    };
    logger.info({ eventsPerSecond: rate }, 'demo traffic started');
  }
  if (person) {
    process.stdout.write(
      banner({
        services: chosen,
        brokers: env.KAFKA_BROKERS,
        registry: env.SCHEMA_REGISTRY_URL,
        store: store ? { mode: store.mode, where: env.CLICKHOUSE_URL ?? env.CHDB_PATH } : undefined,
        api: api ? { url: api.url } : undefined,
        policyVersion: enforcer?.policyVersion(),
        demo: opts.demo ? { rate, key: api?.demoKey } : undefined,
      }),
    );
    const e = enforcer;
    const s = sink;
    stopStatus = startStatusLine(async () => ({
      ...(e
        ? {
            events: e.enforcer.stats.events,
            decisions: e.enforcer.stats.decisions.allow + e.enforcer.stats.decisions.flag + e.enforcer.stats.decisions.deny,
            lag: (await e.metrics.lag.get()).values.reduce((t, v) => t + v.value, 0),
          }
        : {}),
      ...(s ? { stored: s.sink.stats.rows } : {}),
    }));
  }
}
