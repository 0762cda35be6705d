-- The subject access report's read model: every decision once more, ordered by (tenant, subject)
-- WITHOUT the monthly partitioning of `decisions`, with small granules, and the columns the report
-- lists packed into one JSON text (`access`, JSONCompactEachRow of the API's ACCESS_COLUMNS, in that
-- order; services/api/src/db.ts reads it by position). Fed by a materialized view on every insert into
-- `decisions`, so it is exactly as fresh as `decisions`.
--
-- Why: a subject's ~50 rows span ~12 monthly partitions of `decisions`, and a point read there
-- decompresses one 8192-row granule per column (~25 columns) per partition: ~30 ms of CPU. Here it is
-- one granule of 1024 rows of 5 columns in one or a few parts: ~2–3 ms. Measured in docs/api-notes.md.
--
-- The key ends in the chain position like `decisions`' key, so a merge only collapses byte-identical
-- copies of one chain entry; the reader also drops repeated event ids, as it did on `decisions`.
-- tenant_id, subject_id, actor_id and decided_at are columns of their own because the retention TTL
-- and legal holds are expressions of them: retention.ts applies the same TTL to this table as to
-- `decisions`, so the report never shows a row `decisions` no longer holds.
CREATE TABLE IF NOT EXISTS {db}.subject_accesses
(
    tenant_id          LowCardinality(String),
    subject_id         String CODEC(ZSTD(1)),
    occurred_at        DateTime64(3, 'UTC') CODEC(Delta(8), ZSTD(1)),
    event_id           UUID CODEC(ZSTD(1)),
    kafka_partition    UInt16 CODEC(ZSTD(1)),
    chain_seq          UInt64 CODEC(ZSTD(1)),
    decided_at         DateTime64(3, 'UTC') CODEC(Delta(8), ZSTD(1)),
    actor_id           LowCardinality(String) CODEC(ZSTD(1)),
    -- a lawful disclosure to an authority (left out of the subject-facing report, DPDP §11(2))
    authority          Bool CODEC(ZSTD(1)),
    access             String CODEC(ZSTD(3))
)
ENGINE = ReplacingMergeTree
PRIMARY KEY (tenant_id, subject_id)
ORDER BY (tenant_id, subject_id, occurred_at, event_id, kafka_partition, chain_seq)
TTL toDateTime(decided_at) + toIntervalDay(365)
SETTINGS index_granularity = 1024;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.subject_accesses_mv TO {db}.subject_accesses AS
SELECT tenant_id, subject_id, occurred_at, event_id, kafka_partition, chain_seq, decided_at, actor_id,
       action = 'disclose' OR recipient_type = 'authority' AS authority,
       formatRowNoNewline('JSONCompactEachRow', event_id, tenant_id, occurred_at, decided_at, outcome, codes, reason_messages,
           basis, policy_version, actor_id, actor_type, subject_id, subject_type, categories, fields, action, purpose,
           recipient_id, recipient_type, legal_basis, data_collected_at, record_count, source_service) AS access
FROM {db}.decisions;

-- Backfill what `decisions` held before the view existed. Runs after the view is created, so nothing
-- inserted meanwhile is missed; a row stored by both is a byte-identical copy (see above). Re-running
-- after a failure only adds such copies.
INSERT INTO {db}.subject_accesses
SELECT tenant_id, subject_id, occurred_at, event_id, kafka_partition, chain_seq, decided_at, actor_id,
       action = 'disclose' OR recipient_type = 'authority' AS authority,
       formatRowNoNewline('JSONCompactEachRow', event_id, tenant_id, occurred_at, decided_at, outcome, codes, reason_messages,
           basis, policy_version, actor_id, actor_type, subject_id, subject_type, categories, fields, action, purpose,
           recipient_id, recipient_type, legal_basis, data_collected_at, record_count, source_service) AS access
FROM {db}.decisions
SETTINGS max_execution_time = 0;
