/**
 * Child process of crash.int.test.ts: records events (ids 0..n-1) as fast as it can and reports on
 * stdout how many of them are fsync'ed in the spool ("synced <k>", the stated bound: at most the
 * events after the last report can be lost). It never closes the client: the parent SIGKILLs it.
 *   tsx crash-child.ts <spoolDir> <brokers> <registryUrl> <accessTopic> <stateTopic> <n>
 */
import { createAuditClient } from '../src/index.js';
import { silentLogger } from '../src/logger.js';

const [dir, brokers, registryUrl, accessTopic, stateTopic, nArg] = process.argv.slice(2) as [
  string,
  string,
  string,
  string,
  string,
  string,
];
const n = Number(nArg);
const client = createAuditClient({
  brokers: brokers.split(','),
  schemaRegistryUrl: registryUrl,
  service: 'crash-child',
  topics: { accessEvents: accessTopic, subjectState: stateTopic },
  spool: { dir, fsync: 'batch' },
  logger: silentLogger,
  retry: { initialMs: 50, maxMs: 200 },
});
let reported = -1;
const report = () => {
  const synced = client.metrics().spoolSynced;
  if (synced !== reported) {
    reported = synced;
    process.stdout.write(`synced ${synced}\n`);
  }
};
setInterval(report, 1);
for (let i = 0; i < n; i++) {
  client.record({
    eventId: `0190b0a0-0000-7000-8000-${String(i).padStart(12, '0')}`,
    tenantId: 'spera',
    actor: { id: `s-${i % 13}`, type: 'staff' },
    subject: { id: `cust-${i}`, type: 'customer' },
    categories: ['personal.contact'],
    action: 'read',
    purpose: 'service.support',
  });
  process.stdout.write(`recorded ${i + 1}\n`);
  if (i % 200 === 199) await new Promise((r) => setImmediate(r));
}
const wait = setInterval(() => {
  if (client.metrics().spoolSynced >= n) {
    report();
    process.stdout.write('done\n');
    clearInterval(wait);
  }
}, 5);
