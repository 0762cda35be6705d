-- Signed checkpoints of the decision chains: each one says "chain C, rows (prev_seq, last_seq], hash
-- prev_hash → last_hash, `records` rows, these time ranges", signed with Ed25519. `payload` holds the
-- exact signed bytes (canonical JSON); the other columns repeat its fields for queries and are
-- checked against it. Tiny and free of personal data: kept without TTL.
CREATE TABLE IF NOT EXISTS {db}.checkpoints
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
ENGINE = MergeTree
ORDER BY (chain, last_seq, created_at);
