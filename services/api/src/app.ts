/**
 * The query API. Every route validates its input with zod (400 naming the fields) and queries
 * ClickHouse only with {name:Type} parameters.
 */
import type { Store } from '@custos/store';
import express, { type NextFunction, type Request, type Response } from 'express';
import type { Logger } from 'pino';
import { z } from 'zod';

export interface ApiOptions {
  store: Store;
  logger: Logger;
  /** readiness: true once migrations ran and the pipeline is up */
  ready?: () => boolean;
}

const accessesQuery = z.object({
  tenantId: z.string().min(1).optional(),
  subjectId: z.string().min(1).optional(),
  actorId: z.string().min(1).optional(),
  outcome: z.enum(['allow', 'flag', 'deny']).optional(),
  from: z.iso.datetime({ offset: true }).optional(),
  to: z.iso.datetime({ offset: true }).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }
}

function parse<T extends z.ZodType>(schema: T, input: unknown): z.infer<T> {
  const r = schema.safeParse(input);
  if (!r.success) {
    throw new HttpError(
      400,
      'invalid request',
      r.error.issues.map((i) => ({ field: i.path.join('.'), message: i.message })),
    );
  }
  return r.data;
}

const toIsoUtc = (chTime: string) => `${chTime.replace(' ', 'T')}Z`;

export function createApp(opts: ApiOptions): express.Express {
  const { store } = opts;
  const app = express();
  app.disable('x-powered-by');
  app.use(express.json({ limit: '100kb' }));

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', (_req, res) => {
    const ready = opts.ready?.() ?? true;
    res.status(ready ? 200 : 503).json({ ready });
  });

  app.get('/v1/accesses', async (req, res, next) => {
    try {
      const q = parse(accessesQuery, req.query);
      const where: string[] = [];
      const params: Record<string, unknown> = { limit: q.limit };
      if (q.tenantId) {
        where.push('tenant_id = {tenantId:String}');
        params.tenantId = q.tenantId;
      }
      if (q.subjectId) {
        where.push('subject_id = {subjectId:String}');
        params.subjectId = q.subjectId;
      }
      if (q.actorId) {
        where.push('actor_id = {actorId:String}');
        params.actorId = q.actorId;
      }
      if (q.outcome) {
        where.push('outcome = {outcome:String}');
        params.outcome = q.outcome;
      }
      if (q.from) {
        where.push('occurred_at >= parseDateTime64BestEffort({from:String}, 3)');
        params.from = q.from;
      }
      if (q.to) {
        where.push('occurred_at < parseDateTime64BestEffort({to:String}, 3)');
        params.to = q.to;
      }
      const rs = await store.client.query({
        query: `SELECT event_id, tenant_id, occurred_at, decided_at, outcome, codes, reason_messages, basis, policy_version,
                       actor_id, actor_type, subject_id, subject_type, categories, action, purpose, recipient_id, recipient_type
                FROM ${store.table('decisions')} FINAL
                ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
                ORDER BY occurred_at DESC, event_id DESC
                LIMIT {limit:UInt32}`,
        query_params: params,
        format: 'JSONEachRow',
      });
      const rows = await rs.json<
        Record<string, unknown> & { occurred_at: string; decided_at: string; codes: string[]; reason_messages: string[] }
      >();
      res.json({
        items: rows.map((r) => ({
          eventId: r.event_id,
          tenantId: r.tenant_id,
          occurredAt: toIsoUtc(r.occurred_at),
          decidedAt: toIsoUtc(r.decided_at),
          outcome: r.outcome,
          reasons: r.codes.map((code, i) => ({ code, message: r.reason_messages[i] ?? '' })),
          basis: r.basis,
          policyVersion: r.policy_version,
          actor: { id: r.actor_id, type: r.actor_type },
          subject: { id: r.subject_id, type: r.subject_type },
          categories: r.categories,
          action: r.action,
          purpose: r.purpose,
          recipient: r.recipient_id ? { id: r.recipient_id, type: r.recipient_type } : undefined,
        })),
      });
    } catch (err) {
      next(err);
    }
  });

  app.use((_req, res) => {
    res.status(404).json({ error: 'not found' });
  });
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    if (err instanceof HttpError) {
      res.status(err.status).json({ error: err.message, details: err.details });
      return;
    }
    if (err && typeof err === 'object' && 'type' in err && err.type === 'entity.too.large') {
      res.status(413).json({ error: 'request body too large' });
      return;
    }
    if (err && typeof err === 'object' && 'type' in err && err.type === 'entity.parse.failed') {
      res.status(400).json({ error: 'request body is not valid JSON' });
      return;
    }
    opts.logger.error({ err }, 'request failed');
    res.status(500).json({ error: 'internal error' });
  });
  return app;
}
