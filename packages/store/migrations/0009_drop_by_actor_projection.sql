-- The by_actor projection (migration 0001) is dropped. Every read of `decisions` is a FINAL read (a
-- decision delivered twice counts once), and ClickHouse does not read a projection under FINAL
-- (EXPLAIN projections = 1 of the actor activity's query shows it used without FINAL, not with): it
-- served no query, while every insert sorted and wrote it and every merge of this
-- ReplacingMergeTree rebuilt it. 24 B per decision on disk; ~1 CPU µs a row at 50 000-row inserts and
-- ~12 at 1 000-row ones (docs/decisions/decisions-insert-cost.md). Dropping it removes its files from
-- existing parts (a mutation) and rewrites nothing else.
ALTER TABLE {db}.decisions DROP PROJECTION IF EXISTS by_actor;
