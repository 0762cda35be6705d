// An Express service that records one access event per successful customer lookup, serves the
// SDK's counters on /metrics and, on SIGTERM, stops taking requests, then delivers (or spools) every
// recorded event before it exits.
//
//   KAFKA_BROKERS=127.0.0.1:9092 SCHEMA_REGISTRY_URL=http://127.0.0.1:8081/apis/ccompat/v7 npm start
//   curl -H 'x-staff: s-asha' localhost:3000/customers/cust-1001
import { auditAccess, exportMetrics } from '@custos/sdk';
import express from 'express';
import promClient from 'prom-client';
import { auditClient, logger } from './audit.mjs';

const audit = auditClient('crm');
exportMetrics(() => audit.metrics(), { labels: { service: 'crm' } });

const app = express();
// Before authentication: scraped by the monitoring system, not by staff.
app.get('/metrics', async (_req, res) => {
  res.type(promClient.register.contentType).send(await promClient.register.metrics());
});
// Your authentication puts the caller on req.auth (the SDK's default source of actor and tenant).
app.use((req, res, next) => {
  const staff = req.get('x-staff');
  if (!staff) {
    res.status(401).end();
    return;
  }
  req.auth = { actor: { id: staff, type: 'staff' }, tenantId: 'spera' };
  next();
});

app.get(
  '/customers/:id',
  auditAccess({
    client: audit,
    categories: ['personal.contact'],
    purpose: 'service.support',
    // read once the response has finished: a lookup that found no one records nothing
    subject: (req, res) => (res.locals.found ? { id: String(req.params.id), type: 'customer' } : null),
    extra: () => ({ fields: ['name', 'email'] }),
  }),
  (req, res) => {
    res.locals.found = true;
    res.json({ id: req.params.id, name: 'Asha Customer', email: 'asha@example.com' });
  },
);

const server = app.listen(Number(process.env.PORT ?? 3000), '127.0.0.1', () => {
  const { port } = server.address();
  logger.info({ port }, 'listening');
  process.stdout.write(`listening on ${port}\n`);
});

let stopping = false;
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, async () => {
    if (stopping) return;
    stopping = true;
    // 1. no new requests; the ones in flight finish and get recorded
    await new Promise((resolve) => server.close(resolve));
    // 2. deliver everything recorded, or leave it fsync'ed in the spool for the next start
    const result = await audit.close();
    logger.info(result, result.delivered ? 'audit events delivered' : 'audit events left in the spool');
    process.exit(result.delivered ? 0 : 3);
  });
}
