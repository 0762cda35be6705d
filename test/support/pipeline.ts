/**
 * The pipeline as real processes for e2e tests: the enforcer (`services/enforcer/src/main.ts`) and
 * one process holding the sink and the API (`custos start --services sink,api`, embedded chDB), on
 * the tests' Kafka and registry with topics, groups and a database of their own. Their output is kept
 * (the tail) for failure messages; `cli` runs the CLI against the same environment.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { infraEnv, testStore, uniquePrefix } from './index.js';
import { freePort } from './ports.js';
import { assertInfraReachable } from './preflight.js';
import { waitFor } from './wait.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const tsx = join(root, 'node_modules', '.bin', 'tsx');

/** One entry of API_KEYS. */
export interface ApiKeyEntry {
  id: string;
  key: string;
  staffId: string;
  role: string;
  tenants: readonly string[];
}

export interface PipelineOptions {
  /** names the topics' prefix, the groups and the database */
  label: string;
  apiKeys: ApiKeyEntry[];
  /** serve the enforcer's /metrics and /readyz (at `metricsUrl`) and wait for it to be ready too */
  enforcerMetrics?: boolean;
  /** how long the services may take to become ready; default 90 s */
  readyTimeoutMs?: number;
  /** how much of the services' output is kept for failure messages; default 20,000 characters */
  keepLogChars?: number;
}

export type ExitState = number | string | null;

/** Resolves with the exit code (or signal) once the process has ended. */
export const exited = (p: ChildProcess) =>
  new Promise<ExitState>((r) =>
    p.exitCode !== null || p.signalCode !== null ? r(p.signalCode ?? p.exitCode) : p.once('exit', (c, s) => r(s ?? c)),
  );

export class ProcessPipeline {
  readonly brokers: string[];
  readonly registryUrl: string;
  readonly clickhouseUrl: string | undefined;
  readonly prefix: string;
  apiUrl = '';
  metricsUrl = '';
  /** the services' environment (set by `up`) */
  env: NodeJS.ProcessEnv = {};
  readonly procs = new Map<string, ChildProcess>();
  private output = '';

  constructor(private readonly options: PipelineOptions) {
    const { brokers, registryUrl, clickhouseUrl } = infraEnv();
    this.brokers = brokers;
    this.registryUrl = registryUrl;
    this.clickhouseUrl = clickhouseUrl;
    this.prefix = uniquePrefix(options.label);
  }

  /** The tail of the services' output, for failure messages. */
  readonly logs = () => `--- service logs ---\n${this.output}`;

  /** Starts the enforcer and the sink+API processes and waits until they answer /readyz. */
  async up(): Promise<void> {
    const { label, apiKeys, enforcerMetrics = false, readyTimeoutMs = 90_000 } = this.options;
    await assertInfraReachable(this.brokers, this.registryUrl);
    const port = await freePort();
    this.apiUrl = `http://127.0.0.1:${port}`;
    const metricsPort = enforcerMetrics ? await freePort() : undefined;
    if (metricsPort !== undefined) this.metricsUrl = `http://127.0.0.1:${metricsPort}`;
    const { database, chdbPath } = testStore(label);
    const prefix = this.prefix;
    this.env = {
      KAFKA_BROKERS: this.brokers.join(','),
      SCHEMA_REGISTRY_URL: this.registryUrl,
      TOPIC_PREFIX: prefix,
      TOPIC_PARTITIONS: '3',
      ENFORCER_GROUP_ID: `${prefix}enforcer`,
      ENFORCER_INSTANCE_ID: `${prefix.replace(/\W/g, '')}-0`,
      SINK_GROUP_ID: `${prefix}sink`,
      CLICKHOUSE_DATABASE: database,
      CHDB_PATH: chdbPath,
      CHECKPOINT_KEY_AUTOGEN: 'true',
      CHECKPOINT_KEY_FILE: join(chdbPath, 'checkpoint-ed25519.pem'),
      API_PORT: String(port),
      API_KEYS: JSON.stringify(apiKeys),
      LOG_LEVEL: 'info',
      ...(this.clickhouseUrl ? { CLICKHOUSE_URL: this.clickhouseUrl } : {}),
    };
    this.start(
      'enforcer',
      ['services/enforcer/src/main.ts'],
      metricsPort !== undefined ? { ENFORCER_METRICS_PORT: String(metricsPort) } : {},
    );
    this.start('sink+api', ['packages/cli/src/bin.ts', 'start', '--services', 'sink,api']);
    await waitFor(
      async () =>
        (await fetch(`${this.apiUrl}/readyz`)).ok && (metricsPort === undefined || (await fetch(`${this.metricsUrl}/readyz`)).ok),
      {
        what: enforcerMetrics ? 'the API and the enforcer to be ready' : 'the API to answer /readyz',
        timeoutMs: readyTimeoutMs,
        everyMs: 500,
        retryErrors: true,
        detail: this.logs,
      },
    );
  }

  /** Options for the SDK's createAuditClient: this pipeline's Kafka, registry and topics, a spool of its own. */
  clientOptions(service: string) {
    return {
      brokers: this.brokers,
      schemaRegistryUrl: this.registryUrl,
      service,
      topicPrefix: this.prefix,
      spool: { dir: mkdtempSync(join(tmpdir(), `custos-${this.options.label}-spool-`)) },
    };
  }

  /** Starts a process of the repository under tsx with the services' environment, keeping its output. */
  start(name: string, args: string[], extra: NodeJS.ProcessEnv = {}): ChildProcess {
    const keepChars = this.options.keepLogChars ?? 20_000;
    const p = spawn(tsx, args, { cwd: root, env: { ...process.env, ...this.env, ...extra }, stdio: ['ignore', 'pipe', 'pipe'] });
    const keep = (chunk: Buffer) => {
      this.output = `${this.output}${chunk.toString().replace(/^/gm, `[${name}] `)}`.slice(-keepChars);
    };
    p.stdout?.on('data', keep);
    p.stderr?.on('data', keep);
    this.procs.set(name, p);
    return p;
  }

  /** Stops one process (SIGTERM) and waits for it to end. */
  async stop(name: string): Promise<ExitState> {
    const p = this.procs.get(name);
    if (!p) return null;
    p.kill('SIGTERM');
    const state = await exited(p);
    this.procs.delete(name);
    return state;
  }

  /** Runs the CLI to its end with the services' environment: exit code and output. */
  async cli(args: string[]): Promise<{ code: ExitState; out: string; err: string }> {
    const p = spawn(tsx, ['packages/cli/src/bin.ts', ...args], {
      cwd: root,
      env: { ...process.env, ...this.env, LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    p.stdout?.on('data', (b) => {
      out += String(b);
    });
    p.stderr?.on('data', (b) => {
      err += String(b);
    });
    const code = await exited(p);
    return { code, out, err };
  }

  /** Stops every process still running and waits for them. */
  async down(): Promise<void> {
    await Promise.all([...this.procs.keys()].map((name) => this.stop(name)));
  }
}
