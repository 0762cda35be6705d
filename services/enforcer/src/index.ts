export * from './batch-judge.js';
export * from './bulk-state.js';
export * from './config.js';
export * from './decode.js';
export * from './enforcer.js';
export * from './judge.js';
export * from './metrics.js';
export * from './service.js';
