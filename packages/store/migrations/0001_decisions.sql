-- One row per decision, with the whole access event in typed columns, chained per Kafka partition of
-- the decisions topic (kafka_partition = chain id, chain_seq = 1, 2, 3…, chain_hash = SHA-256(previous
-- hash ‖ canonical bytes of the row), hex). See docs/store-notes.md.
--
-- ORDER BY: tenant first, then subject and time, so "who accessed subject S" reads one narrow range.
-- The key ends in (kafka_partition, chain_seq), which is unique per stored row: ReplacingMergeTree only
-- ever collapses byte-identical copies of the same chain entry (a batch written twice, e.g. by a
-- fenced-out sink), never two different entries, so a background merge can never punch a hole into a
-- chain. The sink itself stores each topic record once (see the sink), and a retried insert carries
-- an insert_deduplication_token.
--
-- by_actor: a second ordering for "what did actor A access": the columns an actor report needs, sorted
-- by (tenant_id, actor_id, occurred_at). idx_chain: parts are written in chain order and merged with
-- their neighbours, so a min-max index on the chain position skips every part outside a seq range
-- (chain recovery, verification). The TTL below is the default; `custos migrate` and start-up replace
-- it with the configured retention and legal holds (retention.ts).
CREATE TABLE IF NOT EXISTS {db}.decisions
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
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (tenant_id, subject_id, occurred_at, event_id, kafka_partition, chain_seq)
TTL toDateTime(decided_at) + toIntervalDay(365)
SETTINGS
    non_replicated_deduplication_window = 1000,
    deduplicate_merge_projection_mode = 'rebuild';
