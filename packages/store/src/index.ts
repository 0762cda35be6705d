export * from './client.js';
export * from './decisions.js';
export * from './migrations.js';
