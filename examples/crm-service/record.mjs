// A batch job: records the access events and subject-state changes of an NDJSON file, each line
// {"access": {...}} or {"subjectState": {...}}, then closes the client and prints what close() said.
//
//   KAFKA_BROKERS=… SCHEMA_REGISTRY_URL=… node record.mjs input.ndjson
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { auditClient, logger } from './audit.mjs';

const file = process.argv[2];
if (!file) {
  process.stderr.write('usage: node record.mjs FILE.ndjson\n');
  process.exit(2);
}
// A batch job can produce faster than Kafka takes events: wait for memory instead of spooling.
const audit = auditClient('crm-batch', { onQueueFull: 'block' });
let access = 0;
let subjectState = 0;
for await (const line of createInterface({ input: createReadStream(file) })) {
  if (line.trim() === '') continue;
  const item = JSON.parse(line);
  // record() returns a promise only when memory is at its bound with onQueueFull 'block'
  if (item.access) {
    await audit.record(item.access);
    access++;
  } else if (item.subjectState) {
    await audit.recordSubjectState(item.subjectState);
    subjectState++;
  }
}
const result = await audit.close();
logger.info({ access, subjectState, ...result, metrics: audit.metrics() }, 'recorded');
process.stdout.write(`${JSON.stringify({ access, subjectState, ...result })}\n`);
process.exit(result.delivered ? 0 : 3);
