/**
 * The v1 contract (docs/contract.md) = the structure generated from the Avro schemas plus
 * the rules Avro cannot say: non-empty ids, at least one category, recordCount ≥ 1, a recipient for
 * share and disclose. Parsers return a result value; invalid input is an ordinary outcome here.
 */
import { z } from 'zod';
import { type AccessEventV1, accessEventV1Base, type SubjectStateChangeV1, subjectStateChangeV1Base } from './generated.js';

const nonEmpty = z.string().trim().min(1, 'must not be empty');

export const accessEventSchema = accessEventV1Base
  .extend({
    tenantId: nonEmpty,
    actor: accessEventV1Base.shape.actor.extend({ id: nonEmpty }),
    subject: accessEventV1Base.shape.subject.extend({ id: nonEmpty }),
    categories: z.array(nonEmpty).min(1, 'at least one category is required'),
    purpose: nonEmpty,
    recordCount: z.number().int().min(1, 'must be an integer ≥ 1').max(2_147_483_647).optional(),
    source: accessEventV1Base.shape.source.extend({ service: nonEmpty }),
  })
  .superRefine((e, ctx) => {
    if ((e.action === 'share' || e.action === 'disclose') && (e.recipient === undefined || e.recipient === null)) {
      ctx.addIssue({ code: 'custom', path: ['recipient'], message: `required when action is ${e.action}` });
    }
  });

export const subjectStateChangeSchema = subjectStateChangeV1Base.extend({
  tenantId: nonEmpty,
  subjectId: nonEmpty,
});

/**
 * The largest access-event record (framed Avro, as on the topic) the pipeline accepts. The decision
 * embeds its event, so a larger one would make a decision beyond Kafka's default 1 MiB message limit:
 * the SDK refuses it in record(), the enforcer dead-letters it (step `validate`).
 */
export const MAX_ACCESS_EVENT_BYTES = 900 * 1024;

/** A validated access event with times in canonical form (UTC, milliseconds) and defaults filled. */
export type AccessEvent = AccessEventV1 & { recordCount: number };
export type SubjectStateChange = SubjectStateChangeV1;

export interface FieldError {
  /** dotted path of the offending field, e.g. `actor.id`; empty for the whole record */
  path: string;
  message: string;
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; errors: FieldError[] };

/** Canonical UTC form; a timestamp without a zone is read as UTC. */
export function canonicalTime(s: string): string {
  const hasZone = /(Z|[+-]\d{2}:?\d{2})$/i.test(s);
  return new Date(hasZone ? s : `${s}Z`).toISOString();
}

function toErrors(error: z.ZodError): FieldError[] {
  return error.issues.map((i) => ({ path: i.path.map(String).join('.'), message: i.message }));
}

export function parseAccessEvent(input: unknown): Parsed<AccessEvent> {
  const r = accessEventSchema.safeParse(input);
  if (!r.success) return { ok: false, errors: toErrors(r.error) };
  const e = r.data;
  const value: AccessEvent = { ...e, occurredAt: canonicalTime(e.occurredAt), recordCount: e.recordCount ?? 1 };
  if (e.dataCollectedAt !== undefined && e.dataCollectedAt !== null) value.dataCollectedAt = canonicalTime(e.dataCollectedAt);
  return { ok: true, value };
}

export function parseSubjectStateChange(input: unknown): Parsed<SubjectStateChange> {
  const r = subjectStateChangeSchema.safeParse(input);
  if (!r.success) return { ok: false, errors: toErrors(r.error) };
  return { ok: true, value: { ...r.data, occurredAt: canonicalTime(r.data.occurredAt) } };
}

/** Thrown by APIs that cannot return a result value (e.g. the SDK's record()); names every bad field. */
export class ValidationError extends Error {
  readonly retriable = false;
  constructor(
    readonly what: string,
    readonly errors: FieldError[],
  ) {
    super(`invalid ${what}: ${errors.map((e) => `${e.path || '(record)'}: ${e.message}`).join('; ')}`);
    this.name = 'ValidationError';
  }
}
