/**
 * The API's handle on the decisions table: the reads themselves are @custos/store's (queries.ts, one
 * declaration for the API, the CLI and the benchmarks); here a refused read becomes an HTTP answer
 * and a row becomes an access item in the bundle's words.
 */
import { type AccessRow, DecisionReads, decodeCursor as decodeStoreCursor, isoTime, type RefusalKind } from '@custos/store';
import { type Directory, partyType } from './directory.js';
import { HttpError } from './errors.js';
import type { AccessItem } from './schemas.js';

export {
  ACCESS_COLUMNS,
  ACCESS_FIELDS,
  type AccessRow,
  accessRowsFromPacked,
  chDate as chTime,
  DEFAULT_MAX_BYTES_READ,
  DEFAULT_MAX_MEMORY_BYTES,
  encodeCursor,
  PACKED_ACCESS,
  type Params,
  type QueryLimits,
  T,
  Where,
} from '@custos/store';

/** A DateTime64 value as ClickHouse returns it (`2026-10-01 00:00:00.000`) → ISO-8601 UTC. */
export const isoFromCh = isoTime;

/** The decisions table with the API's limits; a refused read is a 503 (too slow) or a 422 (too large). */
export class AuditDb extends DecisionReads {
  protected override refuse(kind: RefusalKind): Error {
    if (kind === 'timeout') {
      return new HttpError(503, 'the query took too long; narrow the time range or add filters', undefined, {
        'Retry-After': '5',
      });
    }
    if (kind === 'too_large') {
      return new HttpError(
        422,
        'the result is too large, or the query would read too much; narrow the time range or add filters',
      );
    }
    return new HttpError(422, 'the query needs more memory than a request may take; narrow the time range or add filters');
  }
}

export function decodeCursor(cursor: string): { occurredAt: string; eventId: string } {
  const c = decodeStoreCursor(cursor);
  if (!c)
    throw new HttpError(400, 'invalid query: cursor', [
      { field: 'cursor', message: 'must be a cursor returned by a previous page' },
    ]);
  return c;
}

export function accessFromRow(r: AccessRow, dir: Directory): AccessItem {
  // Keys in sorted order, so a report's canonical JSON is the engine's JSON.stringify (report/render.ts).
  const item: AccessItem = {
    action: r.action,
    actor: { department: dir.department(r.actor_id), id: r.actor_id, name: dir.actorName(r.actor_id), type: r.actor_type },
    basis: r.basis,
    categories: r.categories,
    decidedAt: isoTime(r.decided_at),
    eventId: r.event_id,
    fields: r.fields,
    occurredAt: isoTime(r.occurred_at),
    outcome: r.outcome,
    policyVersion: r.policy_version,
    purpose: r.purpose,
    reasons: r.codes.map((code, i) => ({ code, message: r.reason_messages[i] ?? '' })),
    recordCount: Number(r.record_count),
    sourceService: r.source_service,
    subject: { id: r.subject_id, type: r.subject_type },
    tenantId: r.tenant_id,
  };
  if (!r.recipient_id && !r.legal_basis && !r.data_collected_at) return item;
  const more: Partial<AccessItem> = {};
  if (r.recipient_id) {
    // The bundle says what a party is; the type the event claimed is kept beside it when it differs.
    const type = partyType(dir, r.recipient_id);
    more.recipient =
      r.recipient_type !== type
        ? { claimedType: r.recipient_type, id: r.recipient_id, name: dir.actorName(r.recipient_id), type }
        : { id: r.recipient_id, name: dir.actorName(r.recipient_id), type };
  }
  if (r.legal_basis) more.legalBasis = r.legal_basis;
  if (r.data_collected_at) more.dataCollectedAt = isoTime(r.data_collected_at);
  return Object.fromEntries(Object.entries({ ...item, ...more }).sort(([a], [b]) => (a < b ? -1 : 1))) as AccessItem;
}
