-- Replicated-cluster variant of 0003: small tables, one copy on every node.
-- Settings the store derives from configuration (e.g. the retention TTL last applied), so start-up
-- only alters the table when the configuration changed.
CREATE TABLE IF NOT EXISTS {db}.store_meta ON CLUSTER {cluster}
(
    key         String,
    value       String,
    updated_at  DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{database}/store_meta', '{replica}', updated_at)
ORDER BY key;

-- The staff directory's departments (from the policy bundle), for reports grouped by department;
-- the latest row per actor wins.
CREATE TABLE IF NOT EXISTS {db}.actor_directory ON CLUSTER {cluster}
(
    actor_id    String,
    department  LowCardinality(String),
    updated_at  DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{database}/actor_directory', '{replica}', updated_at)
ORDER BY actor_id;
