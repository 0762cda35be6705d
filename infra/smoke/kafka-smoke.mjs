// Smoke test of the local Kafka broker with kafkajs: topic creation,
// produce/consume, and exactly-once plumbing (idempotent transactional
// producer + sendOffsets, commit and abort, read_committed consumer).
//   node infra/smoke/kafka-smoke.mjs
// Env: KAFKA_BROKERS (default 127.0.0.1:9092). Exits by itself (hard 90 s cap).

import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const require = createRequire(path.join(repo, 'packages/kafka/package.json'));
process.env.KAFKAJS_NO_PARTITIONER_WARNING ??= '1';
const { Kafka, logLevel } = require('kafkajs');

const brokers = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');
const kafka = new Kafka({ clientId: 'custos-infra-smoke', brokers, logLevel: logLevel.WARN });
const run = `${Date.now()}`;
const input = `custos-smoke-in-${run}`;
const output = `custos-smoke-out-${run}`;
const group = `custos-smoke-${run}`;

const hardStop = setTimeout(() => {
  console.log('FAIL smoke test took longer than 90 s');
  console.log('0 passed, 1 failed');
  process.exit(1);
}, 90_000);
hardStop.unref();

const results = [];
async function step(name, fn) {
  const t0 = Date.now();
  try {
    await fn();
    results.push('ok');
    console.log(`ok   ${name} (${Date.now() - t0} ms)`);
  } catch (err) {
    results.push('FAIL');
    console.log(`FAIL ${name}: ${err?.stack ?? err}`);
  }
}

/** Collect `n` messages from `topic` with a fresh consumer, or throw after `ms`. */
async function collect(topic, n, { isolation = 'read_committed', ms = 30_000 } = {}) {
  const consumer = kafka.consumer({
    groupId: `${group}-reader-${topic}-${Math.random().toString(36).slice(2)}`,
    readUncommitted: isolation !== 'read_committed',
  });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const got = [];
  try {
    await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`got ${got.length}/${n} messages from ${topic} in ${ms} ms`)), ms);
      consumer
        .run({
          eachMessage: async ({ message }) => {
            got.push(message.value.toString());
            if (got.length >= n) {
              clearTimeout(timer);
              resolve();
            }
          },
        })
        .catch(reject);
    });
  } finally {
    await consumer.disconnect();
  }
  return got;
}

const admin = kafka.admin();
await step('admin connect + describeCluster', async () => {
  await admin.connect();
  const cluster = await admin.describeCluster();
  assert.equal(cluster.brokers.length, 1);
});
await step('create topics (3 partitions, rf 1)', async () => {
  await admin.createTopics({
    waitForLeaders: true,
    topics: [input, output].map((topic) => ({ topic, numPartitions: 3, replicationFactor: 1 })),
  });
  const md = await admin.fetchTopicMetadata({ topics: [input] });
  assert.equal(md.topics[0].partitions.length, 3);
});

const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
await step('plain produce + consume', async () => {
  await producer.connect();
  await producer.send({
    topic: input,
    acks: -1,
    messages: [
      { key: 'k1', value: 'hello' },
      { key: 'k2', value: 'world' },
    ],
  });
  const got = await collect(input, 2);
  assert.deepEqual(got.sort(), ['hello', 'world']);
});

await step('transaction: consume -> produce -> sendOffsets -> commit', async () => {
  const txProducer = kafka.producer({
    transactionalId: `custos-smoke-tx-${run}`,
    idempotent: true,
    maxInFlightRequests: 1,
  });
  await txProducer.connect();
  try {
    // Read the two input messages with the "real" group, without autocommit.
    const consumer = kafka.consumer({ groupId: group });
    await consumer.connect();
    await consumer.subscribe({ topic: input, fromBeginning: true });
    const seen = [];
    await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`saw ${seen.length}/2 input messages`)), 30_000);
      consumer
        .run({
          autoCommit: false,
          eachMessage: async ({ partition, message }) => {
            seen.push({ partition, offset: message.offset, value: message.value.toString() });
            if (seen.length >= 2) {
              clearTimeout(timer);
              resolve();
            }
          },
        })
        .catch(reject);
    });
    await consumer.stop();

    const tx = await txProducer.transaction();
    await tx.send({ topic: output, messages: seen.map((m) => ({ value: `processed:${m.value}` })) });
    const offsets = new Map();
    for (const m of seen) {
      const next = String(BigInt(m.offset) + 1n);
      const prev = offsets.get(m.partition);
      if (!prev || BigInt(prev) < BigInt(next)) offsets.set(m.partition, next);
    }
    await tx.sendOffsets({
      consumerGroupId: group,
      topics: [{ topic: input, partitions: [...offsets].map(([partition, offset]) => ({ partition, offset })) }],
    });
    await tx.commit();
    await consumer.disconnect();

    // An aborted transaction must stay invisible to read_committed readers.
    const aborted = await txProducer.transaction();
    await aborted.send({ topic: output, messages: [{ value: 'must-not-be-seen' }] });
    await aborted.abort();

    // Committed group offsets include the transactional ones.
    const committed = await admin.fetchOffsets({ groupId: group, topics: [input] });
    const total = committed[0].partitions.reduce((s, p) => s + Math.max(0, Number(p.offset)), 0);
    assert.equal(total, 2, `committed offsets ${JSON.stringify(committed)}`);

    // Marker: one more committed message, so we know when we have read far enough.
    const tx3 = await txProducer.transaction();
    await tx3.send({ topic: output, messages: [{ value: 'end' }] });
    await tx3.commit();

    const got = await collect(output, 3, { isolation: 'read_committed' });
    assert.deepEqual(got.sort(), ['end', 'processed:hello', 'processed:world']);
  } finally {
    await txProducer.disconnect();
  }
});

await step('cleanup topics', async () => {
  await admin.deleteTopics({ topics: [input, output] });
});
await producer.disconnect().catch(() => {});
await admin.disconnect().catch(() => {});

const failed = results.filter((r) => r !== 'ok').length;
console.log(`${results.length - failed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
