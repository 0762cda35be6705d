export * from './batch.js';
export * from './client.js';
export * from './dlq.js';
export * from './errors.js';
export * from './registry.js';
export * from './table.js';
