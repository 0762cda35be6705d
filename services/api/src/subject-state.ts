/**
 * Subject state for privacy officers: record an opt-out, opt-in, erasure or legal hold (it goes
 * through the SDK onto the `subject-state` topic, which the enforcer follows), and read a subject's
 * current state with its full history (from the store: the compacted topic keeps only the latest
 * change per family). The routes are in routes.ts; this file holds their schemas and logic.
 */
import { SubjectStateStore } from '@custos/policy';
import { type SubjectStateChange, subjectStateChangeSchema } from '@custos/schemas';
import { uuidv7 } from '@custos/sdk';
import { type StoredSubjectStateRow, type SubjectStateRaw, subjectStateHistoryQuery, subjectStateRow } from '@custos/store';
import { z } from 'zod';
import type { AuditDb } from './db.js';
import { HttpError } from './errors.js';
import { idParam, requestPurposeParam, timeParam } from './schemas.js';

/** What the API asks of the SDK client: send one change (validated synchronously, as `record`). */
export interface SubjectStateWriter {
  recordSubjectState(change: {
    eventId: string;
    occurredAt: string;
    tenantId: string;
    subjectId: string;
    change: SubjectStateChange['change'];
    reference?: string | null;
  }): unknown;
}

export const SUBJECT_CHANGES = subjectStateChangeSchema.shape.change.options;

/** A change may be dated back (an erasure completed yesterday) but not ahead of the clock by more than this. */
const MAX_FUTURE_MS = 5 * 60_000;

export const subjectStateBody = z.strictObject({
  tenantId: idParam.describe('the subject’s tenant; within the credential’s scope'),
  change: z.enum(SUBJECT_CHANGES, { message: `must be one of ${SUBJECT_CHANGES.join(', ')}` }),
  occurredAt: timeParam.optional().describe('when the change took effect; default: now. Not in the future.'),
  reference: z
    .string()
    .max(1000, 'at most 1000 characters')
    .regex(/^[^\p{Cc}]*$/u, 'must not contain control characters')
    .optional()
    .describe('why, or the request it answers (a ticket, a court order)'),
});
export type SubjectStateBody = z.infer<typeof subjectStateBody>;

export const subjectStatePostQuery = z.strictObject({ requestPurpose: requestPurposeParam.optional() });

export const subjectStateQuery = z.strictObject({
  tenantId: idParam.optional().describe('the subject’s tenant; default: every tenant in the credential’s scope'),
  requestPurpose: requestPurposeParam.optional(),
});

const changeItem = z.object({
  eventId: z.string(),
  tenantId: z.string(),
  subjectId: z.string(),
  change: z.enum(SUBJECT_CHANGES),
  occurredAt: z.string(),
  reference: z.string().nullable(),
});

export const subjectStateAccepted = changeItem.extend({
  status: z.literal('accepted').describe('sent through the SDK onto the subject-state topic'),
});

const stateOf = z.object({
  tenantId: z.string(),
  optedOut: z.boolean().describe('promotional opt-out in force'),
  erased: z.boolean(),
  legalHold: z.boolean(),
  /** the deciding change of each, when in force */
  since: z.object({
    optedOut: z.string().nullable(),
    erased: z.string().nullable(),
    legalHold: z.string().nullable(),
  }),
});

export const subjectStateResponse = z.object({
  subjectId: z.string(),
  asOf: z.string(),
  current: z.array(stateOf).describe('per tenant with any recorded change'),
  history: z.array(changeItem.extend({ partition: z.number(), offset: z.string(), storedAt: z.string() })),
});
export type SubjectStateResponse = z.infer<typeof subjectStateResponse>;

/** Validates and sends one change; its eventId is the API's. */
export function prepareChange(
  subjectId: string,
  body: SubjectStateBody,
  now: Date,
): { change: z.infer<typeof changeItem> & { reference: string | null } } {
  const at = body.occurredAt ?? now;
  if (at.getTime() > now.getTime() + MAX_FUTURE_MS) {
    throw new HttpError(400, 'invalid body: occurredAt', [{ field: 'occurredAt', message: 'must not be in the future' }]);
  }
  return {
    change: {
      eventId: uuidv7(),
      tenantId: body.tenantId,
      subjectId,
      change: body.change,
      occurredAt: at.toISOString(),
      reference: body.reference ?? null,
    },
  };
}

/** The current state per tenant (as the enforcer would judge an access now) and the whole history. */
export async function readSubjectState(
  db: Pick<AuditDb, 'store' | 'rows'>,
  subjectId: string,
  tenants: '*' | readonly string[],
  now: Date,
): Promise<SubjectStateResponse> {
  const { sql, params } = subjectStateHistoryQuery(db.store, { subjectId, tenants });
  // the query's limits and their answers (503, 422) are the other reads'
  const rows = (await db.rows<SubjectStateRaw>(sql, params, undefined, { point: true })).map(subjectStateRow);
  return { subjectId, asOf: now.toISOString(), current: currentState(rows, now), history: rows.map(historyItem) };
}

function historyItem(r: StoredSubjectStateRow): SubjectStateResponse['history'][number] {
  return {
    eventId: r.eventId,
    tenantId: r.tenantId,
    subjectId: r.subjectId,
    change: r.change as SubjectStateChange['change'],
    occurredAt: r.occurredAt,
    reference: r.reference,
    partition: r.partition,
    offset: r.offset,
    storedAt: r.storedAt,
  };
}

/** Applies the history with the evaluator's own store, so "current" means what the rules read. */
export function currentState(rows: readonly StoredSubjectStateRow[], now: Date): SubjectStateResponse['current'] {
  const store = new SubjectStateStore();
  const tenants = new Set<string>();
  for (const r of rows) {
    tenants.add(r.tenantId);
    store.apply({
      eventId: r.eventId,
      occurredAt: r.occurredAt,
      tenantId: r.tenantId,
      subjectId: r.subjectId,
      change: r.change as SubjectStateChange['change'],
      reference: r.reference,
    });
  }
  const t = now.getTime();
  const iso = (c: { at: number } | undefined) => (c ? new Date(c.at).toISOString() : null);
  return [...tenants].sort().map((tenantId) => {
    const h = store.get(tenantId, rows[0]?.subjectId ?? '');
    const optedOut = h?.optedOut(t);
    const erased = h?.erased(t);
    const legalHold = h?.legalHold(t);
    return {
      tenantId,
      optedOut: optedOut !== undefined,
      erased: erased !== undefined,
      legalHold: legalHold !== undefined,
      since: { optedOut: iso(optedOut), erased: iso(erased), legalHold: iso(legalHold) },
    };
  });
}
