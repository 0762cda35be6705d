-- Every subject-state change (opt-out, opt-in, erasure, legal hold) in the order it was written to
-- the `subject-state` topic. The topic is compacted per (tenant, subject, family) and keeps only the
-- latest change of each family; this table keeps them all, for `GET /v1/subjects/:id/state`.
-- Filled by the sink's subject-state history consumer. A change is identified by its position on the
-- topic (partition, offset): a batch inserted again after a crash before its offsets were committed
-- collapses into the same rows, and readers take one row per position.
CREATE TABLE IF NOT EXISTS {db}.subject_state_history
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
ENGINE = ReplacingMergeTree
ORDER BY (tenant_id, subject_id, kafka_partition, kafka_offset);
