import { readFileSync, writeFileSync } from 'node:fs';
import { compileBundle, parseBundleText } from '../packages/policy/src/index.js';
import { EventMix } from './event-mix.js';
import { opaBundleData, opaSubjectData } from './opa/data.js';

const loaded = parseBundleText(readFileSync('policies/example-org.json', 'utf8'));
if (!loaded.ok) throw new Error('bad');
const evaluator = compileBundle(loaded.value.bundle, loaded.value.policyVersion);
const mix = new EventMix();
const events = Array.from({ length: 5000 }, () => mix.next());
const changes = Array.from({ length: 2000 }, (_, i) => mix.stateChange(i));
const bulk = evaluator.createBulkWindow();
const staff = new Set(evaluator.bundle.staff.map((s) => s.id));
const lines = events.map((e) => {
  const known = e.actor.type === 'staff' && staff.has(e.actor.id);
  const n = known ? bulk.observe(e.actor.id, Date.parse(e.occurredAt), e.tenantId, e.subject.id) : 0;
  return JSON.stringify({ event: e, bulk_distinct: n });
});
writeFileSync('/tmp/opa-inv/events.ndjson', `${lines.join('\n')}\n`);
writeFileSync(
  '/tmp/opa-inv/data.json',
  JSON.stringify({ policy_bundle: opaBundleData(evaluator.bundle), subjects: opaSubjectData(changes) }),
);
writeFileSync('/tmp/opa-inv/one.json', lines[0]!);
