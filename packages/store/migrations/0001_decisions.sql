-- One row per decision, with the whole access event in typed columns.
-- Tenant first in ORDER BY, then subject: "who accessed subject S" reads one narrow range.
-- ReplacingMergeTree on the sort key (which ends in event_id) + insert de-duplication tokens make a
-- re-delivered batch harmless; reports read with FINAL or GROUP BY event_id.
CREATE TABLE IF NOT EXISTS {db}.decisions
(
    tenant_id          LowCardinality(String),
    event_id           UUID,
    occurred_at        DateTime64(3, 'UTC'),
    decided_at         DateTime64(3, 'UTC'),
    stored_at          DateTime64(3, 'UTC') DEFAULT now64(3),
    outcome            Enum8('allow' = 1, 'flag' = 2, 'deny' = 3),
    codes              Array(LowCardinality(String)),
    reason_messages    Array(String) CODEC(ZSTD(3)),
    basis              Array(LowCardinality(String)),
    policy_version     LowCardinality(String),
    actor_id           LowCardinality(String),
    actor_type         Enum8('staff' = 1, 'processor' = 2),
    subject_id         String,
    subject_type       Enum8('customer' = 1, 'user' = 2, 'employee' = 3, 'client_contact' = 4),
    categories         Array(LowCardinality(String)),
    fields             Array(LowCardinality(String)),
    action             Enum8('read' = 1, 'create' = 2, 'update' = 3, 'delete' = 4, 'export' = 5, 'share' = 6, 'disclose' = 7),
    purpose            LowCardinality(String),
    recipient_id       LowCardinality(String),
    recipient_type     LowCardinality(String),
    legal_basis        String CODEC(ZSTD(3)),
    data_collected_at  Nullable(DateTime64(3, 'UTC')),
    record_count       UInt32,
    source_service     LowCardinality(String),
    source_request_id  String CODEC(ZSTD(3)),
    source_trace_id    String CODEC(ZSTD(3)),
    source_ip          String CODEC(ZSTD(3)),
    attributes         Map(String, String) CODEC(ZSTD(3)),
    kafka_partition    UInt16,
    kafka_offset       UInt64,
    INDEX idx_actor actor_id TYPE bloom_filter GRANULARITY 4,
    INDEX idx_outcome outcome TYPE set(3) GRANULARITY 4
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (tenant_id, subject_id, occurred_at, event_id)
SETTINGS non_replicated_deduplication_window = 10000;
