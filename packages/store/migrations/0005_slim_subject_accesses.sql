-- Bytes on disk: the subject report's read model (0004) took 83 bytes per decision on top of the
-- decisions table's 120, against a budget of 150 in all. This migration replaces it with a slimmer one
-- and has the by_actor projection compressed (measured in docs/store-notes.md §1).
--
-- 1. `decisions`: columns without a CODEC, and every column of a projection (projection parts take
--    no column codecs), were compressed with the server default, LZ4; the by_actor projection
--    (event id, subject id, time, …) took 31 bytes per decision that way and 23 with ZSTD(3). Applies
--    to parts written or merged from now on.
ALTER TABLE {db}.decisions MODIFY SETTING default_compression_codec = 'ZSTD(3)';

-- Times: T64 (then ZSTD) instead of Delta — rows are in subject order, so a time's delta to the row
-- before is as wide as the time itself; T64 strips the bits all values of a block share. 5.2 → 4.1
-- bytes each (metadata only; parts written or merged from now on).
ALTER TABLE {db}.decisions MODIFY COLUMN occurred_at DateTime64(3, 'UTC') CODEC(T64, ZSTD(1));

ALTER TABLE {db}.decisions MODIFY COLUMN decided_at DateTime64(3, 'UTC') CODEC(T64, ZSTD(1));

-- 2. `subject_accesses_v2`: the same rows as `subject_accesses`, without what the old one kept twice.
--    The packed JSON text now holds only the report columns that are not columns here (event id,
--    times, tenant, subject and actor were in both), decided_at is stored as its distance from
--    occurred_at (a few ms: ~1 byte instead of ~5), and the chain position is gone from the key: it
--    is a plain MergeTree, and the reader drops repeated event ids (a stored copy of a decision is
--    identical) as it did before. kafka_partition stays only as the sharding key of the cluster
--    variant. 32 bytes per decision instead of 83 for the same reads (docs/store-notes.md §1).
--    The retention TTL is an expression of decided_at; here it is written out (an ALIAS column
--    cannot be used in a TTL), and retention.ts applies the same TTL and legal holds as to
--    `decisions` — so the report never shows a row `decisions` no longer holds.
CREATE TABLE IF NOT EXISTS {db}.subject_accesses_v2
(
    tenant_id          LowCardinality(String),
    subject_id         String CODEC(ZSTD(3)),
    occurred_at        DateTime64(3, 'UTC') CODEC(T64, ZSTD(1)),
    event_id           UUID CODEC(ZSTD(1)),
    -- decided_at − occurred_at in ms
    decided_lag_ms     Int64 CODEC(T64, ZSTD(1)),
    decided_at         DateTime64(3, 'UTC') ALIAS occurred_at + toIntervalMillisecond(decided_lag_ms),
    actor_id           LowCardinality(String) CODEC(ZSTD(1)),
    kafka_partition    UInt16 CODEC(ZSTD(1)),
    -- a lawful disclosure to an authority (left out of the subject-facing report, DPDP §11(2))
    authority          Bool CODEC(ZSTD(1)),
    -- JSONCompactEachRow of services/api/src/db.ts PACKED_FIELDS, in that order
    access             String CODEC(ZSTD(3))
)
ENGINE = MergeTree
PRIMARY KEY (tenant_id, subject_id)
ORDER BY (tenant_id, subject_id, occurred_at, event_id)
TTL toDateTime(occurred_at + toIntervalMillisecond(decided_lag_ms), 'UTC') + toIntervalDay(365)
SETTINGS index_granularity = 1024;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.subject_accesses_v2_mv TO {db}.subject_accesses_v2 AS
SELECT tenant_id, subject_id, occurred_at, event_id,
       toUnixTimestamp64Milli(decided_at) - toUnixTimestamp64Milli(occurred_at) AS decided_lag_ms,
       actor_id, kafka_partition,
       action = 'disclose' OR recipient_type = 'authority' AS authority,
       formatRowNoNewline('JSONCompactEachRow', outcome, codes, reason_messages, basis, policy_version, actor_type,
           subject_type, categories, fields, action, purpose, recipient_id, recipient_type, legal_basis,
           data_collected_at, record_count, source_service) AS access
FROM {db}.decisions;

-- Backfill what `decisions` held before the view existed. Runs after the view is created, so nothing
-- inserted meanwhile is missed; a row stored by both is an identical copy, which the reader drops.
INSERT INTO {db}.subject_accesses_v2
SELECT tenant_id, subject_id, occurred_at, event_id,
       toUnixTimestamp64Milli(decided_at) - toUnixTimestamp64Milli(occurred_at) AS decided_lag_ms,
       actor_id, kafka_partition,
       action = 'disclose' OR recipient_type = 'authority' AS authority,
       formatRowNoNewline('JSONCompactEachRow', outcome, codes, reason_messages, basis, policy_version, actor_type,
           subject_type, categories, fields, action, purpose, recipient_id, recipient_type, legal_basis,
           data_collected_at, record_count, source_service) AS access
FROM {db}.decisions
SETTINGS max_execution_time = 0;

-- 3. The old read model: no longer read (the API reads subject_accesses_v2), so no longer fed or kept.
DROP VIEW IF EXISTS {db}.subject_accesses_mv;

DROP TABLE IF EXISTS {db}.subject_accesses;
