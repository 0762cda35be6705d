export * from './enforcer.js';
