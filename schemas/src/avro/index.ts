/**
 * Every hand-written Avro reader and writer of the hot paths, and the buffer pools they write into
 * (docs/decisions/avro-fast-paths.md). Each produces exactly what avsc does for the records it
 * accepts and hands anything else to avsc; differential.test.ts checks that against avsc.
 */
export * from './access-event-reader.js';
export * from './access-event-writer.js';
export * from './buffer-pool.js';
export * from './decision-reader.js';
export * from './decision-writer.js';
export * from './layout.js';
export * from './read.js';
export * from './write.js';
