/**
 * The API's own settings, parsed with zod from the environment (`apiServiceEnv` adds the common and
 * the store's): credentials, query bounds, rate limits and the report schedule.
 *
 * Credentials: API keys come from `API_KEYS` (JSON) or `API_KEYS_FILE`; each key belongs to a staff
 * member of the policy bundle's directory, with one role and a tenant scope. Keys are given by their
 * SHA-256 (`sha256`) — the plain key (`key`) is accepted for development only. JWTs are verified with
 * `API_JWT_SECRET` (HS256) or a JWKS URL (`API_JWT_JWKS_URL`); `sub` is the staff id, `role` the role,
 * `tenants` the scope.
 */
import { readFileSync } from 'node:fs';
import { ConfigError, env, parseEnv } from '@custos/config';
import { DEFAULT_POLICY_FILE } from '@custos/policy';
import { storeProcessEnv } from '@custos/store';
import { z } from 'zod';
import { ROLES } from './roles.js';

export const tenantScope = z.array(z.string().min(1)).min(1, 'at least one tenant (or "*")');

export const apiKeyConfig = z
  .strictObject({
    /** a name for logs and metrics; never the key itself */
    id: z.string().regex(/^[\w.-]{1,64}$/, 'letters, digits, dot, dash or underscore (≤ 64)'),
    sha256: z
      .string()
      .regex(/^[0-9a-f]{64}$/, 'hex SHA-256 of the key')
      .optional(),
    key: z.string().min(24, 'at least 24 characters').optional(),
    staffId: z.string().min(1),
    role: z.enum(ROLES),
    tenants: tenantScope,
  })
  .refine((k) => (k.sha256 === undefined) !== (k.key === undefined), 'give exactly one of sha256 or key');
export type ApiKeyConfig = z.infer<typeof apiKeyConfig>;

const cron = z.string().regex(/^(\S+\s+){4,5}\S+$/, 'a cron expression of 5 or 6 fields, e.g. "0 2 1 * *"');

const jsonKeys = z.string().transform((s, ctx) => {
  try {
    return JSON.parse(s) as unknown;
  } catch {
    ctx.addIssue({ code: 'custom', message: 'must be a JSON array of keys' });
    return z.NEVER;
  }
});

/** Variables the API reads besides the common and the store's. */
export const apiEnv = z.object({
  API_KEYS: jsonKeys.pipe(z.array(apiKeyConfig)).optional(),
  API_KEYS_FILE: z.string().optional(),
  API_JWT_SECRET: z.string().min(32, 'at least 32 characters').optional(),
  API_JWT_JWKS_URL: env.url().optional(),
  API_JWT_ISSUER: z.string().trim().min(1, 'must not be blank').optional(),
  API_JWT_AUDIENCE: z.string().trim().min(1, 'must not be blank').default('custos-api'),
  /** the oldest `iat` a JWT may carry, in seconds */
  API_JWT_MAX_AGE_S: env.int({ min: 1, max: 7 * 86_400 }).default(3600),
  API_QUERY_TIMEOUT_S: env.int({ min: 1, max: 300 }).default(10),
  API_MAX_RESULT_ROWS: env.int({ min: 1000, max: 10_000_000 }).default(200_000),
  /** per query: ClickHouse max_memory_usage in MiB, max_bytes_to_read in MiB */
  API_QUERY_MAX_MEMORY_MB: env.int({ min: 64 }).default(4096),
  API_QUERY_MAX_READ_MB: env.int({ min: 64 }).default(65_536),
  API_MAX_RANGE_DAYS: env.int({ min: 1, max: 3660 }).default(400),
  API_RATE_LIMIT_PER_MIN: env.int({ min: 1 }).default(600),
  /**
   * which proxies' X-Forwarded-For to believe for the client address (rate limits, audit records):
   * a hop count, or a comma list of addresses, subnets or `loopback`/`linklocal`/`uniquelocal`; unset:
   * none. `true` (every proxy) is refused: anyone could then choose their address.
   */
  API_TRUST_PROXY: z
    .string()
    .refine((v) => v.trim() !== 'true', 'name the proxies (a hop count or addresses), not true')
    .optional(),
  /** serves /metrics without a credential on 127.0.0.1:<port> only (for a local scraper) */
  API_METRICS_PORT: env.int({ min: 1, max: 65535 }).optional(),
  API_REPORT_SCHEDULE: cron.optional(),
  API_REPORT_PERIOD: z.enum(['month', 'quarter']).default('month'),
  API_REPORT_FORMATS: env
    .list()
    .pipe(z.array(z.enum(['json', 'csv', 'pdf'])))
    .default(['json', 'csv', 'pdf']),
  API_REPORT_DIR: z.string().default('.data/reports'),
  API_REPORT_ACTOR: z.string().default('s-ira'),
  API_REPORT_PURPOSE: z.string().default('legal.compliance'),
  API_REPORT_TENANTS: env.list().default(['*']),
});
export type ApiEnv = z.infer<typeof apiEnv>;

/** Settings of a check: set to nothing, they would silently switch it off, so that is an error. */
const NEVER_EMPTY = ['API_JWT_SECRET', 'API_JWT_JWKS_URL', 'API_JWT_ISSUER', 'API_JWT_AUDIENCE', 'API_JWT_MAX_AGE_S'] as const;

/** Refuses settings of a check that are set but empty (they would silently switch the check off). */
export function refuseEmptyChecks(source: NodeJS.ProcessEnv): void {
  const empty = NEVER_EMPTY.filter((k) => source[k] !== undefined && source[k]?.trim() === '');
  if (empty.length > 0) {
    throw new ConfigError(empty.map((variable) => ({ variable, message: 'is set but empty: unset it or give a value' })));
  }
}

/** The API's settings from `source` (the process's env, parsed once by its main). */
export function loadApiEnv(source: NodeJS.ProcessEnv): ApiEnv {
  refuseEmptyChecks(source);
  return parseEnv(apiEnv, source);
}

/** Everything the API service reads: the common settings, the store's, where it listens and its own. */
export const apiServiceEnv = storeProcessEnv
  .extend({
    POLICY_FILE: z.string().default(DEFAULT_POLICY_FILE),
    API_PORT: env.int({ min: 0, max: 65535 }).default(8080),
    API_HOST: z.string().default('127.0.0.1'),
  })
  .extend(apiEnv.shape);
export type ApiServiceEnv = z.infer<typeof apiServiceEnv>;

export function loadApiServiceEnv(source: NodeJS.ProcessEnv): ApiServiceEnv {
  refuseEmptyChecks(source);
  return parseEnv(apiServiceEnv, source);
}

/** The configured API keys: `API_KEYS` and `API_KEYS_FILE` together. */
export function loadApiKeys(e: ApiEnv): ApiKeyConfig[] {
  const keys = [...(e.API_KEYS ?? [])];
  if (e.API_KEYS_FILE) {
    const parsed = z.array(apiKeyConfig).safeParse(JSON.parse(readFileSync(e.API_KEYS_FILE, 'utf8')));
    if (!parsed.success) {
      throw new Error(
        `API_KEYS_FILE ${e.API_KEYS_FILE}: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
      );
    }
    keys.push(...parsed.data);
  }
  const ids = new Set<string>();
  for (const k of keys) {
    if (ids.has(k.id)) throw new Error(`API key id ${k.id} is configured twice`);
    ids.add(k.id);
  }
  return keys;
}
