-- Bytes on disk: codecs chosen per column by measurement on 1 M generated decisions (bench:store's
-- sample, after OPTIMIZE FINAL; docs/decisions/store-codecs-per-column.md). Metadata only: parts
-- written or merged from now on use them; stored values, the chain and the read models' rows are
-- unchanged.
--
-- 1. `decisions`. Random hex and ids (the chain hash, request and trace ids) compress better at
--    ZSTD(1) than at ZSTD(3): 32.6 → 31.7, 10.4 → 8.9 and 5.1 → 5.0 bytes per row, and level 1 is the
--    cheaper one. The chain position and offset are in subject order, so their deltas are as wide as
--    the values; T64 strips the high bits every value of a block shares: 2.8 → 2.2 and 2.4 → 2.1.
--    Subject ids and policy bases: ZSTD(3), 3.4 → 3.1 and 0.7 → 0.5.
ALTER TABLE {db}.decisions MODIFY COLUMN chain_hash FixedString(64) CODEC(ZSTD(1));

ALTER TABLE {db}.decisions MODIFY COLUMN source_request_id String CODEC(ZSTD(1));

ALTER TABLE {db}.decisions MODIFY COLUMN source_trace_id String CODEC(ZSTD(1));

ALTER TABLE {db}.decisions MODIFY COLUMN kafka_offset UInt64 CODEC(T64, ZSTD(1));

ALTER TABLE {db}.decisions MODIFY COLUMN chain_seq UInt64 CODEC(T64, ZSTD(1));

ALTER TABLE {db}.decisions MODIFY COLUMN subject_id String CODEC(ZSTD(3));

ALTER TABLE {db}.decisions MODIFY COLUMN basis Array(LowCardinality(String)) CODEC(ZSTD(3));

-- 2. The read models' packed `access` text (JSON of the same few codes, purposes and categories over
--    and over): ZSTD(4) finds repeats ZSTD(3) misses, 7.7 → 6.0 bytes per row in each read model.
--    ZSTD(5) (5.3) cost ~2 CPU µs a row more at insert than level 4; decompression costs the same
--    at any level, so reads are unchanged.
ALTER TABLE {db}.subject_accesses_v2 MODIFY COLUMN access String CODEC(ZSTD(4));

ALTER TABLE {db}.accesses_by_time MODIFY COLUMN access String CODEC(ZSTD(4));
