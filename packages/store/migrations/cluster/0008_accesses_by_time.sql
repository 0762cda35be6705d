-- Replicated-cluster variant of 0007 (the search's read model): a replicated local table on every
-- shard, fed by a view on the shard's decisions_local, and a Distributed table over them, sharded
-- like `decisions` by kafka_partition. Not exercised in CI (no cluster here).
CREATE TABLE IF NOT EXISTS {db}.accesses_by_time_local ON CLUSTER {cluster}
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
ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/{database}/accesses_by_time_local', '{replica}')
ORDER BY (tenant_id, occurred_at, event_id)
TTL toDateTime(occurred_at + toIntervalMillisecond(decided_lag_ms), 'UTC') + toIntervalDay(365)
SETTINGS index_granularity = 1024;

CREATE TABLE IF NOT EXISTS {db}.accesses_by_time ON CLUSTER {cluster} AS {db}.accesses_by_time_local
ENGINE = Distributed({cluster}, {db}, accesses_by_time_local, kafka_partition);

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.accesses_by_time_mv ON CLUSTER {cluster} TO {db}.accesses_by_time_local AS
SELECT tenant_id, occurred_at, event_id,
       toUnixTimestamp64Milli(decided_at) - toUnixTimestamp64Milli(occurred_at) AS decided_lag_ms,
       actor_id, actor_type, subject_id, outcome, codes, categories, action, purpose, recipient_id, kafka_partition,
       formatRowNoNewline('JSONCompactEachRow', outcome, codes, reason_messages, basis, policy_version, actor_type,
           subject_type, categories, fields, action, purpose, recipient_id, recipient_type, legal_basis,
           data_collected_at, record_count, source_service) AS access
FROM {db}.decisions_local;

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
SETTINGS max_execution_time = 0, distributed_foreground_insert = 1;
