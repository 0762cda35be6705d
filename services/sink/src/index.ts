export * from './config.js';
export * from './decode.js';
export * from './metrics.js';
export * from './options.js';
export * from './reference.js';
export * from './service.js';
export * from './sink.js';
export * from './witness.js';
