/**
 * The zod schemas of every route's input and output. The routes validate with them and the OpenAPI
 * document (/v1/openapi.json) is generated from them, so the two cannot drift apart.
 */
import { z } from 'zod';
import { RULE_CODES } from './directory.js';
import { HttpError } from './errors.js';

export const OUTCOMES = ['allow', 'flag', 'deny'] as const;
export const ACTIONS = ['read', 'create', 'update', 'delete', 'export', 'share', 'disclose'] as const;
export const FORMATS = ['json', 'csv', 'pdf'] as const;
export type Format = (typeof FORMATS)[number];

// Earliest and latest instants the API accepts (DateTime64 holds more; nothing real lies outside).
const MIN_TIME = Date.UTC(1970, 0, 1);
const MAX_TIME = Date.UTC(2200, 0, 1);

/** An id-like value: 1–256 printable characters. */
export const idParam = z
  .string()
  .min(1, 'must not be empty')
  .max(256, 'at most 256 characters')
  // Blank ids are refused here as the event contract refuses them: a read that names one could
  // not be recorded on the audit trail (and would answer 503 instead of 400).
  .regex(/\S/, 'must not be blank')
  .regex(/^[^\p{Cc}]+$/u, 'must not contain control characters');

export const timeParam = z.iso
  .datetime({ offset: true, message: 'must be an ISO-8601 date-time with a zone, e.g. 2026-10-01T00:00:00Z' })
  .refine((s) => {
    const t = Date.parse(s);
    return t >= MIN_TIME && t < MAX_TIME;
  }, 'must lie between 1970 and 2200')
  .transform((s) => new Date(s));

const limitParam = (max: number, dflt: number) =>
  z.coerce
    .number({ message: 'must be a number' })
    .int('must be an integer')
    .min(1, 'must be ≥ 1')
    .max(max, `must be ≤ ${max}`)
    .default(dflt);

const cursorParam = z
  .string()
  .max(200, 'at most 200 characters')
  .regex(/^[A-Za-z0-9_-]+$/, 'must be a cursor returned by a previous page')
  .describe('opaque cursor from the previous page’s `nextCursor`');

const range = {
  from: timeParam.optional().describe('inclusive start (ISO-8601); default depends on the route'),
  to: timeParam.optional().describe('exclusive end (ISO-8601); default now'),
};

const tenantParam = idParam.optional().describe('a tenant within the credential’s scope; default: the whole scope');

/** The purpose a caller states for a request (header `X-Purpose`, or query `requestPurpose`). */
export const requestPurposeParam = idParam.describe('why the audit data is read; a purpose of the policy bundle');

export const accessesQuery = z.strictObject({
  tenantId: tenantParam,
  subjectId: idParam.optional(),
  actorId: idParam.optional(),
  department: idParam.optional().describe('the actor’s department in the staff directory'),
  category: idParam.optional(),
  action: z.enum(ACTIONS).optional(),
  purpose: idParam.optional().describe('the purpose stated on the access event'),
  outcome: z.enum(OUTCOMES).optional(),
  code: z.enum(RULE_CODES).optional(),
  recipientId: idParam.optional(),
  recipientType: z
    .enum(['processor', 'third_party', 'authority'])
    .optional()
    .describe('the recipient’s type in the policy bundle (not the type the event claimed)'),
  ...range,
  limit: limitParam(500, 100),
  cursor: cursorParam.optional(),
  requestPurpose: requestPurposeParam.optional(),
});

export const subjectReportQuery = z.strictObject({
  tenantId: tenantParam,
  variant: z
    .enum(['full', 'subject'])
    .default('full')
    .describe('`subject`: the subject-facing report, without lawful disclosures to authorities (DPDP Act §11(2))'),
  format: z.enum(FORMATS).default('json'),
  ...range,
  requestPurpose: requestPurposeParam.optional(),
});

export const subjectPath = z.strictObject({ subjectId: idParam });
export const actorPath = z.strictObject({ actorId: idParam });

export const actorActivityQuery = z.strictObject({
  tenantId: tenantParam,
  ...range,
  limit: limitParam(500, 50).describe('how many of the most recent accesses to list'),
  requestPurpose: requestPurposeParam.optional(),
});

export const BUCKETS = ['hour', 'day', 'week', 'month'] as const;
export const violationsQuery = z.strictObject({
  tenantId: tenantParam,
  ...range,
  bucket: z.enum(BUCKETS).default('day'),
  top: limitParam(100, 10).describe('how many actors to list'),
  requestPurpose: requestPurposeParam.optional(),
});

export const sharingQuery = z.strictObject({
  tenantId: tenantParam,
  ...range,
  requestPurpose: requestPurposeParam.optional(),
});

export const disclosuresQuery = z.strictObject({
  tenantId: tenantParam,
  ...range,
  limit: limitParam(500, 100),
  cursor: cursorParam.optional(),
  requestPurpose: requestPurposeParam.optional(),
});

export const periodParam = z
  .string()
  .regex(/^\d{4}-(0[1-9]|1[0-2]|Q[1-4])$/, 'must be a month YYYY-MM or a quarter YYYY-Qn')
  .refine((p) => Number(p.slice(0, 4)) >= 1970 && Number(p.slice(0, 4)) < 2200, 'year must lie between 1970 and 2199');

export const periodicReportQuery = z.strictObject({
  period: periodParam,
  tenantId: tenantParam,
  format: z.enum(FORMATS).default('json'),
  requestPurpose: requestPurposeParam.optional(),
});

export const integrityQuery = z.strictObject({
  tenantId: tenantParam,
  ...range,
  requestPurpose: requestPurposeParam.optional(),
});

// ---------- outputs ----------

const party = z.object({ id: z.string(), type: z.string() });

export const accessItem = z.object({
  eventId: z.string(),
  tenantId: z.string(),
  occurredAt: z.string(),
  decidedAt: z.string(),
  outcome: z.enum(OUTCOMES),
  reasons: z.array(z.object({ code: z.string(), message: z.string() })),
  basis: z.array(z.string()),
  policyVersion: z.string(),
  actor: party.extend({ name: z.string(), department: z.string() }),
  subject: party,
  categories: z.array(z.string()),
  fields: z.array(z.string()),
  action: z.enum(ACTIONS),
  purpose: z.string(),
  recipient: party
    .extend({
      name: z.string(),
      claimedType: z.string().optional().describe('the type the event claimed, when the policy bundle says otherwise'),
    })
    .optional()
    .describe('`type` is the party’s type in the policy bundle (`unknown` for an id that is no party)'),
  legalBasis: z.string().optional(),
  dataCollectedAt: z.string().optional(),
  recordCount: z.number(),
  sourceService: z.string(),
});
export type AccessItem = z.infer<typeof accessItem>;

export const accessesPage = z.object({
  items: z.array(accessItem),
  nextCursor: z.string().nullable(),
  range: z.object({ from: z.string(), to: z.string() }),
});

export const errorBody = z.object({
  error: z.string(),
  details: z.array(z.object({ field: z.string(), message: z.string() })).optional(),
});

const counted = z.object({ count: z.number() });
export const byOutcome = z.object({ allow: z.number(), flag: z.number(), deny: z.number(), total: z.number() });

export const subjectReport = z.object({
  kind: z.literal('subject-access-report'),
  variant: z.enum(['full', 'subject']),
  organisation: z.string(),
  subject: z.object({ tenantId: z.string(), id: z.string(), types: z.array(z.string()) }),
  range: z.object({ from: z.string(), to: z.string() }),
  generatedAt: z.string(),
  policyVersions: z.array(z.string()),
  summary: byOutcome.extend({ firstAccess: z.string().nullable(), lastAccess: z.string().nullable() }),
  categories: z.array(counted.extend({ category: z.string() })),
  purposes: z.array(counted.extend({ purpose: z.string(), description: z.string() })),
  accessedBy: z.array(
    counted.extend({
      actor: z.object({ id: z.string().optional(), type: z.string(), name: z.string(), department: z.string() }),
      actions: z.array(z.string()),
      purposes: z.array(z.string()),
      categories: z.array(z.string()),
      lastAt: z.string(),
    }),
  ),
  sharedWith: z.array(
    counted.extend({
      party: z.object({ id: z.string(), name: z.string(), type: z.string() }),
      how: z.array(z.string()).describe('share, export, disclose, or processing (the party itself accessed the data)'),
      agreements: z.array(z.string()),
      categories: z.array(z.string()),
      purposes: z.array(z.string()),
      firstAt: z.string(),
      lastAt: z.string(),
    }),
  ),
  disclosures: z
    .array(
      z.object({
        eventId: z.string(),
        occurredAt: z.string(),
        authority: z.object({ id: z.string(), name: z.string(), type: z.string() }),
        legalBasis: z.string(),
        categories: z.array(z.string()),
        outcome: z.enum(OUTCOMES),
      }),
    )
    .optional()
    .describe('lawful disclosures to authorities; only in the full variant'),
  accesses: z.array(accessItem),
  accessesTruncated: z.boolean(),
  contentSha256: z.string(),
});
export type SubjectReport = z.infer<typeof subjectReport>;

export const actorActivity = z.object({
  actor: z.object({ id: z.string(), name: z.string(), department: z.string(), known: z.boolean() }),
  range: z.object({ from: z.string(), to: z.string() }),
  totals: byOutcome.extend({ distinctSubjects: z.number() }),
  byCode: z.array(counted.extend({ code: z.string() })),
  byCategory: z.array(counted.extend({ category: z.string() })),
  byPurpose: z.array(counted.extend({ purpose: z.string() })),
  byAction: z.array(counted.extend({ action: z.string() })),
  daily: z.array(byOutcome.extend({ day: z.string() })),
  recent: z.array(accessItem),
});

export const violationsSummary = z.object({
  range: z.object({ from: z.string(), to: z.string() }),
  bucket: z.enum(BUCKETS),
  totals: byOutcome,
  byCode: z.array(counted.extend({ code: z.string(), outcome: z.string() })),
  byDepartment: z.array(z.object({ department: z.string(), deny: z.number(), flag: z.number(), total: z.number() })),
  byActor: z.array(
    z.object({
      actorId: z.string(),
      name: z.string(),
      department: z.string(),
      deny: z.number(),
      flag: z.number(),
      total: z.number(),
    }),
  ),
  buckets: z.array(byOutcome.extend({ start: z.string() })),
});

export const sharingSummary = z.object({
  range: z.object({ from: z.string(), to: z.string() }),
  byAgreement: z.array(
    z.object({
      agreementId: z.string().nullable(),
      party: z.object({ id: z.string(), name: z.string(), type: z.string() }),
      allow: z.number(),
      flag: z.number(),
      deny: z.number(),
      total: z.number(),
      distinctSubjects: z.number(),
    }),
  ),
  byParty: z.array(
    z.object({
      party: z.object({ id: z.string(), name: z.string(), type: z.string() }),
      actions: z.array(z.string()),
      allow: z.number(),
      flag: z.number(),
      deny: z.number(),
      total: z.number(),
    }),
  ),
});

export const disclosureItem = z.object({
  eventId: z.string(),
  tenantId: z.string(),
  occurredAt: z.string(),
  authority: z.object({ id: z.string(), name: z.string(), type: z.string() }),
  legalBasis: z.string(),
  actor: z.object({ id: z.string(), name: z.string(), department: z.string() }),
  subject: party,
  categories: z.array(z.string()),
  outcome: z.enum(OUTCOMES),
  codes: z.array(z.string()),
});

export const disclosuresPage = z.object({
  range: z.object({ from: z.string(), to: z.string() }),
  byAuthority: z.array(
    z.object({
      authority: z.object({ id: z.string(), name: z.string() }),
      lawful: z.number(),
      withoutBasis: z.number(),
      total: z.number(),
    }),
  ),
  items: z.array(disclosureItem),
  nextCursor: z.string().nullable(),
});

export const checkpointInfo = z
  .object({ id: z.string(), from: z.string().optional(), to: z.string().optional() })
  .catchall(z.unknown())
  .describe('a signed checkpoint of the decisions hash chain, as the store lists it');

export const verificationResult = z
  .object({
    status: z.enum(['verified', 'failed', 'unavailable']),
    detail: z.string().optional(),
  })
  .catchall(z.unknown());

export const integrityResponse = z.object({
  range: z.object({ from: z.string(), to: z.string() }),
  checkpoints: z.array(checkpointInfo),
  verification: verificationResult,
});

export const periodicReport = z.object({
  kind: z.literal('access-restriction-report'),
  organisation: z.string(),
  period: z.object({ label: z.string(), from: z.string(), to: z.string() }),
  tenants: z.union([z.literal('*'), z.array(z.string())]),
  generatedAt: z.string(),
  policyVersions: z.array(z.string()),
  totals: byOutcome,
  rules: z.array(
    z.object({
      code: z.string(),
      outcome: z.enum(['deny', 'flag', 'note']).describe('`note`: recorded on the decision without changing its outcome'),
      count: z.number(),
      examples: z.array(
        z.object({
          eventId: z.string(),
          occurredAt: z.string(),
          tenantId: z.string(),
          actorId: z.string(),
          subjectId: z.string(),
          action: z.string(),
          purpose: z.string(),
          recipientId: z.string().optional(),
        }),
      ),
    }),
  ),
  topActors: z.array(
    z.object({
      actorId: z.string(),
      name: z.string(),
      department: z.string(),
      deny: z.number(),
      flag: z.number(),
      total: z.number(),
    }),
  ),
  sharing: sharingSummary.shape.byAgreement,
  disclosures: z.object({
    total: z.number(),
    byAuthority: disclosuresPage.shape.byAuthority,
    items: z.array(disclosureItem),
  }),
  retention: z.object({ retentionExpired: z.number(), subjectErased: z.number(), promotionalOptOut: z.number() }),
  bulkAccess: z.object({
    events: z.number(),
    actors: z.array(z.object({ actorId: z.string(), name: z.string(), events: z.number() })),
  }),
  integrity: z.object({ checkpoints: z.array(checkpointInfo), verification: verificationResult }),
  contentSha256: z.string().describe('SHA-256 of the canonical JSON of this report without this field'),
});
export type PeriodicReport = z.infer<typeof periodicReport>;

export const principalInfo = z.object({
  staffId: z.string(),
  name: z.string(),
  department: z.string(),
  role: z.string(),
  tenants: z.union([z.literal('*'), z.array(z.string())]),
  credential: z.string(),
  routes: z.array(z.string()),
  data: z
    .object({ rows: z.array(z.string()), select: z.array(z.string()), fields: z.array(z.string()) })
    .describe('what the role may see (access.ts ROLE_DATA): kinds of rows, selections, guarded fields'),
  purposes: z.array(z.object({ id: z.string(), description: z.string() })),
  directory: z.object({
    tenants: z.array(z.string()),
    departments: z.array(z.string()),
    categories: z.array(z.string()),
    codes: z.array(z.string()),
  }),
});

// ---------- ranges ----------

const DAY = 86_400_000;

export interface Range {
  from: Date;
  to: Date;
}

/**
 * Fills a range's defaults (to = now, from = to − defaultDays) and bounds it: from before to, no
 * longer than maxDays. Violations are a 400 naming the fields.
 */
export function resolveRange(
  q: { from?: Date | undefined; to?: Date | undefined },
  defaultDays: number,
  maxDays: number,
  now = new Date(),
): Range {
  const to = q.to ?? now;
  const from = q.from ?? new Date(Math.max(MIN_TIME, to.getTime() - defaultDays * DAY));
  if (from.getTime() >= to.getTime()) {
    throw new HttpError(400, 'invalid query: from, to', [{ field: 'from', message: 'must be before to' }]);
  }
  if (to.getTime() - from.getTime() > maxDays * DAY) {
    throw new HttpError(400, 'invalid query: from, to', [
      { field: 'from', message: `the range may span at most ${maxDays} days` },
    ]);
  }
  return { from, to };
}

/** `2026-10` → October 2026; `2026-Q4` → October–December 2026 (UTC). */
export function periodRange(period: string): Range & { label: string } {
  const year = Number(period.slice(0, 4));
  const rest = period.slice(5);
  if (rest.startsWith('Q')) {
    const q = Number(rest.slice(1));
    return { label: period, from: new Date(Date.UTC(year, (q - 1) * 3, 1)), to: new Date(Date.UTC(year, q * 3, 1)) };
  }
  const m = Number(rest);
  return { label: period, from: new Date(Date.UTC(year, m - 1, 1)), to: new Date(Date.UTC(year, m, 1)) };
}

/** The last complete period before `now`: the previous month or quarter. */
export function previousPeriod(kind: 'month' | 'quarter', now = new Date()): string {
  const y = now.getUTCFullYear();
  const m = now.getUTCMonth();
  if (kind === 'month') {
    const d = new Date(Date.UTC(y, m - 1, 1));
    return `${d.getUTCFullYear()}-${String(d.getUTCMonth() + 1).padStart(2, '0')}`;
  }
  const q = Math.floor(m / 3);
  return q === 0 ? `${y - 1}-Q4` : `${y}-Q${q}`;
}
