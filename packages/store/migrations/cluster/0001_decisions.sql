-- Replicated-cluster variant of 0001 (custos migrate --cluster NAME): each shard keeps its replicas
-- in sync with ReplicatedReplacingMergeTree; `decisions` is a Distributed table over them, sharded by
-- kafka_partition so that every chain lives whole on one shard (verification and chain recovery stay
-- shard-local, the replicated insert de-duplication covers a retried batch). Insert through
-- `decisions` with distributed_foreground_insert = 1 so an acknowledged insert is on the shard.
-- {shard}, {replica} and {database} are ClickHouse macros; {db} and {cluster} are filled in by the
-- migration runner. Not exercised in CI (no cluster here); the single-node DDL is the tested one.
CREATE TABLE IF NOT EXISTS {db}.decisions_local ON CLUSTER {cluster}
(
    tenant_id          LowCardinality(String),
    event_id           UUID CODEC(ZSTD(1)),
    occurred_at        DateTime64(3, 'UTC') CODEC(Delta(8), ZSTD(1)),
    decided_at         DateTime64(3, 'UTC') CODEC(Delta(8), ZSTD(1)),
    outcome            Enum8('allow' = 1, 'flag' = 2, 'deny' = 3) CODEC(ZSTD(1)),
    codes              Array(LowCardinality(String)) CODEC(ZSTD(1)),
    reason_messages    Array(String) CODEC(ZSTD(3)),
    basis              Array(LowCardinality(String)) CODEC(ZSTD(1)),
    policy_version     LowCardinality(String),
    actor_id           LowCardinality(String) CODEC(ZSTD(1)),
    actor_type         Enum8('staff' = 1, 'processor' = 2),
    subject_id         String CODEC(ZSTD(1)),
    subject_type       Enum8('customer' = 1, 'user' = 2, 'employee' = 3, 'client_contact' = 4),
    categories         Array(LowCardinality(String)) CODEC(ZSTD(1)),
    fields             Array(LowCardinality(String)) CODEC(ZSTD(1)),
    action             Enum8('read' = 1, 'create' = 2, 'update' = 3, 'delete' = 4, 'export' = 5, 'share' = 6, 'disclose' = 7) CODEC(ZSTD(1)),
    purpose            LowCardinality(String),
    recipient_id       LowCardinality(String),
    recipient_type     LowCardinality(String),
    legal_basis        String CODEC(ZSTD(3)),
    data_collected_at  Nullable(DateTime64(3, 'UTC')) CODEC(ZSTD(1)),
    record_count       UInt32 CODEC(ZSTD(1)),
    source_service     LowCardinality(String),
    source_request_id  String CODEC(ZSTD(3)),
    source_trace_id    String CODEC(ZSTD(3)),
    source_ip          String CODEC(ZSTD(3)),
    attributes         Map(LowCardinality(String), String) CODEC(ZSTD(3)),
    kafka_partition    UInt16 CODEC(ZSTD(1)),
    kafka_offset       UInt64 CODEC(ZSTD(1)),
    chain_seq          UInt64 CODEC(ZSTD(1)),
    chain_hash         FixedString(64) CODEC(ZSTD(3)),
    -- when the row was written; set by ClickHouse, informational, not covered by the chain
    stored_at          DateTime64(3, 'UTC') DEFAULT now64(3) CODEC(Delta(8), ZSTD(1)),
    INDEX idx_chain chain_seq TYPE minmax GRANULARITY 1,
    PROJECTION by_actor
    (
        SELECT tenant_id, actor_id, occurred_at, event_id, subject_id, subject_type, outcome, codes, categories, action, purpose, recipient_id
        ORDER BY tenant_id, actor_id, occurred_at
    )
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/decisions_local', '{replica}')
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (tenant_id, subject_id, occurred_at, event_id, kafka_partition, chain_seq)
TTL toDateTime(decided_at) + toIntervalDay(365)
SETTINGS deduplicate_merge_projection_mode = 'rebuild';

CREATE TABLE IF NOT EXISTS {db}.decisions ON CLUSTER {cluster} AS {db}.decisions_local
ENGINE = Distributed({cluster}, {db}, decisions_local, kafka_partition);
