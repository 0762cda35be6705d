/**
 * For tests that run the sink as a real process (kill.int.test.ts, the CLI's verify-cli.int.test.ts):
 * `n` sample decisions published to fresh topics, a fresh chDB directory, and the environment a sink
 * (or `custos verify`) child needs to work on them. The test process never opens the chDB directory
 * itself (chDB binds one directory per process); its children do.
 */
import { generateKeyPairSync } from 'node:crypto';
import { type Admin, AvroCodec, createKafka, ensureTopics } from '@custos/kafka';
import { decisionAvro, type Topics, toAvro } from '@custos/schemas';
import { sampleDecisions } from '@custos/store';
import { infraEnv, testStore, testTopics } from '@custos/test/support';

export interface SinkProcessFixture {
  topics: Topics;
  /** the sink's consumer group */
  group: string;
  admin: Admin;
  /** environment of a sink or CLI child on these topics and this chDB directory */
  env: NodeJS.ProcessEnv;
  /** offsets the sink's group has committed, summed over the partitions */
  committed(): Promise<number>;
}

export async function sinkProcessFixture(
  name: string,
  opts: { n: number; publishBatch: number; checkpointMaxRows: number; maxBatchRows: number },
): Promise<SinkProcessFixture> {
  const { brokers, registryUrl } = infraEnv();
  const topics = testTopics(name, 3);
  const prefix = topics.decisions.name.slice(0, -'decisions'.length);
  const { database, chdbPath } = testStore(name);
  const key = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const group = `${prefix}sink`;
  const kafka = createKafka({ brokers, clientId: `${name}-test` });
  const admin = kafka.admin();
  await admin.connect();
  await ensureTopics(admin, Object.values(topics));
  const schema = await AvroCodec.connect(registryUrl).register(topics.decisions.subject, decisionAvro);
  const producer = kafka.producer({ idempotent: true });
  await producer.connect();
  const ds = sampleDecisions(opts.n, { start: Date.parse('2026-10-01T00:00:00Z'), spanMs: 86_400_000 * 5, actors: 30 });
  for (let i = 0; i < opts.n; i += opts.publishBatch) {
    await producer.send({
      topic: topics.decisions.name,
      messages: ds
        .slice(i, i + opts.publishBatch)
        .map((d) => ({ key: d.event.actor.id, value: schema.encode(toAvro(decisionAvro, d)) })),
    });
  }
  await producer.disconnect();
  const env = {
    ...process.env,
    KAFKA_BROKERS: brokers.join(','),
    SCHEMA_REGISTRY_URL: registryUrl,
    TOPIC_PREFIX: prefix,
    TOPIC_PARTITIONS: '3',
    CLICKHOUSE_DATABASE: database,
    CHDB_PATH: chdbPath,
    CHECKPOINT_PRIVATE_KEY: key,
    CHECKPOINT_INTERVAL_MS: '200',
    CHECKPOINT_MAX_ROWS: String(opts.checkpointMaxRows),
    SINK_GROUP_ID: group,
    SINK_MAX_BATCH_ROWS: String(opts.maxBatchRows),
    SINK_MIN_BATCH_BYTES: '1',
    SINK_MAX_BATCH_WAIT_MS: '50',
    LOG_LEVEL: 'warn',
  };
  const committed = async () => {
    const [t] = await admin.fetchOffsets({ groupId: group, topics: [topics.decisions.name] });
    return (t?.partitions ?? []).reduce((a, p) => a + Math.max(0, Number(p.offset)), 0);
  };
  return { topics, group, admin, env, committed };
}
