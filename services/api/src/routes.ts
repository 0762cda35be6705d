/**
 * The route table: for each route its path, the roles that may call it, its zod input and output
 * schemas and its handler. app.ts mounts it (authentication, role check, validation, audit record)
 * and openapi.ts documents it, from the same definitions.
 */
import type { z } from 'zod';
import { type DataScope, maySelect, proofRowKind, rowsOf, type Selection, tenantsOf } from './access.js';
import type { Principal } from './auth.js';
import type { AuditDb } from './db.js';
import type { Directory } from './directory.js';
import { forbidden, HttpError } from './errors.js';
import type { HeavyPool } from './heavy.js';
import {
  type IntegrityProvider,
  integrityConsistencyQuery,
  integrityConsistencyResponse,
  integrityKeysQuery,
  integrityKeysResponse,
  integrityProofQuery,
  integrityProofResponse,
} from './integrity.js';
import {
  actorActivity,
  BUCKET_MS,
  disclosures,
  rangeOut,
  searchAccesses,
  sharingSummary,
  subjectData,
  violationsSummary,
} from './queries.js';
import {
  buildPeriodicReport,
  periodicReportCsv,
  periodicReportPdf,
  type RenderedReport,
  renderReport,
} from './report/periodic.js';
import { buildSubjectReport, subjectReportCsv, subjectReportPdf } from './report/subject.js';
import type { Role } from './roles.js';
import * as s from './schemas.js';
import {
  prepareChange,
  readSubjectState,
  type SubjectStateWriter,
  subjectStateAccepted,
  subjectStateBody,
  subjectStatePostQuery,
  subjectStateQuery,
  subjectStateResponse,
} from './subject-state.js';

export interface RouteDeps {
  db: AuditDb;
  dir: Directory;
  integrity: IntegrityProvider;
  /** worker threads for the heavy routes (heavy.ts); without them, they run on the request thread */
  heavy?: HeavyPool | undefined;
  maxRangeDays: number;
  now: () => Date;
  /** sends subject-state changes (the SDK client); without one, changes are refused (503) */
  subjectState?: SubjectStateWriter | undefined;
}

export interface RouteCtx<Q, P, B = undefined> {
  principal: Principal;
  query: Q;
  path: P;
  /** the validated JSON body (POST routes) */
  body: B;
  /**
   * what to query: the requested tenant (or the credential's whole scope), and the kinds of rows and
   * fields the caller's role may see (access.ts)
   */
  scope: DataScope;
  deps: RouteDeps;
  /** for a heavy route: rejects when its deadline passes (gate.ts) */
  deadline?: Promise<never> | undefined;
}

/** What a handler returns: a JSON body or a file, and what the audit record should say. */
export interface RouteResult {
  json?: unknown;
  file?: RenderedReport & { filename: string };
  /** the HTTP status of a JSON answer (default 200) */
  status?: number;
  /**
   * A write's side effect: run only once its audit record was accepted, so nothing is changed
   * without a record of who changed it.
   */
  effect?: () => Promise<void> | void;
  /**
   * a report: app.ts signs the bytes it sends (JSON rendered as a file would be) over the checkpoints
   * of [from, to) and names the file `filename`
   */
  signed?: { filename: string; from: Date; to: Date };
  audit: {
    /** default: `read` (`export` for a file) */
    action?: 'update' | undefined;
    tenantId?: string | undefined;
    subject?: { id: string; type?: string | undefined } | undefined;
    /**
     * a read of one subject across tenants: the tenants whose records it returned. The read is
     * recorded once under each, so it shows in the subject's own report.
     */
    tenantsTouched?: string[] | undefined;
    recordCount: number;
    /** `subjects` (how many distinct subjects the answer holds) and `filters` are added by app.ts when known */
    subjects?: number | undefined;
    attributes: Record<string, string | undefined>;
  };
}

export interface RouteDef<Q extends z.ZodType = z.ZodType, P extends z.ZodType = z.ZodType, B extends z.ZodType = z.ZodType> {
  id: string;
  /** default `get` */
  method?: 'get' | 'post';
  path: string;
  summary: string;
  description?: string;
  roles: readonly Role[];
  query: Q;
  params?: P;
  /** the JSON body of a POST route */
  body?: B;
  response: z.ZodType;
  /** answers in CSV and PDF too (`format` query parameter) */
  files?: boolean;
  /** reads audit data: needs a stated purpose and is recorded as an access event */
  audited: boolean;
  /** rate-limit units one call spends from its credential's budget (default 1) */
  cost?: number;
  /** runs behind the heavy-work gate (bounded concurrency and a deadline, gate.ts) */
  heavy?: boolean;
  handler: (ctx: RouteCtx<z.infer<Q>, z.infer<P>, z.infer<B>>) => Promise<RouteResult>;
}

const ALL: readonly Role[] = ['security_analyst', 'privacy_officer', 'auditor', 'admin'];

const route = <Q extends z.ZodType, P extends z.ZodType, B extends z.ZodType = z.ZodType>(r: RouteDef<Q, P, B>): RouteDef =>
  r as unknown as RouteDef;

const safeName = (s: string) => s.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 80);

const rangeAttrs = (r: s.Range) => ({ from: r.from.toISOString(), to: r.to.toISOString() });

const distinctSubjects = (items: { tenantId: string; subject: { id: string } }[]) =>
  new Set(items.map((i) => `${i.tenantId}\u0000${i.subject.id}`)).size;

/** A filter that amounts to a view the caller's role may not open is refused, naming the filter. */
function requireSelection(p: Principal, selection: Selection, field: string): void {
  if (!maySelect(p.role, selection)) {
    throw new HttpError(403, `the role ${p.role} may not select accesses by ${field}`, [
      { field, message: `selecting by ${field} is a view the role ${p.role} may not open` },
    ]);
  }
}

export const ROUTES: RouteDef[] = [
  route({
    id: 'searchAccesses',
    cost: 1,
    path: '/v1/accesses',
    summary: 'Search accesses: who accessed what',
    description:
      'Decisions newest first (occurredAt, then eventId, descending); `nextCursor` fetches the next page. Default range: the last 30 days.',
    roles: ALL,
    query: s.accessesQuery,
    response: s.accessesPage,
    audited: true,
    handler: async ({ query: q, scope, principal, deps }) => {
      if (q.actorId) requireSelection(principal, 'byActor', 'actorId');
      if (q.department) requireSelection(principal, 'byActor', 'department');
      if (q.subjectId) requireSelection(principal, 'bySubject', 'subjectId');
      const range = s.resolveRange(q, 30, deps.maxRangeDays, deps.now());
      const page = await searchAccesses(deps.db, deps.dir, scope, range, q);
      return {
        json: { ...page, range: rangeOut(range) },
        audit: {
          tenantId: q.tenantId,
          subject: q.subjectId ? { id: q.subjectId, type: page.items[0]?.subject.type } : undefined,
          tenantsTouched: q.subjectId && !q.tenantId ? [...new Set(page.items.map((i) => i.tenantId))].sort() : undefined,
          recordCount: page.items.length,
          subjects: distinctSubjects(page.items),
          attributes: rangeAttrs(range),
        },
      };
    },
  }),
  route({
    id: 'subjectReport',
    cost: 3,
    path: '/v1/subjects/:subjectId/report',
    summary: 'Subject access report (DPDP Act §11)',
    description:
      'What of one subject’s data was accessed, by whom, for which purposes, and every processor or third party it was shared with. `variant=subject` is the subject-facing report: no lawful disclosures to authorities (§11(2)), staff named by department. JSON, CSV or PDF. Default range: the last 10 years.',
    roles: ['privacy_officer', 'admin'],
    query: s.subjectReportQuery,
    params: s.subjectPath,
    response: s.subjectReport,
    files: true,
    audited: true,
    handler: async ({ query: q, path, scope, principal, deps }) => {
      requireSelection(principal, 'bySubject', 'subjectId');
      const tenantId = q.tenantId ?? (scope.tenants !== '*' && scope.tenants.length === 1 ? scope.tenants[0] : undefined);
      if (!tenantId) {
        throw new HttpError(400, 'invalid query: tenantId', [
          { field: 'tenantId', message: 'required: a subject is identified by tenant and id' },
        ]);
      }
      const now = deps.now();
      const range = s.resolveRange(q, 3650, 3660, now);
      const data = await subjectData(deps.db, deps.dir, tenantId, path.subjectId, range, q.variant, undefined, scope);
      const report = buildSubjectReport(deps.dir, data, {
        tenantId,
        subjectId: path.subjectId,
        range,
        variant: q.variant,
        generatedAt: now,
      });
      const audit = {
        tenantId,
        subject: { id: path.subjectId, type: report.subject.types[0] },
        recordCount: report.summary.total,
        attributes: { ...rangeAttrs(range), variant: q.variant, format: q.format, requestedBy: principal.role },
      };
      const filename = `subject-report-${safeName(tenantId)}-${safeName(path.subjectId)}-${q.variant}.${q.format}`;
      const signed = { filename, from: range.from, to: range.to };
      if (q.format === 'json') return { json: report, audit, signed };
      const file = await renderReport(report, q.format, subjectReportCsv, subjectReportPdf);
      return { file: { ...file, filename }, audit, signed };
    },
  }),
  route({
    id: 'actorActivity',
    cost: 2,
    path: '/v1/actors/:actorId/activity',
    summary: 'Activity of one actor (staff member or processor)',
    description:
      'Totals by outcome, codes, categories, purposes, actions, a daily series and the most recent accesses. Default range: the last 30 days.',
    roles: ['security_analyst', 'auditor', 'admin'],
    query: s.actorActivityQuery,
    params: s.actorPath,
    response: s.actorActivity,
    audited: true,
    handler: async ({ query: q, path, scope, principal, deps }) => {
      requireSelection(principal, 'byActor', 'actorId');
      const range = s.resolveRange(q, 30, deps.maxRangeDays, deps.now());
      const a = await actorActivity(deps.db, deps.dir, scope, range, path.actorId, q.tenantId, q.limit);
      return {
        json: a,
        audit: {
          tenantId: q.tenantId,
          recordCount: a.recent.length,
          subjects: a.totals.distinctSubjects,
          attributes: { ...rangeAttrs(range), actorId: path.actorId },
        },
      };
    },
  }),
  route({
    id: 'violationsSummary',
    cost: 3,
    path: '/v1/violations/summary',
    summary: 'Violations summary: by code, department, actor and time bucket',
    description:
      'Decisions by outcome per time bucket (for a chart), denials and flags by code, department and actor. Default range: the last 30 days; at most 2000 buckets.',
    roles: ALL,
    query: s.violationsQuery,
    response: s.violationsSummary,
    audited: true,
    handler: async ({ query: q, scope, deps }) => {
      const range = s.resolveRange(q, 30, deps.maxRangeDays, deps.now());
      if ((range.to.getTime() - range.from.getTime()) / BUCKET_MS[q.bucket] > 2000) {
        throw new HttpError(400, 'invalid query: bucket', [
          { field: 'bucket', message: 'too many buckets for this range (at most 2000); choose a larger bucket' },
        ]);
      }
      const v = await violationsSummary(deps.db, deps.dir, scope, range, q.tenantId, q.bucket, q.top);
      return { json: v, audit: { tenantId: q.tenantId, recordCount: 1, attributes: { ...rangeAttrs(range), bucket: q.bucket } } };
    },
  }),
  route({
    id: 'sharing',
    cost: 3,
    path: '/v1/sharing',
    summary: 'Sharing by agreement and party',
    description:
      'Shares, exports and disclosures by recipient, and processing by processors, per agreement (from the decision basis). Default range: the last 30 days.',
    roles: ['privacy_officer', 'auditor', 'admin'],
    query: s.sharingQuery,
    response: s.sharingSummary,
    audited: true,
    handler: async ({ query: q, scope, deps }) => {
      const range = s.resolveRange(q, 30, deps.maxRangeDays, deps.now());
      const v = await sharingSummary(deps.db, deps.dir, scope, range, q.tenantId);
      return { json: v, audit: { tenantId: q.tenantId, recordCount: 1, attributes: rangeAttrs(range) } };
    },
  }),
  route({
    id: 'disclosures',
    cost: 2,
    path: '/v1/disclosures',
    summary: 'Disclosures to authorities with their legal basis',
    description:
      'Every disclose action (or share with an authority), newest first, with the legal basis and outcome; a summary by authority. Default range: the last 90 days.',
    roles: ['privacy_officer', 'auditor', 'admin'],
    query: s.disclosuresQuery,
    response: s.disclosuresPage,
    audited: true,
    handler: async ({ query: q, scope, deps }) => {
      const range = s.resolveRange(q, 90, deps.maxRangeDays, deps.now());
      const v = await disclosures(deps.db, deps.dir, scope, range, q.tenantId, q.limit, q.cursor);
      return {
        json: v,
        audit: {
          tenantId: q.tenantId,
          recordCount: v.items.length,
          subjects: distinctSubjects(v.items),
          attributes: rangeAttrs(range),
        },
      };
    },
  }),
  route({
    id: 'periodicReport',
    cost: 10,
    heavy: true,
    path: '/v1/reports/periodic',
    summary: 'Periodic access-restriction report for a month or a quarter',
    description:
      'Totals by outcome, denials and flags by rule with examples, top actors, sharing per agreement, disclosures, retention and erasure breaches, bulk access, and the integrity proof for the period. JSON, CSV or PDF; the `X-Content-SHA256` header is the SHA-256 of the body.',
    roles: ['auditor', 'privacy_officer', 'admin'],
    query: s.periodicReportQuery,
    response: s.periodicReport,
    files: true,
    audited: true,
    handler: async ({ query: q, scope, deps, deadline }) => {
      const generatedAt = deps.now();
      const off = deps.heavy
        ? await deps.heavy.periodicReport(
            deps.dir,
            { scope, period: q.period, tenantId: q.tenantId, generatedAt, format: q.format },
            deadline,
          )
        : undefined;
      const report =
        off?.report ??
        (await buildPeriodicReport(deps.db, deps.dir, deps.integrity, {
          period: q.period,
          scope,
          tenantId: q.tenantId,
          generatedAt,
        }));
      const examples = report.rules.reduce((n, r) => n + r.examples.length, 0) + report.disclosures.items.length;
      const subjects = new Set([
        ...report.rules.flatMap((r) => r.examples.map((e) => `${e.tenantId}\u0000${e.subjectId}`)),
        ...report.disclosures.items.map((i) => `${i.tenantId}\u0000${i.subject.id}`),
      ]).size;
      const audit = { tenantId: q.tenantId, recordCount: examples, subjects, attributes: { period: q.period, format: q.format } };
      const filename = `access-report-${q.period}-${safeName(q.tenantId ?? 'all')}.${q.format}`;
      const { from, to } = s.periodRange(q.period);
      const signed = { filename, from, to };
      if (q.format === 'json') return { json: report, audit, signed };
      const file = off?.file
        ? { ...off.file, body: Buffer.from(off.file.body), extension: q.format }
        : await renderReport(report, q.format, periodicReportCsv, periodicReportPdf);
      return { file: { ...file, filename }, audit, signed };
    },
  }),
  route({
    id: 'integrityVerify',
    cost: 10,
    heavy: true,
    path: '/v1/integrity/verify',
    summary: 'Verify the integrity of the decisions in a range',
    description:
      'The checkpoints covering the range and the result of recomputing the hash chain. Default range: the last 30 days.',
    roles: ['auditor', 'admin'],
    query: s.integrityQuery,
    response: s.integrityResponse,
    audited: true,
    handler: async ({ query: q, scope, deps, deadline }) => {
      const range = s.resolveRange(q, 30, deps.maxRangeDays, deps.now());
      const iq = { ...range, tenants: q.tenantId ? [q.tenantId] : scope.tenants };
      const { checkpoints, verification } = deps.heavy
        ? await deps.heavy.verify(iq, deadline)
        : await Promise.all([deps.integrity.listCheckpoints(iq), deps.integrity.verifyRange(iq)]).then(([c, v]) => ({
            checkpoints: c,
            verification: v,
          }));
      return {
        json: { range: rangeOut(range), checkpoints, verification },
        audit: { tenantId: q.tenantId, recordCount: 1, attributes: { ...rangeAttrs(range), verification: verification.status } },
      };
    },
  }),
  route({
    id: 'integrityProof',
    path: '/v1/integrity/proof',
    summary: 'Inclusion proof of one decision',
    description:
      'The stored decision’s canonical bytes, its RFC 9162 Merkle audit path and the signed checkpoint whose tree head it leads to: checkable offline with the public key (`custos verify --event` checks the same). 404 when no such decision is stored in the scope, 409 when it is not checkpointed yet.',
    roles: ['auditor', 'privacy_officer', 'admin'],
    query: integrityProofQuery,
    response: integrityProofResponse,
    audited: true,
    handler: async ({ query: q, scope, deps }) => {
      const proof = await deps.integrity.proof(q.eventId);
      if ('status' in proof) return { json: proof, audit: { recordCount: 0, attributes: { eventId: q.eventId } } };
      // Chains run across tenants: a decision outside the credential's tenants, or of a kind of row
      // its role may not see, does not exist for it.
      const tenants = tenantsOf(scope);
      if ((tenants !== '*' && !tenants.includes(proof.tenantId)) || !rowsOf(scope).has(proofRowKind(proof.record, scope)))
        throw new HttpError(404, `no stored decision has eventId ${q.eventId}`);
      return { json: proof, audit: { tenantId: proof.tenantId, recordCount: 1, attributes: { eventId: q.eventId } } };
    },
  }),
  route({
    id: 'integrityConsistency',
    path: '/v1/integrity/consistency',
    summary: 'Consistency proof between two signed heads',
    description:
      'The signed checkpoints that lead, chain by chain, from the earlier head’s checkpoint to the later head’s: the later head extends the earlier, no history was rewritten between them. Heads are named by the SHA-256 of their payload (default: the newest and the one before it). Checkable offline with the public key (`custos verify --consistency FROM..TO` prints and checks the same). Heads cover every tenant’s chains: credentials scoped to some tenants get 403.',
    roles: ['auditor', 'admin'],
    query: integrityConsistencyQuery,
    response: integrityConsistencyResponse,
    audited: true,
    handler: async ({ query: q, scope, deps }) => {
      if (tenantsOf(scope) !== '*')
        throw forbidden('consistency proofs cover every tenant’s chains: a credential for all tenants is needed');
      const r = deps.integrity.consistency
        ? await deps.integrity.consistency({ from: q.from, to: q.to })
        : { status: 'unavailable' as const, detail: 'this deployment offers no consistency proofs' };
      return { json: r, audit: { recordCount: 0, attributes: { from: q.from, to: q.to } } };
    },
  }),
  route({
    id: 'integrityKeys',
    path: '/v1/integrity/keys',
    summary: 'Public keys for verifying checkpoints, heads, proofs and reports',
    description: 'Every trusted Ed25519 public key (SPKI PEM) with its key id; older keys stay listed after a rotation.',
    roles: ALL,
    query: integrityKeysQuery,
    response: integrityKeysResponse,
    audited: true,
    handler: async ({ deps }) => {
      const keys = deps.integrity.keys();
      return { json: { keys }, audit: { recordCount: 0, attributes: {} } };
    },
  }),
  route({
    id: 'recordSubjectState',
    method: 'post',
    cost: 2,
    path: '/v1/subjects/:subjectId/state',
    summary: 'Record an opt-out, opt-in, erasure or legal hold for one subject',
    description:
      'The change goes through the SDK onto the subject-state topic, which the enforcer follows: accesses after `occurredAt` are judged with it. Answers 202 once the SDK took the change (spooled); the request is recorded on the audit trail (action `update`) before the change is sent. `GET` on the same path shows it once the sink has stored it.',
    roles: ['privacy_officer', 'admin'],
    query: subjectStatePostQuery,
    params: s.subjectPath,
    body: subjectStateBody,
    response: subjectStateAccepted,
    audited: true,
    handler: async ({ path, body, deps }) => {
      const writer = deps.subjectState;
      if (!writer) throw new HttpError(503, 'subject-state changes cannot be sent: no SDK client is configured');
      const { change } = prepareChange(path.subjectId, body, deps.now());
      return {
        status: 202,
        json: { ...change, status: 'accepted' },
        effect: async () => {
          await writer.recordSubjectState(change);
        },
        audit: {
          action: 'update',
          tenantId: change.tenantId,
          subject: { id: path.subjectId },
          recordCount: 1,
          attributes: { change: change.change, changeEventId: change.eventId, occurredAt: change.occurredAt },
        },
      };
    },
  }),
  route({
    id: 'subjectState',
    cost: 1,
    path: '/v1/subjects/:subjectId/state',
    summary: 'One subject’s consent and rights state, with its full history',
    description:
      'Per tenant, whether a promotional opt-out, an erasure or a legal hold is in force now (as the enforcer judges), and every change ever recorded, oldest first, from the store (the compacted topic keeps only the latest change per family).',
    roles: ['privacy_officer', 'admin'],
    query: subjectStateQuery,
    params: s.subjectPath,
    response: subjectStateResponse,
    audited: true,
    handler: async ({ query: q, path, scope, principal, deps }) => {
      requireSelection(principal, 'bySubject', 'subjectId');
      const state = await readSubjectState(deps.db, path.subjectId, tenantsOf(scope), deps.now());
      return {
        json: state,
        audit: {
          tenantId: q.tenantId,
          subject: { id: path.subjectId },
          tenantsTouched: q.tenantId ? undefined : state.current.map((c) => c.tenantId),
          recordCount: state.history.length,
          attributes: {},
        },
      };
    },
  }),
];
