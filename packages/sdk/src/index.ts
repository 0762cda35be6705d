export { ValidationError } from '@custos/schemas';
export {
  type AuditClient,
  type AuditClientOptions,
  ClientClosedError,
  createAuditClient,
  type FlushResult,
  QueueFullError,
} from './client.js';
export { type AuditAccessOptions, auditAccess } from './express.js';
export type { LoggerLike } from './logger.js';
export { type AuditMetrics, exportMetrics } from './metrics.js';
export { type FsyncPolicy, SpoolLockedError, type SpoolOptions } from './spool.js';
export { uuidv7 } from './uuid7.js';
export { type AccessEventInput, changeFamily, type SubjectStateInput, subjectStateKey } from './validate.js';
