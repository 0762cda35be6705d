-- Replicated-cluster variant of 0007 (see the single-node file for why the table exists): small,
-- one shard's worth of rows per subject; sharded by subject so one subject's history is on one shard.
CREATE TABLE IF NOT EXISTS {db}.subject_state_history_local ON CLUSTER {cluster}
(
    tenant_id        LowCardinality(String),
    subject_id       String,
    occurred_at      DateTime64(3, 'UTC'),
    event_id         UUID,
    change           LowCardinality(String),
    reference        Nullable(String),
    kafka_partition  UInt16,
    kafka_offset     UInt64,
    stored_at        DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/subject_state_history_local', '{replica}')
ORDER BY (tenant_id, subject_id, kafka_partition, kafka_offset);

CREATE TABLE IF NOT EXISTS {db}.subject_state_history ON CLUSTER {cluster} AS {db}.subject_state_history_local
ENGINE = Distributed({cluster}, {db}, subject_state_history_local, cityHash64(tenant_id, subject_id));
