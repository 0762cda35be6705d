// Smoke test of the local schema registry through the Confluent-compatible
// API, with the same npm client the pipeline uses.
//   node infra/smoke/registry-smoke.mjs
// Env: SCHEMA_REGISTRY_URL (default http://127.0.0.1:8081/apis/ccompat/v7)

import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

// The client lives in packages/kafka's dependencies; resolve from there.
const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const require = createRequire(path.join(repo, 'packages/kafka/package.json'));
const { SchemaRegistry, SchemaType } = require('@kafkajs/confluent-schema-registry');

const host = process.env.SCHEMA_REGISTRY_URL ?? 'http://127.0.0.1:8081/apis/ccompat/v7';
const registry = new SchemaRegistry({ host });
const subject = `custos-smoke-${Date.now()}-value`;

const v1 = {
  type: 'record',
  name: 'SmokeEvent',
  namespace: 'dev.custos.smoke',
  fields: [
    { name: 'id', type: 'string' },
    { name: 'count', type: 'int' },
  ],
};
// BACKWARD-compatible: new field with a default.
const v2 = { ...v1, fields: [...v1.fields, { name: 'note', type: 'string', default: '' }] };
// BACKWARD-incompatible: new field without a default.
const bad = { ...v1, fields: [...v1.fields, { name: 'required', type: 'long' }] };

const results = [];
async function step(name, fn) {
  try {
    await fn();
    results.push([name, 'ok']);
    console.log(`ok   ${name}`);
  } catch (err) {
    results.push([name, 'FAIL']);
    console.log(`FAIL ${name}: ${err?.message ?? err}`);
  }
}

let id1;
await step('register v1', async () => {
  ({ id: id1 } = await registry.register({ type: SchemaType.AVRO, schema: JSON.stringify(v1) }, { subject }));
  assert.ok(Number.isInteger(id1), `id ${id1}`);
});
await step('encode/decode round trip', async () => {
  const value = { id: 'a-1', count: 42 };
  const buf = await registry.encode(id1, value);
  assert.equal(buf[0], 0, 'magic byte');
  assert.equal(buf.readInt32BE(1), id1, 'schema id in header');
  assert.deepEqual({ ...(await registry.decode(buf)) }, value);
});
await step('re-register same schema -> same id', async () => {
  const { id } = await registry.register({ type: SchemaType.AVRO, schema: JSON.stringify(v1) }, { subject });
  assert.equal(id, id1);
});
await step('re-register pretty-printed copy -> same id (canonical hash)', async () => {
  const reordered = JSON.stringify(v1, null, 2);
  const { id } = await registry.register({ type: SchemaType.AVRO, schema: reordered }, { subject });
  assert.equal(id, id1);
});
await step('getRegistryIdBySchema finds the id', async () => {
  const id = await registry.getRegistryIdBySchema(subject, { type: SchemaType.AVRO, schema: JSON.stringify(v1) });
  assert.equal(id, id1);
});
await step('getLatestSchemaId', async () => {
  assert.equal(await registry.getLatestSchemaId(subject), id1);
});
let id2;
await step('register BACKWARD-compatible v2', async () => {
  ({ id: id2 } = await registry.register({ type: SchemaType.AVRO, schema: JSON.stringify(v2) }, { subject }));
  assert.notEqual(id2, id1);
});
await step('decode v1 payload still works after v2', async () => {
  const buf = await registry.encode(id1, { id: 'b', count: 1 });
  assert.deepEqual({ ...(await registry.decode(buf)) }, { id: 'b', count: 1 });
});
await step('BACKWARD-incompatible change is rejected', async () => {
  let rejected = null;
  try {
    await registry.register({ type: SchemaType.AVRO, schema: JSON.stringify(bad) }, { subject });
  } catch (err) {
    rejected = err;
  }
  assert.ok(rejected, 'incompatible schema was accepted');
  console.log(`     (rejected with: ${String(rejected.message).slice(0, 160)})`);
});
await step('compatibility endpoint says incompatible; raw POST gets HTTP 409', async () => {
  const headers = { 'Content-Type': 'application/vnd.schemaregistry.v1+json' };
  const body = JSON.stringify({ schema: JSON.stringify(bad) });
  const check = await fetch(`${host}/compatibility/subjects/${subject}/versions/latest`, { method: 'POST', headers, body });
  assert.equal(check.status, 200);
  assert.equal((await check.json()).is_compatible, false);
  const post = await fetch(`${host}/subjects/${subject}/versions`, { method: 'POST', headers, body });
  assert.equal(post.status, 409, `status ${post.status}`);
});
await step('same schema under another subject -> same id (ids are content ids)', async () => {
  const { id } = await registry.register({ type: SchemaType.AVRO, schema: JSON.stringify(v1) }, { subject: `${subject}-other` });
  assert.equal(id, id1);
});
await step('unknown subject -> 404 / error_code 40401', async () => {
  const res = await fetch(`${host}/subjects/does-not-exist-${Date.now()}/versions/latest`);
  assert.equal(res.status, 404);
  assert.equal((await res.json()).error_code, 40401);
});
await step('global compatibility is BACKWARD', async () => {
  const res = await fetch(`${host}/config`);
  assert.equal(res.status, 200);
  const body = await res.json();
  assert.equal(body.compatibilityLevel ?? body.compatibility, 'BACKWARD');
});

const failed = results.filter(([, r]) => r !== 'ok').length;
console.log(`${results.length - failed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
