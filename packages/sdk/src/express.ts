/**
 * Express middleware: one access event per request, recorded when the response has finished (so the
 * handler can decide the subject, e.g. in res.locals) and only when it succeeded (status < 400 unless
 * `when` says otherwise). Express is only needed for its types.
 */
import { createLogger } from '@custos/config';
import type { Request, RequestHandler, Response } from 'express';
import type { AuditClient } from './client.js';
import type { LoggerLike } from './logger.js';
import type { AccessEventInput } from './validate.js';

type Actor = AccessEventInput['actor'];
type Subject = AccessEventInput['subject'];
type Action = AccessEventInput['action'];
type PerRequest<T> = T | ((req: Request, res: Response) => T);

export interface AuditAccessOptions {
  client: AuditClient;
  /** data categories touched, e.g. ['personal.contact'] */
  categories: PerRequest<string[]>;
  /** why, e.g. 'service.support' */
  purpose: PerRequest<string>;
  /** default from the HTTP method: GET/HEAD read, POST create, PUT/PATCH update, DELETE delete */
  action?: PerRequest<Action>;
  /**
   * The data subject, read when the response has finished. Return null/undefined to record nothing
   * for this request (e.g. a search that found no one). `tenantId` may come with it.
   */
  subject: (req: Request, res: Response) => (Subject & { tenantId?: string }) | null | undefined;
  /** whose data: default the subject's `tenantId`, else `req.auth.tenantId`, else `res.locals.tenantId` */
  tenantId?: PerRequest<string | undefined>;
  /** who: default `req.auth.actor`, else `res.locals.actor` (set them in your authentication middleware) */
  actor?: (req: Request, res: Response) => Actor | undefined;
  /** more fields of the event: fields, recipient, legalBasis, recordCount, dataCollectedAt, attributes … */
  extra?: (req: Request, res: Response) => Partial<AccessEventInput> | undefined;
  /** whether to record this request; default: status < 400 */
  when?: (req: Request, res: Response) => boolean;
  /** an event that could not be recorded (invalid: a bug to fix); default: logged at error level */
  onError?: (err: unknown, req: Request) => void;
  logger?: LoggerLike;
}

const METHOD_ACTION: Record<string, Action> = {
  GET: 'read',
  HEAD: 'read',
  POST: 'create',
  PUT: 'update',
  PATCH: 'update',
  DELETE: 'delete',
};

interface AuthLike {
  auth?: { actor?: Actor; tenantId?: string };
}

function value<T>(v: PerRequest<T>, req: Request, res: Response): T {
  return typeof v === 'function' ? (v as (req: Request, res: Response) => T)(req, res) : v;
}

/** W3C traceparent `00-<trace-id>-<span-id>-<flags>` → trace id. */
function traceId(req: Request): string | undefined {
  const tp = req.get('traceparent');
  const parts = tp?.split('-');
  return parts !== undefined && parts.length >= 4 && parts[1]?.length === 32 ? parts[1] : undefined;
}

export function auditAccess(opts: AuditAccessOptions): RequestHandler {
  let logger = opts.logger;
  const onError =
    opts.onError ??
    ((err: unknown, req: Request) => {
      logger ??= createLogger('custos-sdk', 'warn');
      logger.error({ err, method: req.method, path: req.originalUrl }, 'audit event for this request could not be recorded');
    });
  return (req, res, next) => {
    const started = new Date();
    res.once('finish', () => {
      try {
        if (!(opts.when ? opts.when(req, res) : res.statusCode < 400)) return;
        const subject = opts.subject(req, res);
        if (subject === null || subject === undefined) return;
        const auth = (req as Request & AuthLike).auth;
        const locals = res.locals as { actor?: Actor; tenantId?: string };
        const tenantId =
          (opts.tenantId !== undefined ? value(opts.tenantId, req, res) : undefined) ??
          subject.tenantId ??
          auth?.tenantId ??
          locals.tenantId;
        const event = {
          occurredAt: started,
          tenantId,
          actor: opts.actor ? opts.actor(req, res) : (auth?.actor ?? locals.actor),
          subject: { id: subject.id, type: subject.type },
          categories: value(opts.categories, req, res),
          action: opts.action !== undefined ? value(opts.action, req, res) : METHOD_ACTION[req.method],
          purpose: value(opts.purpose, req, res),
          source: { requestId: req.get('x-request-id') ?? null, traceId: traceId(req) ?? null, ip: req.ip ?? null },
          ...opts.extra?.(req, res),
        };
        // Invalid (e.g. no actor): the ValidationError names the field; the response is already sent.
        void opts.client.record(event as AccessEventInput);
      } catch (err) {
        onError(err, req);
      }
    });
    next();
  };
}
