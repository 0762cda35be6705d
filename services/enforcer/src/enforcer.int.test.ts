/**
 * The enforcer on real Kafka and a real registry: the spec's example events, produced as Avro,
 * come out as the expected decisions (read committed), and the invalid one lands in the DLQ with
 * its original bytes and the reason.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createLogger } from '@custos/config';
import { AvroCodec, type Consumer, createKafka, ensureTopics } from '@custos/kafka';
import {
  accessEventAvro,
  type Decision,
  deadLetterAvro,
  decisionAvro,
  fromAvro,
  subjectStateChangeAvro,
  toAvro,
} from '@custos/schemas';
import { specFixtureDir, specFixtures } from '@custos/test/fixtures';
import { infraEnv, testTopics, waitFor } from '@custos/test/support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Enforcer } from './enforcer.js';
import { createPolicyJudge } from './judge.js';

const lines = (f: string) =>
  readFileSync(join(specFixtureDir, f), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);

describe('enforcer on real Kafka', () => {
  const { brokers, registryUrl } = infraEnv();
  const topics = testTopics('enforcer');
  const logger = createLogger('enforcer-test', 'warn');
  const kafka = createKafka({ brokers, clientId: 'enforcer-test', logger });
  const codec = AvroCodec.connect(registryUrl);
  let enforcer: Enforcer;
  const consumers: Consumer[] = [];

  beforeAll(async () => {
    const admin = kafka.admin();
    await admin.connect();
    await ensureTopics(admin, Object.values(topics));
    await admin.disconnect();
    const producer = kafka.producer({ idempotent: true });
    await producer.connect();
    const stateSchema = await codec.register(topics.subjectState.subject, subjectStateChangeAvro);
    await producer.send({
      topic: topics.subjectState.name,
      messages: lines('subject-state.ndjson').map((c) => ({
        key: `${c.tenantId}/${c.subjectId}`,
        value: stateSchema.encode(toAvro(subjectStateChangeAvro, c)),
      })),
    });
    const eventSchema = await codec.register(topics.accessEvents.subject, accessEventAvro);
    await producer.send({
      topic: topics.accessEvents.name,
      messages: lines('events.ndjson').map((e) => {
        const actor = e.actor as { id: string };
        // The share without a recipient cannot be Avro-encoded as a valid event; send it as JSON
        // bytes, as a misbehaving producer would, to exercise the dead-letter path.
        if (e.action === 'share' && !e.recipient)
          return { key: actor.id, value: Buffer.from(JSON.stringify(e)), headers: { 'trace-id': 'bad-1' } };
        return { key: actor.id, value: eventSchema.encode(toAvro(accessEventAvro, { recordCount: 1, ...e })) };
      }),
    });
    await producer.disconnect();
    enforcer = new Enforcer({
      kafka,
      codec,
      topics,
      logger,
      judge: await createPolicyJudge(specFixtures.bundle),
      groupId: `${topics.accessEvents.name}-enforcer`,
      transactionalId: `${topics.accessEvents.name}-enforcer-0`,
    });
    await enforcer.start();
  });

  afterAll(async () => {
    await enforcer?.stop();
    for (const c of consumers) await c.disconnect();
  });

  async function readAll<T>(
    topic: string,
    n: number,
    decode: (v: Buffer | null, where: { partition: number; offset: string }) => Promise<T>,
  ): Promise<T[]> {
    const consumer = kafka.consumer({ groupId: `${topic}-reader`, readUncommitted: false });
    consumers.push(consumer);
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    const out: T[] = [];
    await consumer.run({
      eachMessage: async ({ partition, message }) => {
        out.push(await decode(message.value, { partition, offset: message.offset }));
      },
    });
    await waitFor(() => out.length >= n, { what: `${n} records on ${topic}`, detail: () => `read ${out.length}` });
    return out;
  }

  it('judges every valid example as expected', async () => {
    const expected = lines('expected.ndjson').filter((x) => x.outcome !== 'invalid');
    const decisions = await readAll(topics.decisions.name, expected.length, async (v) =>
      fromAvro<Decision>(decisionAvro, (await codec.decode(v)).value),
    );
    const got = decisions
      .map((d) => ({ eventId: d.eventId, outcome: d.outcome, codes: d.reasons.map((r) => r.code).sort() }))
      .sort((a, b) => a.eventId.localeCompare(b.eventId));
    expect(got).toEqual(expected);
    expect(new Set(decisions.map((d) => d.policyVersion)).size).toBe(1);
  });

  it('sends the undecodable record to the DLQ with its bytes and where it came from', async () => {
    const [letter] = await readAll(topics.accessEventsDlq.name, 1, async (v) =>
      fromAvro<{
        reason: string;
        step: string;
        sourceTopic: string;
        partition: number;
        offset: string;
        value: Uint8Array;
        key: Uint8Array;
        headers: { key: string; value: Uint8Array | null }[];
      }>(deadLetterAvro, (await codec.decode(v)).value),
    );
    expect(letter?.step).toBe('decode');
    expect(letter?.sourceTopic).toBe(topics.accessEvents.name);
    expect(JSON.parse(Buffer.from(letter!.value).toString()).eventId).toBe('00000000-0000-7000-8000-000000000019');
    expect(Buffer.from(letter!.key).toString()).toBe('s-asha');
    expect(letter?.reason).toMatch(/magic byte/);
    expect(letter?.headers.map((h) => [h.key, Buffer.from(h.value ?? []).toString()])).toEqual([['trace-id', 'bad-1']]);
    // where it came from: that offset of that partition holds these very bytes
    const events = await readAll(topics.accessEvents.name, lines('events.ndjson').length, async (v, where) => ({ v, ...where }));
    const source = events.find((e) => e.partition === letter?.partition && e.offset === letter?.offset);
    expect(source?.v?.equals(Buffer.from(letter!.value))).toBe(true);
  });
});
