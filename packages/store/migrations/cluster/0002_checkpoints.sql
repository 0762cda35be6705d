-- Replicated-cluster variant of 0002: checkpoints beside their chain's rows (sharded by chain).
CREATE TABLE IF NOT EXISTS {db}.checkpoints_local ON CLUSTER {cluster}
(
    chain          UInt16,
    last_seq       UInt64,
    last_hash      FixedString(64),
    prev_seq       UInt64,
    prev_hash      FixedString(64),
    records        UInt64,
    last_offset    UInt64,
    topic          LowCardinality(String),
    decided_from   DateTime64(3, 'UTC'),
    decided_to     DateTime64(3, 'UTC'),
    occurred_from  DateTime64(3, 'UTC'),
    occurred_to    DateTime64(3, 'UTC'),
    created_at     DateTime64(3, 'UTC'),
    key_id         LowCardinality(String),
    payload        String,
    signature      String
)
ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/{database}/checkpoints_local', '{replica}')
ORDER BY (chain, last_seq, created_at);

CREATE TABLE IF NOT EXISTS {db}.checkpoints ON CLUSTER {cluster} AS {db}.checkpoints_local
ENGINE = Distributed({cluster}, {db}, checkpoints_local, chain);
