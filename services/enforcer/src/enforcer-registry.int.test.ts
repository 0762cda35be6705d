/**
 * The enforcer against a schema registry that changes its mind (real Kafka, a registry of the test's
 * own with in-memory storage, so a restart makes it forget every id; the judging worker and its own
 * registry client as in production):
 * - hostile records (bytes that are no Avro, an unknown schema id, a broken body under the events'
 *   own id, a valid record of another schema under its correct id) are dead-lettered with their
 *   reasons, with a warning in the log, and the good records are judged;
 * - after the registry forgot its ids, an outside producer's registration hands out an id the
 *   enforcer knows as another schema: the enforcer stops and says so, commits nothing and
 *   dead-letters none of those good records.
 */
import { fileURLToPath } from 'node:url';
import { createLogger } from '@custos/config';
import { AvroCodec, createKafka, ensureTopics, frame } from '@custos/kafka';
import { accessEventAvro, deadLetterAvro, decisionAvro, fromAvro, toAvro } from '@custos/schemas';
import { registryInstance } from '@custos/test/registry-instance';
import { infraEnv, testTopics, waitFor } from '@custos/test/support';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Enforcer } from './enforcer.js';
import { createPolicyJudge } from './judge.js';
import { makeEvent } from './test-support.js';

const policyFile = fileURLToPath(new URL('../../../policies/example-org.json', import.meta.url));

interface LogLine {
  level: number;
  msg: string;
  err?: { name?: string; message?: string };
  deadLettered?: number;
  example?: { reason?: string };
}

describe('enforcer when the schema registry changes its mind', () => {
  const { brokers } = infraEnv();
  const topics = testTopics('enforcer-registry');
  const groupId = `${topics.accessEvents.name}-enforcer`;
  const logs: LogLine[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void logs.push(JSON.parse(line) as LogLine) });
  const kafka = createKafka({
    brokers,
    clientId: 'enforcer-registry-test',
    logger: createLogger('enforcer-registry-kafka', 'warn'),
  });
  let registry: Awaited<ReturnType<typeof registryInstance>>;
  let enforcer: Enforcer | undefined;
  let fatal: unknown;
  /** the id the registry gave the Decision schema before it forgot (the enforcer registers it first) */
  let decisionId = 0;

  const committed = async () => {
    const admin = kafka.admin();
    await admin.connect();
    try {
      const [t] = await admin.fetchOffsets({ groupId, topics: [topics.accessEvents.name] });
      return (t?.partitions ?? []).map((p) => `${p.partition}:${p.offset}`).sort();
    } finally {
      await admin.disconnect();
    }
  };

  beforeAll(async () => {
    registry = await registryInstance('enforcer', brokers, 'mem');
    await registry.start();
    const admin = kafka.admin();
    await admin.connect();
    await ensureTopics(admin, Object.values(topics));
    await admin.disconnect();
    const e: Enforcer = new Enforcer({
      kafka,
      codec: AvroCodec.connect(registry.url),
      topics,
      logger,
      judge: await createPolicyJudge(policyFile),
      groupId,
      policyReload: false,
      onFatal: (err) => {
        fatal = err;
        void e.stop();
      },
    });
    enforcer = e;
    await e.start();
  });

  afterAll(async () => {
    await enforcer?.stop();
    await registry?.destroy();
  });

  it('dead-letters hostile records with their reasons, warns, and judges the good ones', async () => {
    // Another process producing: a client of its own.
    const producerCodec = AvroCodec.connect(registry.url);
    const access = await producerCodec.register(topics.accessEvents.subject, accessEventAvro);
    const decision = await producerCodec.register(topics.decisions.subject, decisionAvro);
    decisionId = decision.id;
    const good = [makeEvent(), makeEvent()];
    const decisionValue = toAvro(decisionAvro, {
      eventId: good[0]!.eventId,
      decidedAt: new Date().toISOString(),
      outcome: 'allow',
      reasons: [],
      basis: [],
      policyVersion: 'p1',
      event: makeEvent(),
    });
    const unknownId = 987_654;
    const hostile = [
      { label: 'garbage', value: Buffer.from('not avro at all'), reason: /magic byte/ },
      { label: 'unknown id', value: frame(unknownId, Buffer.from([2, 4, 6])), reason: new RegExp(`schema ${unknownId}`) },
      {
        label: 'broken body',
        value: frame(access.id, Buffer.from([0xff, 0xff, 0xff])),
        reason: new RegExp(`cannot decode Avro body with schema ${access.id}`),
      },
      {
        label: 'another schema',
        value: decision.encode(decisionValue),
        reason: new RegExp(`cannot decode Avro body with schema ${decision.id}`),
      },
    ];
    const producer = kafka.producer({ idempotent: true });
    await producer.connect();
    await producer.send({
      topic: topics.accessEvents.name,
      messages: [
        { key: 'a', value: access.encode(toAvro(accessEventAvro, good[0]!)) },
        ...hostile.map((h) => ({ key: h.label, value: h.value })),
        { key: 'b', value: access.encode(toAvro(accessEventAvro, good[1]!)) },
      ],
    });
    await producer.disconnect();

    await waitFor(() => enforcer!.stats.events >= 6, { what: 'the enforcer to handle all six records' });
    expect(enforcer!.stats.deadLetters).toBe(hostile.length);
    const s = enforcer!.stats.decisions;
    expect(s.allow + s.flag + s.deny).toBe(good.length);
    expect(fatal).toBeUndefined();

    // The dead letters, each with its reason.
    const reader = AvroCodec.connect(registry.url);
    const consumer = kafka.consumer({ groupId: `${topics.accessEventsDlq.name}-reader`, maxWaitTimeInMs: 200 });
    await consumer.connect();
    await consumer.subscribe({ topic: topics.accessEventsDlq.name, fromBeginning: true });
    const letters: { key: string; reason: string; step: string }[] = [];
    void consumer.run({
      eachMessage: async ({ message }) => {
        const l = fromAvro<{ key: Uint8Array; reason: string; step: string }>(
          deadLetterAvro,
          (await reader.decode(message.value)).value,
        );
        letters.push({ key: Buffer.from(l.key).toString(), reason: l.reason, step: l.step });
      },
    });
    await waitFor(() => letters.length >= hostile.length, { what: 'the dead letters' });
    await consumer.disconnect();
    for (const h of hostile) {
      const letter = letters.find((l) => l.key === h.label);
      expect(letter, h.label).toBeDefined();
      expect(letter?.step).toBe('decode');
      expect(letter?.reason, h.label).toMatch(h.reason);
    }

    // Not silent: a warning with a count and an example.
    const warning = await waitFor(
      () => logs.find((l) => l.level === 40 && l.msg === 'records dead-lettered at the decode step'),
      { what: 'the dead-letter warning' },
    );
    expect(warning.deadLettered).toBeGreaterThanOrEqual(1);
    expect(warning.example?.reason).toBeTruthy();
  });

  it('stops without committing or dead-lettering when the registry forgot its ids', async () => {
    expect(decisionId).toBeGreaterThan(0);
    const offsetsBefore = await committed();
    const { deadLetters, events } = enforcer!.stats;

    await registry.restart(); // in memory: every schema is forgotten

    // A producer outside the project registers the events' schema first: it gets the id that meant
    // Decision before the restart, which the enforcer still has cached as Decision.
    const outside = AvroCodec.connect(registry.url);
    const access = await outside.register(topics.accessEvents.subject, accessEventAvro);
    expect(access.id).toBe(decisionId);
    const producer = kafka.producer({ idempotent: true });
    await producer.connect();
    await producer.send({
      topic: topics.accessEvents.name,
      messages: Array.from({ length: 200 }, (_, i) => ({
        key: `k${i % 7}`,
        value: access.encode(toAvro(accessEventAvro, makeEvent())),
      })),
    });
    await producer.disconnect();

    const err = (await waitFor(() => fatal, { what: 'the enforcer to stop' })) as Error;
    expect(err.name).toBe('RegistryChangedError');
    expect(err.message).toContain(`schema id ${decisionId}`);
    expect(err.message).toMatch(/was io\.custos\.v1\.Decision \(sha256 [0-9a-f]{16}\) and is now io\.custos\.v1\.AccessEvent/);
    await enforcer!.stop();

    // Nothing dead-lettered, nothing judged, nothing committed.
    expect(enforcer!.stats.deadLetters).toBe(deadLetters);
    expect(enforcer!.stats.events).toBe(events);
    expect(await committed()).toEqual(offsetsBefore);
    // Said in the log at error level, naming the id and both schemas.
    const line = logs.find((l) => l.level === 50 && l.err?.name === 'RegistryChangedError');
    expect(line?.err?.message).toContain(`schema id ${decisionId}`);
  });
});
