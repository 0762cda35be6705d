/**
 * Environment parsing, done once per process with zod: every variable validated, numbers checked
 * (no silent NaN), secrets never defaulted. Call `parseEnv(schema)` at the top of a main.
 */
import { z } from 'zod';

export class ConfigError extends Error {
  readonly retriable = false;
  constructor(readonly issues: { variable: string; message: string }[]) {
    super(`invalid configuration:\n${issues.map((i) => `  ${i.variable}: ${i.message}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Parses `env` (default process.env) with a zod object whose keys are variable names. */
export function parseEnv<S extends z.ZodObject>(schema: S, env: NodeJS.ProcessEnv = process.env): z.infer<S> {
  // Treat empty strings as unset so `FOO= cmd` falls back to the default rather than failing oddly.
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const r = schema.safeParse(cleaned);
  if (!r.success) {
    throw new ConfigError(r.error.issues.map((i) => ({ variable: i.path.map(String).join('.'), message: i.message })));
  }
  return r.data;
}

/** Helpers for env values, which are always strings. */
export const env = {
  int: (opts: { min?: number; max?: number } = {}) =>
    z
      .string()
      .regex(/^-?\d+$/, 'must be an integer')
      .transform(Number)
      .pipe(
        z
          .number()
          .int()
          .min(opts.min ?? Number.MIN_SAFE_INTEGER)
          .max(opts.max ?? Number.MAX_SAFE_INTEGER),
      ),
  bool: () =>
    z
      .enum(['true', 'false', '1', '0', 'yes', 'no'], { message: 'must be true or false' })
      .transform((v) => v === 'true' || v === '1' || v === 'yes'),
  list: () =>
    z
      .string()
      .transform((v) =>
        v
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean),
      )
      .pipe(z.array(z.string()).min(1, 'must name at least one value')),
  url: () => z.url(),
  duration: () =>
    z
      .string()
      .regex(/^\d+(ms|s|m|h|d)$/, 'must be a duration like 500ms, 30s, 5m, 1h or 7d')
      .transform((v) => {
        const m = /^(\d+)(ms|s|m|h|d)$/.exec(v) as RegExpExecArray;
        const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 'ms'];
        return Number(m[1]) * unit;
      }),
  logLevel: () => z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']),
};

/** Variables shared by every service; each service extends this with its own. */
export const commonEnv = z.object({
  LOG_LEVEL: env.logLevel().default('info'),
  /** auto: readable lines on a terminal, JSON otherwise */
  LOG_FORMAT: z.enum(['auto', 'json', 'pretty']).default('auto'),
  /** set (to anything): readable logs without colours */
  NO_COLOR: z.string().optional(),
  TOPIC_PREFIX: z.string().default(''),
  KAFKA_BROKERS: env.list().default(['127.0.0.1:9092']),
  KAFKA_CLIENT_ID: z.string().default('custos'),
  SCHEMA_REGISTRY_URL: env.url().default('http://127.0.0.1:8081/apis/ccompat/v7'),
  CLICKHOUSE_URL: env.url().optional(),
  CLICKHOUSE_USER: z.string().default('default'),
  CLICKHOUSE_PASSWORD: z.string().optional(),
  CLICKHOUSE_DATABASE: z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be a plain identifier')
    .default('custos'),
  CHDB_PATH: z.string().default('.data/chdb'),
  TOPIC_PARTITIONS: env.int({ min: 1, max: 1000 }).default(6),
  SHUTDOWN_TIMEOUT_MS: env.int({ min: 100 }).default(10_000),
});
export type CommonEnv = z.infer<typeof commonEnv>;

export {
  createLogger,
  type LogFormat,
  type Logger,
  logColors,
  logFormats,
  resolveLogFormat,
  setStatusLine,
} from './logger.js';
export { type MetricsSource, serveOps } from './ops-server.js';
export { type ShutdownBudget, shutdownOnSignals, stopOnFatal } from './shutdown.js';
