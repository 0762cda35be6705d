/**
 * The query API. Every /v1 route authenticates (API key or JWT; 401), checks the credential's role
 * (403), validates its input with zod (400 naming the fields), checks the tenant against the
 * credential's scope (403), queries ClickHouse only with {name:Type} parameters under a time and a
 * row limit, and records the read itself as an access event before answering (503 if it cannot).
 */
import { createHash, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseBundleText } from '@custos/policy';
import { reportSignatureFile, type Store } from '@custos/store';
import express, { type NextFunction, type Request, type Response } from 'express';
import { rateLimit } from 'express-rate-limit';
import type { Logger } from 'pino';
import { dataScope, ROLE_DATA, tenantScopedIntegrity } from './access.js';
import { type AuditRecorder, auditEvents } from './audit.js';
import { type AuthOptions, createAuthenticator, inScope, type Principal } from './auth.js';
import { type ApiEnv, loadApiEnv, loadApiKeys } from './config.js';
import { AuditDb, type QueryLimits } from './db.js';
import { type Directory, directoryFromBundle } from './directory.js';
import { forbidden, HttpError, parseInput } from './errors.js';
import { Gate } from './gate.js';
import type { HeavyPool } from './heavy.js';
import { type IntegrityProvider, unavailableIntegrity } from './integrity.js';
import { type ApiMetrics, createMetrics } from './metrics.js';
import { openApiDocument } from './openapi.js';
import { type DirectorySource, fixedDirectory, isDirectorySource } from './policy-follow.js';
import { trustProxySetting, WeightedLimiter } from './rate-limit.js';
import { reportFileSha256, reportJson } from './report/render.js';
import { ROUTES, type RouteDeps, type RouteResult } from './routes.js';
import { idParam } from './schemas.js';
import type { SubjectStateWriter } from './subject-state.js';

export { HttpError } from './errors.js';

export const CONSOLE_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'console');
/** The repository's example bundle: the default POLICY_FILE. */
export const DEFAULT_POLICY_FILE = join(
  dirname(fileURLToPath(import.meta.url)),
  '..',
  '..',
  '..',
  'policies',
  'example-org.json',
);

export interface ApiLimits extends QueryLimits {
  /** longest time range a query may span, in days (the subject report allows 10 years) */
  maxRangeDays: number;
  /**
   * requests per minute per client address, and cost units per minute per credential (routes weigh
   * 1–10, routes.ts); 0 turns rate limiting off
   */
  rateLimitPerMin: number;
  /** API_TRUST_PROXY (rate-limit.ts trustProxySetting) */
  trustProxy?: boolean | number | string[];
  /** heavy routes (reports, verification): at most this many at once, this many waiting, answered within this many seconds */
  heavyConcurrency?: number;
  heavyQueue?: number;
  heavyDeadlineS?: number;
  /** heavy requests one credential may have running or waiting (beyond: 429); default: heavyConcurrency */
  heavyPerCredential?: number;
  /** how long the list of stored tenants a search over every tenant reads is kept, ms (default 10 s) */
  tenantListTtlMs?: number;
}

export interface ApiOptions {
  store: Store;
  logger: Logger;
  /** readiness: true once migrations ran and the pipeline is up */
  ready?: () => boolean;
  /**
   * the policy bundle's directory, or a source of the current one (policy-follow.ts: it follows bundle
   * changes)
   */
  directory: Directory | DirectorySource;
  /** credentials (a service: authFromEnv of its env parse) */
  auth: AuthOptions;
  /**
   * Records every read of audit data as an access event (the SDK client). Without one, the reads
   * are logged as such and a warning says they are not on the audit trail.
   */
  recorder?: AuditRecorder;
  /** sends subject-state changes (`POST /v1/subjects/:id/state`; the SDK client); without one those answer 503 */
  subjectState?: SubjectStateWriter;
  /** checkpoints and range verification from the store; default: "unavailable" */
  integrity?: IntegrityProvider;
  /**
   * worker threads for the heavy routes (periodic reports, verification; heavy.ts), as many as
   * `limits.heavyConcurrency`; without them those routes run on the request thread
   */
  heavy?: HeavyPool;
  limits?: Partial<ApiLimits>;
  /** the parsed settings the limits come from (`limits` overrides them); default: every setting's default */
  env?: ApiEnv;
  metrics?: ApiMetrics;
  now?: () => Date;
}

/** The directory of the bundle in `path` (a service passes its POLICY_FILE; default: the example bundle). */
export function loadDirectory(path = DEFAULT_POLICY_FILE): Directory {
  const r = parseBundleText(readFileSync(path, 'utf8'));
  if (!r.ok) throw new Error(`policy bundle ${path} is invalid: ${r.issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`);
  return directoryFromBundle(r.value.bundle, r.value.policyVersion);
}

export function authFromEnv(e: ApiEnv): AuthOptions {
  return {
    apiKeys: loadApiKeys(e),
    jwt: {
      secret: e.API_JWT_SECRET,
      jwksUrl: e.API_JWT_JWKS_URL,
      issuer: e.API_JWT_ISSUER,
      audience: e.API_JWT_AUDIENCE,
      maxAgeS: e.API_JWT_MAX_AGE_S,
    },
  };
}

export function limitsFromEnv(e: ApiEnv): ApiLimits {
  return {
    timeoutS: e.API_QUERY_TIMEOUT_S,
    maxRows: e.API_MAX_RESULT_ROWS,
    maxMemoryBytes: e.API_QUERY_MAX_MEMORY_MB * 1024 ** 2,
    maxBytesRead: e.API_QUERY_MAX_READ_MB * 1024 ** 2,
    maxRangeDays: e.API_MAX_RANGE_DAYS,
    rateLimitPerMin: e.API_RATE_LIMIT_PER_MIN,
    trustProxy: trustProxySetting(e.API_TRUST_PROXY),
  };
}

class LogRecorder implements AuditRecorder {
  constructor(private readonly logger: Logger) {
    logger.warn('no audit recorder configured: reads of audit data are logged but NOT recorded on the audit trail');
  }
  record(event: unknown): void {
    this.logger.info({ auditEvent: event }, 'audit-trail read (not recorded: no recorder)');
  }
}

const REQUEST_ID = /^[\w.:-]{1,64}$/;

export function createApp(opts: ApiOptions): express.Express {
  const { logger } = opts;
  const given = opts.directory;
  const source = isDirectorySource(given) ? given : fixedDirectory(given);
  const auth = opts.auth;
  // without settings, the documented defaults (an empty environment parsed), never this process's env
  const limits: ApiLimits = { ...limitsFromEnv(opts.env ?? loadApiEnv({})), ...opts.limits };
  const metrics = opts.metrics ?? createMetrics();
  const recorder = opts.recorder ?? new LogRecorder(logger);
  const now = opts.now ?? (() => new Date());
  if (auth.apiKeys.length === 0 && !auth.jwt?.secret && !auth.jwt?.jwksUrl) {
    logger.warn('no API keys or JWT settings configured: every /v1 route will answer 401');
  }
  const authenticate = createAuthenticator(auth, () => source.current(), now);
  const deps: RouteDeps = {
    db: new AuditDb(opts.store, {
      timeoutS: limits.timeoutS,
      maxRows: limits.maxRows,
      ...(limits.maxMemoryBytes !== undefined ? { maxMemoryBytes: limits.maxMemoryBytes } : {}),
      ...(limits.maxBytesRead !== undefined ? { maxBytesRead: limits.maxBytesRead } : {}),
      ...(limits.tenantListTtlMs !== undefined ? { tenantListTtlMs: limits.tenantListTtlMs } : {}),
    }),
    // the directory of the bundle in force when the request is served
    get dir() {
      return source.current();
    },
    integrity: tenantScopedIntegrity(opts.integrity ?? unavailableIntegrity),
    heavy: opts.heavy,
    maxRangeDays: limits.maxRangeDays,
    now,
    subjectState: opts.subjectState,
  };
  const openapi = openApiDocument();

  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('trust proxy', limits.trustProxy ?? false);
  const perCredential = limits.rateLimitPerMin > 0 ? new WeightedLimiter(limits.rateLimitPerMin) : undefined;
  const heavyConcurrency = Math.min(limits.heavyConcurrency ?? 2, opts.heavy?.size ?? Number.POSITIVE_INFINITY);
  const heavy = new Gate(
    heavyConcurrency,
    limits.heavyQueue ?? 8,
    (limits.heavyDeadlineS ?? 120) * 1000,
    limits.heavyPerCredential ?? heavyConcurrency,
  );

  app.use((req, res, next) => {
    // The request id is always the server's: a client could otherwise choose the id its read is
    // recorded under. A client's own X-Request-Id is kept beside it, marked as the client's.
    const given = req.headers['x-request-id'];
    const id = randomUUID();
    res.locals.requestId = id;
    if (typeof given === 'string' && REQUEST_ID.test(given)) res.locals.clientRequestId = given;
    res.setHeader('X-Request-Id', id);
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Referrer-Policy', 'no-referrer');
    res.setHeader('X-Frame-Options', 'DENY');
    // Request size limits: only a few routes take a (small, JSON) body; a large one or a very long URL is refused outright.
    if (req.url.length > 4096) {
      res.status(414).json({ error: 'the request URL is too long (at most 4096 characters)' });
      return;
    }
    const len = Number(req.headers['content-length'] ?? 0);
    if (len > 16 * 1024 || (req.headers['transfer-encoding'] && req.method !== 'GET')) {
      res.status(413).json({ error: 'request body too large' });
      return;
    }
    next();
  });

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', (_req, res) => {
    const ready = opts.ready?.() ?? true;
    res.status(ready ? 200 : 503).json({ ready });
  });
  // Metrics name routes, tenants' volumes and failure rates: a credential is needed here. A scraper
  // without one uses the local-only metrics port (API_METRICS_PORT, service.ts).
  app.get('/metrics', async (req, res, next) => {
    try {
      await authenticate(req);
      res.setHeader('Content-Type', metrics.registry.contentType);
      res.send(await metrics.registry.metrics());
    } catch (err) {
      next(err);
    }
  });

  app.use('/console', (_req, res, next) => {
    res.setHeader(
      'Content-Security-Policy',
      "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
    );
    next();
  });
  app.get('/console', (req, res, next) => {
    if (req.path === '/console') res.redirect(301, '/console/');
    else next();
  });
  app.use('/console', express.static(CONSOLE_DIR, { index: 'index.html', maxAge: '5m', redirect: false }));

  if (limits.rateLimitPerMin > 0) {
    app.use(
      '/v1',
      rateLimit({
        windowMs: 60_000,
        limit: limits.rateLimitPerMin,
        standardHeaders: 'draft-8',
        legacyHeaders: false,
        handler: (_req, res) => {
          res.status(429).json({ error: `rate limited: at most ${limits.rateLimitPerMin} requests per minute` });
        },
      }),
    );
  }
  app.use('/v1', (_req, res, next) => {
    res.setHeader('Cache-Control', 'no-store');
    next();
  });

  app.get('/v1/openapi.json', (_req, res) => {
    res.json(openapi);
  });

  app.get('/v1/me', async (req, res, next) => {
    try {
      const p = await authenticate(req);
      perCredential?.consume(p.credentialId, 1);
      const dir = source.current();
      // a tenant-scoped caller learns nothing about other tenants, not even their names
      const tenants = p.tenants === '*' ? [...dir.tenants] : dir.tenants.filter((t) => p.tenants.includes(t));
      res.json({
        staffId: p.staffId,
        name: p.name,
        department: p.department,
        role: p.role,
        tenants: p.tenants,
        credential: p.credentialId,
        routes: ROUTES.filter((r) => r.roles.includes(p.role)).map((r) => r.id),
        data: ROLE_DATA[p.role],
        purposes: [...dir.purposes]
          .filter(([id]) => !dir.prohibitedPurposes.has(id))
          .map(([id, description]) => ({ id, description })),
        directory: {
          tenants,
          departments: [...dir.departments],
          categories: [...dir.categories],
          codes: [...dir.codes],
        },
      });
    } catch (err) {
      next(err);
    }
  });

  // Bodies only where a route takes one (JSON, within the size limit checked above).
  const jsonBody = express.json({ limit: 16 * 1024, strict: true, type: () => true });
  for (const r of ROUTES) {
    const handlers = r.body ? [jsonBody] : [];
    app[r.method ?? 'get'](r.path, ...handlers, async (req: Request, res: Response, next: NextFunction) => {
      const end = metrics.duration.startTimer({ route: r.id });
      res.once('finish', () => {
        end();
        metrics.requests.inc({ route: r.id, status: String(res.statusCode) });
      });
      try {
        const principal = await authenticate(req);
        perCredential?.consume(principal.credentialId, r.cost ?? 1);
        if (!r.roles.includes(principal.role)) throw forbidden(`the role ${principal.role} may not call ${r.id}`);
        const path = r.params ? parseInput(r.params, req.params, 'path') : {};
        const query = parseInput(r.query, req.query, 'query') as Record<string, unknown> & { tenantId?: string };
        const body = r.body ? (parseInput(r.body, req.body, 'body') as { tenantId?: string }) : undefined;
        const dir = source.current();
        const purpose = statedPurpose(req, query.requestPurpose, dir);
        const scope = dataScope(tenantScope(principal, body?.tenantId ?? query.tenantId), principal.role, dir);
        const startedAt = process.hrtime.bigint();
        const run = (deadline?: Promise<never>) =>
          r.handler({ principal, query, path, body, scope, deps: { ...deps, dir }, deadline });
        const result = r.heavy ? await heavy.run(r.id, principal.credentialId, run) : await run();
        if (r.files) {
          const q = query as { format?: string; period?: string };
          metrics.reports.observe({ kind: r.id, format: q.format ?? 'json' }, Number(process.hrtime.bigint() - startedAt) / 1e9);
        }
        const action = result.audit.action ?? (result.file ? 'export' : 'read');
        const events = auditEvents(
          {
            principal,
            purpose,
            requestId: String(res.locals.requestId),
            clientRequestId: res.locals.clientRequestId as string | undefined,
            ip: req.ip ?? req.socket.remoteAddress,
            route: r.id,
          },
          { ...result.audit, action, filters: filtersOf(query) },
        );
        try {
          for (const e of events) recorder.record(e);
          metrics.auditRecords.inc({ result: 'ok' }, events.length);
        } catch (err) {
          metrics.auditRecords.inc({ result: 'failed' });
          logger.error({ err, route: r.id }, 'could not record the read on the audit trail; refusing to answer');
          throw new HttpError(503, 'the read could not be recorded on the audit trail; try again later', undefined, {
            'Retry-After': '5',
          });
        }
        if (result.effect) {
          try {
            await result.effect();
          } catch (err) {
            logger.error({ err, route: r.id }, 'the change could not be sent');
            throw new HttpError(
              503,
              `the change could not be sent: ${err instanceof Error ? err.message : String(err)}`,
              undefined,
              {
                'Retry-After': '5',
              },
            );
          }
        }
        if (result.signed) {
          await sendSignedReport(res, result, deps.integrity);
        } else if (result.file) {
          res.setHeader('Content-Type', result.file.contentType);
          res.setHeader('Content-Disposition', `attachment; filename="${result.file.filename}"`);
          res.setHeader('X-Content-SHA256', result.file.sha256);
          res.send(result.file.body);
        } else {
          res.status(result.status ?? 200).json(result.json);
        }
      } catch (err) {
        next(err);
      }
    });
  }

  app.use((_req, res) => {
    res.status(404).json({ error: 'not found' });
  });
  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    if (err instanceof HttpError) {
      for (const [k, v] of Object.entries(err.headers ?? {})) res.setHeader(k, v);
      res.status(err.status).json(err.details ? { error: err.message, details: err.details } : { error: err.message });
      return;
    }
    const type = err && typeof err === 'object' && 'type' in err ? err.type : undefined;
    if (type === 'entity.too.large') {
      res.status(413).json({ error: 'request body too large' });
      return;
    }
    if (type === 'entity.parse.failed' || type === 'encoding.unsupported' || type === 'charset.unsupported') {
      res.status(400).json({ error: 'invalid body', details: [{ field: 'body', message: 'must be a JSON object (UTF-8)' }] });
      return;
    }
    // the router could not decode a path parameter (a malformed percent-escape): the client's error
    if (err instanceof URIError) {
      res.status(400).json({ error: 'malformed percent-escape in the URL path' });
      return;
    }
    logger.error({ err, path: req.path, requestId: res.locals.requestId }, 'request failed');
    res.status(500).json({ error: 'internal error', requestId: res.locals.requestId });
  });
  return app;
}

/** What a read selected, for its audit record: the query without range, paging, format and purpose. */
function filtersOf(query: Record<string, unknown>): string {
  return Object.entries(query)
    .filter(([k, v]) => v !== undefined && !['from', 'to', 'limit', 'cursor', 'requestPurpose', 'format'].includes(k))
    .map(([k, v]) => `${k}=${String(v)}`)
    .sort()
    .join('&');
}

/** The purpose the caller states: header `X-Purpose` or query `requestPurpose`; a bundle purpose, not a prohibited one. */
function statedPurpose(req: Request, fromQuery: unknown, dir: Directory): string {
  const header = req.headers['x-purpose'];
  const stated =
    typeof header === 'string' && header.length > 0 ? header.trim() : typeof fromQuery === 'string' ? fromQuery : undefined;
  const field = typeof header === 'string' && header.length > 0 ? 'X-Purpose' : 'requestPurpose';
  const fail = (message: string) => new HttpError(400, `invalid ${field}`, [{ field, message }]);
  if (!stated) throw fail('state the purpose of this read in the X-Purpose header (or the requestPurpose query parameter)');
  if (!idParam.safeParse(stated).success) throw fail('must be a purpose id');
  if (!dir.purposes.has(stated))
    throw fail(`unknown purpose; one of: ${[...dir.purposes.keys()].filter((p) => !dir.prohibitedPurposes.has(p)).join(', ')}`);
  if (dir.prohibitedPurposes.has(stated)) throw fail('a prohibited purpose');
  return stated;
}

function tenantScope(p: Principal, tenantId: string | undefined): '*' | string[] {
  if (tenantId) {
    if (!inScope(p, tenantId)) throw forbidden(`the tenant ${tenantId} is outside this credential’s scope`);
    return [tenantId];
  }
  if (p.tenants !== '*' && p.tenants.length === 0) throw forbidden('this credential has no tenant in its scope');
  return p.tenants;
}

/**
 * A report goes out as exactly the bytes that were signed (JSON as `custos report` writes it: the
 * report's canonical JSON, made when its content hash was) with its detached signature in the `Custos-Report-Signature` header: the base64 of the
 * `<file>.sig.json` companion, so `curl -OJ -D h` and one `base64 -d` give an auditor both files for
 * `custos report verify FILE --public-key KEY` or openssl (docs/api-notes.md).
 */
async function sendSignedReport(res: Response, result: RouteResult, integrity: IntegrityProvider): Promise<void> {
  const signed = result.signed as NonNullable<RouteResult['signed']>;
  const body = result.file ? result.file.body : reportJson(result.json);
  const contentType = result.file ? result.file.contentType : 'application/json; charset=utf-8';
  const sig = integrity.signReport ? await integrity.signReport(signed.filename, body, signed) : undefined;
  res.setHeader('Content-Type', contentType);
  res.setHeader('Content-Disposition', `${result.file ? 'attachment' : 'inline'}; filename="${signed.filename}"`);
  res.setHeader(
    'X-Content-SHA256',
    result.file ? createHash('sha256').update(body).digest('hex') : reportFileSha256(result.json, body),
  );
  if (sig) {
    res.setHeader('Custos-Report-Signature', Buffer.from(reportSignatureFile(sig)).toString('base64'));
    res.setHeader('Custos-Report-Key-Id', sig.fields.keyId);
  } else res.setHeader('Custos-Report-Unsigned', 'no report signing key is configured (REPORT_PRIVATE_KEY)');
  res.send(body);
}
