-- Signed heads: each one lists the newest checkpoint of every chain the sink knows (chain, last seq,
-- last hash, SHA-256 of the checkpoint's payload), so that a chain deleted together with its
-- checkpoints is still named by a later head. `payload` holds the exact signed bytes (canonical
-- JSON). The same heads are written to the witness topic outside ClickHouse. Tiny: no TTL.
CREATE TABLE IF NOT EXISTS {db}.heads
(
    created_at  DateTime64(3, 'UTC'),
    key_id      LowCardinality(String),
    payload     String,
    signature   String
)
ENGINE = MergeTree
ORDER BY created_at;
