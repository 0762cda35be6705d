-- Settings the store derives from configuration (e.g. the retention TTL last applied), so start-up
-- only alters the table when the configuration changed.
CREATE TABLE IF NOT EXISTS {db}.store_meta
(
    key         String,
    value       String,
    updated_at  DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(updated_at)
ORDER BY key;

-- The staff directory's departments (from the policy bundle), for reports grouped by department;
-- the latest row per actor wins.
CREATE TABLE IF NOT EXISTS {db}.actor_directory
(
    actor_id    String,
    department  LowCardinality(String),
    updated_at  DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(updated_at)
ORDER BY actor_id;
