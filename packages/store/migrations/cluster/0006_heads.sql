-- Replicated-cluster variant of 0006: heads, one shard (they are few).
CREATE TABLE IF NOT EXISTS {db}.heads_local ON CLUSTER {cluster}
(
    created_at  DateTime64(3, 'UTC'),
    key_id      LowCardinality(String),
    payload     String,
    signature   String
)
ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/{database}/heads_local', '{replica}')
ORDER BY created_at;

CREATE TABLE IF NOT EXISTS {db}.heads ON CLUSTER {cluster} AS {db}.heads_local
ENGINE = Distributed({cluster}, {db}, heads_local, 0);
