export * from './enforcer.js';
export * from './judge.js';
