/**
 * Fills the decisions table with synthetic decisions inside ClickHouse (INSERT … SELECT … FROM
 * numbers(N)): ~300 days up to mid-November 2026, three tenants, 200 000 subjects, the example
 * bundle's staff and processors, 90 % allowed, 7 % denied, 3 % flagged, with shares under
 * agreements and disclosures to an authority.
 */
import type { Store } from '@custos/store';

export const BENCH_START = '2026-01-20 00:00:00';
export const BENCH_SUBJECTS = 200_000;

export async function generateDecisions(store: Store, rows: number, batch = 2_000_000): Promise<void> {
  const t = store.table('decisions');
  const spanMs = 300 * 86_400_000;
  const stepMs = Math.floor(spanMs / rows);
  for (let offset = 0; offset < rows; offset += batch) {
    const n = Math.min(batch, rows - offset);
    await store.client.command({
      query: `INSERT INTO ${t} (tenant_id, event_id, occurred_at, decided_at, outcome, codes, reason_messages, basis, policy_version,
        actor_id, actor_type, subject_id, subject_type, categories, fields, action, purpose, recipient_id, recipient_type, legal_basis,
        data_collected_at, record_count, source_service, source_request_id, source_trace_id, source_ip, attributes, kafka_partition, kafka_offset,
        chain_seq, chain_hash)
      SELECT
        ['spera', 'spera', 'spera', 'client-acme', 'client-acme', 'client-globex'][1 + (n % 6)] AS tenant_id,
        generateUUIDv4(n) AS event_id,
        addMilliseconds(toDateTime64('${BENCH_START}', 3, 'UTC'), n * ${stepMs}) AS occurred_at,
        addMilliseconds(occurred_at, 40) AS decided_at,
        CAST(multiIf(r < 90, 'allow', r < 97, 'deny', 'flag') AS Enum8('allow' = 1, 'flag' = 2, 'deny' = 3)) AS outcome,
        multiIf(r < 90, [], r < 97, [['ROLE_NOT_AUTHORIZED', 'PURPOSE_NOT_PERMITTED', 'NO_AGREEMENT', 'RETENTION_EXPIRED', 'SUBJECT_ERASED', 'TENANT_NOT_ASSIGNED', 'PROMOTIONAL_OPT_OUT'][1 + (r % 7)]],
                r < 99, ['BULK_ACCESS'], ['LEGAL_DISCLOSURE']) AS codes,
        arrayMap(c -> concat(c, ': synthetic'), codes) AS reason_messages,
        multiIf(r >= 90, [], a = 2, ['G-SUP-2', 'AG-HELPDESKLY-2024'], a = 3, ['AG-POSTBIRD-2024'], ['G-SUP-1']) AS basis,
        'spera-2026.11.1+sha256:bench' AS policy_version,
        multiIf(r >= 99, 's-dev', a = 3, 'p-postbird', ['s-asha', 's-vikram', 's-meera', 's-rohan', 's-priya', 's-arjun', 's-kavya', 's-neha', 's-left', 's-intern'][1 + (h % 10)]) AS actor_id,
        CAST(if(a = 3 AND r < 99, 'processor', 'staff') AS Enum8('staff' = 1, 'processor' = 2)) AS actor_type,
        concat('cust-', toString(cityHash64(n, 7) % ${BENCH_SUBJECTS})) AS subject_id,
        CAST('customer' AS Enum8('customer' = 1, 'user' = 2, 'employee' = 3, 'client_contact' = 4)) AS subject_type,
        [['personal.contact', 'personal.identity', 'client.customer', 'client.financial', 'usage.activity'][1 + (h % 5)]] AS categories,
        ['email'] AS fields,
        CAST(multiIf(r >= 99, 'disclose', a = 2, 'share', 'read') AS Enum8('read' = 1, 'create' = 2, 'update' = 3, 'delete' = 4, 'export' = 5, 'share' = 6, 'disclose' = 7)) AS action,
        multiIf(r >= 99, 'legal.compliance', a = 3, 'communication.notices', 'service.support') AS purpose,
        multiIf(r >= 99, 'a-kolkata-police', a = 2, 'p-helpdeskly', '') AS recipient_id,
        multiIf(r >= 99, 'authority', a = 2, 'processor', '') AS recipient_type,
        if(r >= 99, 'court-order:KOL-2026-0042', '') AS legal_basis,
        NULL AS data_collected_at,
        if(r >= 97 AND r < 99, 900, 1) AS record_count,
        'crm' AS source_service, '' AS source_request_id, '' AS source_trace_id, '' AS source_ip, map() AS attributes,
        toUInt16(n % 6) AS kafka_partition, n AS kafka_offset, n + 1 AS chain_seq, repeat('0', 64) AS chain_hash
      FROM (SELECT number + ${offset} AS n, cityHash64(number + ${offset}, 1) % 100 AS r, cityHash64(number + ${offset}, 2) % 20 AS a, cityHash64(number + ${offset}, 3) AS h
            FROM numbers(${n}))`,
      clickhouse_settings: { max_execution_time: 0, max_insert_threads: '2' },
    });
  }
}

export async function countDecisions(store: Store): Promise<number> {
  const rs = await store.client.query({ query: `SELECT count() AS n FROM ${store.table('decisions')}`, format: 'JSONEachRow' });
  const [row] = await rs.json<{ n: number | string }>();
  return Number(row?.n ?? 0);
}
