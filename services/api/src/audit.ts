/**
 * Every read of audit data is itself an access event (category `audit.trail`), recorded through the
 * SDK and judged by the enforcer like any other: the watchers are watched. The API depends only on
 * this small interface; `main.ts` and `custos start` pass the SDK client, tests pass a recorder that
 * keeps the events.
 */
import { parseAccessEvent, parseSubjectStateChange, type SubjectStateChange } from '@custos/schemas';
import type { Principal } from './auth.js';

/** What the API records: the access-event contract's JSON form, SDK-filled fields left out. */
export interface AuditEventInput {
  eventId?: string;
  occurredAt?: string;
  tenantId: string;
  actor: { id: string; type: 'staff' };
  subject: { id: string; type: 'customer' | 'user' | 'employee' | 'client_contact' };
  categories: string[];
  action: 'read' | 'export' | 'update';
  purpose: string;
  recordCount?: number;
  source?: { service?: string; requestId?: string | null; ip?: string | null };
  attributes?: Record<string, string>;
}

/**
 * Records one event. Must validate synchronously and not wait for the network; throwing means the
 * event could not be accepted, and the API then refuses to serve the data (503).
 */
export interface AuditRecorder {
  record(event: AuditEventInput): unknown;
}

/** A recorder that keeps events in memory and checks each against the contract (for tests). */
export class MemoryRecorder implements AuditRecorder {
  readonly events: AuditEventInput[] = [];
  fail = false;
  record(event: AuditEventInput): void {
    if (this.fail) throw new Error('recorder unavailable');
    const full = {
      eventId: '00000000-0000-7000-8000-000000000000',
      occurredAt: new Date().toISOString(),
      ...event,
      source: { service: 'custos-api', ...event.source },
    };
    const r = parseAccessEvent(full);
    if (!r.ok) throw new Error(`invalid audit event: ${r.errors.map((e) => `${e.path}: ${e.message}`).join('; ')}`);
    this.events.push(event);
  }

  /** subject-state changes sent (`POST /v1/subjects/:id/state`), checked against the contract */
  readonly changes: SubjectStateChange[] = [];
  recordSubjectState(change: SubjectStateChange): void {
    if (this.fail) throw new Error('recorder unavailable');
    const r = parseSubjectStateChange(change);
    if (!r.ok) throw new Error(`invalid subject-state change: ${r.errors.map((e) => `${e.path}: ${e.message}`).join('; ')}`);
    this.changes.push(r.value);
  }
}

export const AUDIT_CATEGORY = 'audit.trail';
/** The subject id recorded when a read spans many subjects (a search, a summary, a report). */
export const MANY_SUBJECTS = '*';

export interface AuditContext {
  principal: Principal;
  purpose: string;
  /** the server's id of the request */
  requestId: string;
  /** the X-Request-Id the client sent, if any: kept, marked as the client's, never used as the id */
  clientRequestId?: string | undefined;
  ip?: string | undefined;
  route: string;
}

/** The tenants to record for a read: the one queried, else each of the credential's, else `*`. */
export function auditTenants(principal: Principal, tenantId: string | undefined): string[] {
  if (tenantId) return [tenantId];
  if (principal.tenants === '*') return ['*'];
  return principal.tenants.length ? principal.tenants : ['*'];
}

const clip = (s: string, n = 512) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);

export function auditEvents(
  ctx: AuditContext,
  what: {
    tenantId?: string | undefined;
    subject?: { id: string; type?: string | undefined } | undefined;
    /** see RouteResult.audit.tenantsTouched */
    tenantsTouched?: string[] | undefined;
    action: 'read' | 'export' | 'update';
    recordCount: number;
    /** distinct subjects in the answer, when known */
    subjects?: number | undefined;
    /** the read's selection (query parameters) */
    filters?: string | undefined;
    attributes: Record<string, string | undefined>;
  },
): AuditEventInput[] {
  const attributes: Record<string, string> = {
    route: ctx.route,
    credential: ctx.principal.credentialId,
    role: ctx.principal.role,
  };
  if (ctx.clientRequestId) attributes.clientRequestId = ctx.clientRequestId;
  if (what.subjects !== undefined) attributes.subjects = String(what.subjects);
  if (what.filters) attributes.filters = clip(what.filters);
  for (const [k, v] of Object.entries(what.attributes)) if (v !== undefined && v !== '') attributes[k] = clip(v);
  const subjectType =
    (['customer', 'user', 'employee', 'client_contact'] as const).find((t) => t === what.subject?.type) ?? 'customer';
  // A read of one subject across tenants is recorded under each tenant it touched (so it shows in
  // that subject's own report); anything else under the tenant queried or the credential's scope.
  const tenants =
    what.subject !== undefined &&
    what.tenantId === undefined &&
    what.tenantsTouched !== undefined &&
    what.tenantsTouched.length > 0
      ? what.tenantsTouched
      : auditTenants(ctx.principal, what.tenantId);
  return tenants.map((tenantId) => ({
    tenantId,
    actor: { id: ctx.principal.staffId, type: 'staff' },
    subject: { id: what.subject?.id ?? MANY_SUBJECTS, type: subjectType },
    categories: [AUDIT_CATEGORY],
    action: what.action,
    purpose: ctx.purpose,
    recordCount: Math.max(1, Math.min(what.recordCount, 2_147_483_647)),
    source: { service: 'custos-api', requestId: ctx.requestId, ...(ctx.ip ? { ip: ctx.ip } : {}) },
    attributes,
  }));
}
