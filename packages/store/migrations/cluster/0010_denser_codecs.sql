-- Replicated-cluster variant of 0010 (see the single-node file for why): the same codecs on every
-- shard's local tables.
ALTER TABLE {db}.decisions_local ON CLUSTER {cluster} MODIFY COLUMN chain_hash FixedString(64) CODEC(ZSTD(1));

ALTER TABLE {db}.decisions_local ON CLUSTER {cluster} MODIFY COLUMN source_request_id String CODEC(ZSTD(1));

ALTER TABLE {db}.decisions_local ON CLUSTER {cluster} MODIFY COLUMN source_trace_id String CODEC(ZSTD(1));

ALTER TABLE {db}.decisions_local ON CLUSTER {cluster} MODIFY COLUMN kafka_offset UInt64 CODEC(T64, ZSTD(1));

ALTER TABLE {db}.decisions_local ON CLUSTER {cluster} MODIFY COLUMN chain_seq UInt64 CODEC(T64, ZSTD(1));

ALTER TABLE {db}.decisions_local ON CLUSTER {cluster} MODIFY COLUMN subject_id String CODEC(ZSTD(3));

ALTER TABLE {db}.decisions_local ON CLUSTER {cluster} MODIFY COLUMN basis Array(LowCardinality(String)) CODEC(ZSTD(3));

ALTER TABLE {db}.subject_accesses_v2_local ON CLUSTER {cluster} MODIFY COLUMN access String CODEC(ZSTD(4));

ALTER TABLE {db}.accesses_by_time_local ON CLUSTER {cluster} MODIFY COLUMN access String CODEC(ZSTD(4));
