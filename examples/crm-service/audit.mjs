// The service's one audit client, configured from the environment.
import { createAuditClient } from '@custos/sdk';

/** JSON lines on stderr at info and above: enough to see which send path the SDK took. */
const log = (level) => (obj, msg) => process.stderr.write(`${JSON.stringify({ level, msg, ...obj })}\n`);
export const logger = { debug: () => {}, info: log('info'), warn: log('warn'), error: log('error') };

/** @param {string} service @param {object} [options] more AuditClientOptions */
export function auditClient(service, options = {}) {
  return createAuditClient({
    brokers: (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(','),
    schemaRegistryUrl: process.env.SCHEMA_REGISTRY_URL ?? 'http://127.0.0.1:8081/apis/ccompat/v7',
    service,
    topicPrefix: process.env.TOPIC_PREFIX ?? '',
    // Write-ahead spool: what record() accepted survives a crash or a Kafka outage.
    spool: { dir: process.env.AUDIT_SPOOL_DIR ?? `.spool/${service}`, fsync: 'batch' },
    logger,
    ...options,
  });
}
