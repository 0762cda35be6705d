-- The search's read model (`/v1/accesses`, newest first): every decision once more, ordered by tenant
-- and time, so that a page of the newest matches is read from the end of one key range and the read
-- stops once the page is full (optimize_read_in_order) — instead of `decisions FINAL`, which is
-- ordered by subject and merges every row of the range. docs/decisions/search-read-model.md has the
-- alternatives measured.
--
-- Rows: the same packed `access` as subject_accesses_v2 (migration 0005, one row encoding for both
-- read models), plus, as columns of their own, what the search filters on (actor, subject, outcome,
-- codes, categories, action, purpose, recipient) and what the role filter needs (actor_type). No skip
-- indexes: read newest first, they cost more than they skip (measured in the decision record). A
-- plain MergeTree, not partitioned: the reader drops repeated event ids (a stored copy is
-- identical) as the subject report's reader does, so no FINAL. Small granules: a page reads a few.
--
-- Retention: retention.ts applies the same TTL and legal holds as to `decisions`.
CREATE TABLE IF NOT EXISTS {db}.accesses_by_time
(
    tenant_id          LowCardinality(String),
    occurred_at        DateTime64(3, 'UTC') CODEC(Delta(8), ZSTD(1)),
    event_id           UUID CODEC(ZSTD(1)),
    -- decided_at − occurred_at in ms
    decided_lag_ms     Int64 CODEC(T64, ZSTD(1)),
    decided_at         DateTime64(3, 'UTC') ALIAS occurred_at + toIntervalMillisecond(decided_lag_ms),
    actor_id           LowCardinality(String) CODEC(ZSTD(1)),
    actor_type         Enum8('staff' = 1, 'processor' = 2) CODEC(ZSTD(1)),
    subject_id         String CODEC(ZSTD(3)),
    outcome            Enum8('allow' = 1, 'flag' = 2, 'deny' = 3) CODEC(ZSTD(1)),
    codes              Array(LowCardinality(String)) CODEC(ZSTD(1)),
    categories         Array(LowCardinality(String)) CODEC(ZSTD(1)),
    action             Enum8('read' = 1, 'create' = 2, 'update' = 3, 'delete' = 4, 'export' = 5, 'share' = 6, 'disclose' = 7) CODEC(ZSTD(1)),
    purpose            LowCardinality(String) CODEC(ZSTD(1)),
    recipient_id       LowCardinality(String) CODEC(ZSTD(1)),
    -- the sharding key of the cluster variant
    kafka_partition    UInt16 CODEC(ZSTD(1)),
    -- JSONCompactEachRow of READ_MODEL_PACKED_COLUMNS (packages/store/src/read-model.ts), as in 0005
    access             String CODEC(ZSTD(3))
)
ENGINE = MergeTree
ORDER BY (tenant_id, occurred_at, event_id)
TTL toDateTime(occurred_at + toIntervalMillisecond(decided_lag_ms), 'UTC') + toIntervalDay(365)
SETTINGS index_granularity = 1024;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.accesses_by_time_mv TO {db}.accesses_by_time AS
SELECT tenant_id, occurred_at, event_id,
       toUnixTimestamp64Milli(decided_at) - toUnixTimestamp64Milli(occurred_at) AS decided_lag_ms,
       actor_id, actor_type, subject_id, outcome, codes, categories, action, purpose, recipient_id, kafka_partition,
       formatRowNoNewline('JSONCompactEachRow', outcome, codes, reason_messages, basis, policy_version, actor_type,
           subject_type, categories, fields, action, purpose, recipient_id, recipient_type, legal_basis,
           data_collected_at, record_count, source_service) AS access
FROM {db}.decisions;

-- Backfill what `decisions` held before the view existed (after the view is created, so nothing
-- inserted meanwhile is missed; a row stored by both is an identical copy, which the reader drops).
INSERT INTO {db}.accesses_by_time
SELECT tenant_id, occurred_at, event_id,
       toUnixTimestamp64Milli(decided_at) - toUnixTimestamp64Milli(occurred_at) AS decided_lag_ms,
       actor_id, actor_type, subject_id, outcome, codes, categories, action, purpose, recipient_id, kafka_partition,
       formatRowNoNewline('JSONCompactEachRow', outcome, codes, reason_messages, basis, policy_version, actor_type,
           subject_type, categories, fields, action, purpose, recipient_id, recipient_type, legal_basis,
           data_collected_at, record_count, source_service) AS access
FROM {db}.decisions
SETTINGS max_execution_time = 0;
