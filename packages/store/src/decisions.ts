/** Decision rows: the mapping between the Decision JSON form and the decisions table. */
import type { Decision } from '@custos/schemas';
import type { Store } from './client.js';

export interface DecisionRow {
  tenant_id: string;
  event_id: string;
  occurred_at: string;
  decided_at: string;
  outcome: Decision['outcome'];
  codes: string[];
  reason_messages: string[];
  basis: string[];
  policy_version: string;
  actor_id: string;
  actor_type: string;
  subject_id: string;
  subject_type: string;
  categories: string[];
  fields: string[];
  action: string;
  purpose: string;
  recipient_id: string;
  recipient_type: string;
  legal_basis: string;
  data_collected_at: string | null;
  record_count: number;
  source_service: string;
  source_request_id: string;
  source_trace_id: string;
  source_ip: string;
  attributes: Record<string, string>;
  kafka_partition: number;
  kafka_offset: string;
}

/** ClickHouse DateTime64 text form (no `T`/`Z`), read as UTC by the column's time zone. */
export function chTime(iso: string): string {
  return iso.replace('T', ' ').replace('Z', '');
}

export function toRow(d: Decision, partition: number, offset: string): DecisionRow {
  const e = d.event;
  return {
    tenant_id: e.tenantId,
    event_id: d.eventId,
    occurred_at: chTime(new Date(e.occurredAt).toISOString()),
    decided_at: chTime(new Date(d.decidedAt).toISOString()),
    outcome: d.outcome,
    codes: d.reasons.map((r) => r.code),
    reason_messages: d.reasons.map((r) => r.message),
    basis: d.basis,
    policy_version: d.policyVersion,
    actor_id: e.actor.id,
    actor_type: e.actor.type,
    subject_id: e.subject.id,
    subject_type: e.subject.type,
    categories: e.categories,
    fields: e.fields ?? [],
    action: e.action,
    purpose: e.purpose,
    recipient_id: e.recipient?.id ?? '',
    recipient_type: e.recipient?.type ?? '',
    legal_basis: e.legalBasis ?? '',
    data_collected_at: e.dataCollectedAt ? chTime(new Date(e.dataCollectedAt).toISOString()) : null,
    record_count: e.recordCount ?? 1,
    source_service: e.source.service,
    source_request_id: e.source.requestId ?? '',
    source_trace_id: e.source.traceId ?? '',
    source_ip: e.source.ip ?? '',
    attributes: e.attributes ?? {},
    kafka_partition: partition,
    kafka_offset: offset,
  };
}

/**
 * Inserts rows; `dedupToken` (e.g. topic-partition-firstOffset-lastOffset) makes a retried or
 * re-delivered batch a no-op.
 */
export async function insertDecisions(store: Store, rows: DecisionRow[], dedupToken?: string): Promise<void> {
  if (rows.length === 0) return;
  await store.client.insert({
    table: store.table('decisions'),
    values: rows,
    format: 'JSONEachRow',
    clickhouse_settings: dedupToken ? { insert_deduplication_token: dedupToken } : {},
  });
}
