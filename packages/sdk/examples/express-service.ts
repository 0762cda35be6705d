/**
 * An Express service that records one access event per successful customer lookup, exports the
 * SDK's counters on /metrics, and on SIGTERM stops taking requests, then delivers or spools every
 * recorded event before exiting.
 *
 *   KAFKA_BROKERS=127.0.0.1:9092 SCHEMA_REGISTRY_URL=http://127.0.0.1:8081/apis/ccompat/v7 \
 *     pnpm exec tsx packages/sdk/examples/express-service.ts
 *   curl -H 'x-staff: s-asha' localhost:3000/customers/cust-1001
 */
import { createLogger, shutdownOnSignals } from '@custos/config';
import express from 'express';
import promClient from 'prom-client';
import { auditAccess, createAuditClient, exportMetrics } from '../src/index.js';

const logger = createLogger('crm-example');
const audit = createAuditClient({
  brokers: (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(','),
  schemaRegistryUrl: process.env.SCHEMA_REGISTRY_URL ?? 'http://127.0.0.1:8081/apis/ccompat/v7',
  service: 'crm',
  topicPrefix: process.env.TOPIC_PREFIX ?? '',
  spool: { dir: process.env.AUDIT_SPOOL_DIR ?? '.spool/crm', fsync: 'batch' },
  createTopics: true, // for the example; in production the topics are created by deployment
  logger: logger.child({ component: 'custos-sdk' }),
});
exportMetrics(() => audit.metrics(), { labels: { service: 'crm' } });

const app = express();
// Your authentication sets req.auth.actor (the SDK's default source of the actor) and the tenant.
app.use((req, res, next) => {
  const staff = req.get('x-staff');
  if (!staff) {
    res.status(401).end();
    return;
  }
  (req as express.Request & { auth?: unknown }).auth = { actor: { id: staff, type: 'staff' }, tenantId: 'spera' };
  next();
});

app.get(
  '/customers/:id',
  auditAccess({
    client: audit,
    categories: ['personal.contact'],
    purpose: 'service.support',
    subject: (req, res) => (res.locals.found ? { id: String(req.params.id), type: 'customer' } : null),
    extra: () => ({ fields: ['name', 'email'] }),
  }),
  (req, res) => {
    res.locals.found = true; // looked the customer up: this access gets recorded when the response is sent
    res.json({ id: req.params.id, name: 'Asha Customer', email: 'asha@example.com' });
  },
);
app.get('/metrics', async (_req, res) => {
  res.type(promClient.register.contentType).send(await promClient.register.metrics());
});

const server = app.listen(Number(process.env.PORT ?? 3000), () => logger.info({ port: process.env.PORT ?? 3000 }, 'listening'));

shutdownOnSignals(
  async () => {
    // 1. stop accepting requests and let the ones in flight finish (their events get recorded)
    await new Promise<void>((resolve) => server.close(() => resolve()));
    // 2. deliver everything recorded, or leave it fsync'ed in the spool for the next start
    const r = await audit.close();
    logger.info(r, r.delivered ? 'audit events delivered' : 'audit events left in the spool for the next start');
  },
  { timeoutMs: 15_000, logger },
);
