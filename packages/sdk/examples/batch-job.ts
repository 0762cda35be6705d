/**
 * A batch job that records a large export with back-pressure: with onQueueFull 'block', record()
 * returns a promise while memory is at its bound, and the job awaits it (so it never outruns Kafka by
 * more than maxQueueBytes). SIGTERM (or the end of the job) delivers or spools everything.
 *
 *   pnpm exec tsx packages/sdk/examples/batch-job.ts 100000
 */
import { createLogger, shutdownOnSignals } from '@custos/config';
import { createAuditClient } from '../src/index.js';

const logger = createLogger('export-job');
const audit = createAuditClient({
  brokers: (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(','),
  schemaRegistryUrl: process.env.SCHEMA_REGISTRY_URL ?? 'http://127.0.0.1:8081/apis/ccompat/v7',
  service: 'export-job',
  topicPrefix: process.env.TOPIC_PREFIX ?? '',
  spool: { dir: process.env.AUDIT_SPOOL_DIR ?? '.spool/export-job', fsync: 'batch' },
  maxQueueBytes: 8 * 1024 * 1024,
  onQueueFull: 'block',
  createTopics: true,
  logger,
});

let stopping = false;
shutdownOnSignals(
  async () => {
    stopping = true;
    const r = await audit.close();
    logger.info(r, 'stopped');
  },
  { timeoutMs: 15_000, logger },
);

const n = Number(process.argv[2] ?? 10_000);
for (let i = 0; i < n && !stopping; i++) {
  const wait = audit.record({
    tenantId: 'client-acme',
    actor: { id: 'p-exporter', type: 'processor' },
    subject: { id: `cc-${i}`, type: 'client_contact' },
    categories: ['personal.contact'],
    action: 'export',
    purpose: 'contract.fulfilment',
    recipient: { id: 'acme-sftp', type: 'processor' },
    source: { requestId: `export-2026-03-02/${i}` },
  });
  if (wait) await wait; // back-pressure: memory is at its bound
}
if (!stopping) {
  const r = await audit.close();
  logger.info({ ...r, recorded: audit.metrics().recorded }, 'export recorded');
}
