-- Replicated-cluster variant of 0004 (see the single-node file for why the table exists): one
-- replicated local table per shard, fed by a materialized view on that shard's `decisions_local`, so a
-- row lands on the shard (and replicas) of its decision; `subject_accesses` is a Distributed table
-- over them for the API (a subject's rows are spread over the shards, as in `decisions`). Not
-- exercised in CI (no cluster here).
CREATE TABLE IF NOT EXISTS {db}.subject_accesses_local ON CLUSTER {cluster}
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
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/subject_accesses_local', '{replica}')
PRIMARY KEY (tenant_id, subject_id)
ORDER BY (tenant_id, subject_id, occurred_at, event_id, kafka_partition, chain_seq)
TTL toDateTime(decided_at) + toIntervalDay(365)
SETTINGS index_granularity = 1024;

CREATE TABLE IF NOT EXISTS {db}.subject_accesses ON CLUSTER {cluster} AS {db}.subject_accesses_local
ENGINE = Distributed({cluster}, {db}, subject_accesses_local, kafka_partition);

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.subject_accesses_mv ON CLUSTER {cluster} TO {db}.subject_accesses_local AS
SELECT tenant_id, subject_id, occurred_at, event_id, kafka_partition, chain_seq, decided_at, actor_id,
       action = 'disclose' OR recipient_type = 'authority' AS authority,
       formatRowNoNewline('JSONCompactEachRow', event_id, tenant_id, occurred_at, decided_at, outcome, codes, reason_messages,
           basis, policy_version, actor_id, actor_type, subject_id, subject_type, categories, fields, action, purpose,
           recipient_id, recipient_type, legal_basis, data_collected_at, record_count, source_service) AS access
FROM {db}.decisions_local;

-- Backfill what `decisions` held before the view existed, through the Distributed tables (both are
-- sharded by kafka_partition, so each row goes back to its decision's shard). Runs after the views
-- exist, so nothing inserted meanwhile is missed; a row stored by both is a byte-identical copy.
INSERT INTO {db}.subject_accesses
SELECT tenant_id, subject_id, occurred_at, event_id, kafka_partition, chain_seq, decided_at, actor_id,
       action = 'disclose' OR recipient_type = 'authority' AS authority,
       formatRowNoNewline('JSONCompactEachRow', event_id, tenant_id, occurred_at, decided_at, outcome, codes, reason_messages,
           basis, policy_version, actor_id, actor_type, subject_id, subject_type, categories, fields, action, purpose,
           recipient_id, recipient_type, legal_basis, data_collected_at, record_count, source_service) AS access
FROM {db}.decisions
SETTINGS max_execution_time = 0, distributed_foreground_insert = 1;
