/**
 * What changes while the enforcer runs, on real Kafka and a real registry: subject state produced
 * while running applies to later events, and policy bundles reload from the policy-bundles topic
 * and from the watched file; an invalid bundle is rejected (and dead-lettered when it came from the
 * topic) while the previous policy keeps judging.
 */
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLogger } from '@custos/config';
import { AvroCodec, type Consumer, createKafka, ensureTopics } from '@custos/kafka';
import { publishBundle } from '@custos/policy/follow';
import { type Decision, deadLetterAvro, fromAvro, subjectStateChangeAvro, toAvro } from '@custos/schemas';
import { infraEnv, testTopics, waitFor } from '@custos/test/support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Enforcer } from './enforcer.js';
import { createPolicyJudge, type PolicyJudge } from './judge.js';
import { type DecisionReader, eventProducer, makeEvent, readDecisions } from './test-support.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const reference = join(root, 'policies', 'example-org.json');

type Bundle = { version: string; roles: Record<string, { id: string; purposes: string[] }[]> };
const base = () => JSON.parse(readFileSync(reference, 'utf8')) as Bundle;
/** the reference bundle, renamed, with support agents also allowed to read for service.delivery */
function widened(version: string): string {
  const b = base();
  b.version = version;
  const g = b.roles.support_agent?.find((x) => x.id === 'G-SUP-1');
  g?.purposes.push('service.delivery');
  return JSON.stringify(b, null, 2);
}

describe('enforcer: state and policy change while running', () => {
  const { brokers, registryUrl } = infraEnv();
  const topics = testTopics('enforcer-live');
  const logger = createLogger('enforcer-live-test', 'warn');
  const kafka = createKafka({ brokers, clientId: 'enforcer-live-test', logger });
  const codec = AvroCodec.connect(registryUrl);
  const dir = mkdtempSync(join(tmpdir(), 'custos-enforcer-policy-'));
  const policyFile = join(dir, 'policy.json');
  let enforcer: Enforcer;
  let judge: PolicyJudge;
  let reader: DecisionReader;
  let events: Awaited<ReturnType<typeof eventProducer>>;
  const admin = kafka.admin();
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  let dlqConsumer: Consumer | undefined;

  const decided = (eventId: string) =>
    waitFor(() => reader.decisions.find((d) => d.eventId === eventId), { what: `a decision for ${eventId}`, timeoutMs: 30_000 });
  async function judgeOne(over: Parameters<typeof makeEvent>[0]): Promise<Decision> {
    const e = makeEvent(over);
    await events.send([e]);
    return decided(e.eventId as string);
  }
  const delivery = { purpose: 'service.delivery' };

  beforeAll(async () => {
    copyFileSync(reference, policyFile);
    await admin.connect();
    await ensureTopics(admin, Object.values(topics));
    await producer.connect();
    judge = await createPolicyJudge(policyFile);
    enforcer = new Enforcer({ kafka, codec, topics, logger, judge, groupId: `${topics.accessEvents.name}-enforcer` });
    await enforcer.start();
    events = await eventProducer(kafka, codec, topics);
    reader = await readDecisions(kafka, codec, topics.decisions.name);
  });

  afterAll(async () => {
    await enforcer?.stop();
    await reader?.stop();
    await dlqConsumer?.disconnect();
    await events?.close();
    await producer.disconnect();
    await admin.disconnect();
    rmSync(dir, { recursive: true, force: true });
  });

  it('applies a subject-state change produced while running to later events', async () => {
    const subject = { id: 'cust-erased-live', type: 'customer' };
    const before = await judgeOne({ subject });
    expect(before.reasons.map((r) => r.code)).not.toContain('SUBJECT_ERASED');

    const schema = await codec.register(topics.subjectState.subject, subjectStateChangeAvro);
    const change = {
      eventId: '0190a000-0000-7000-8000-00000000e001',
      occurredAt: new Date(Date.now() - 60_000).toISOString(),
      tenantId: 'spera',
      subjectId: subject.id,
      change: 'erasure_completed',
    };
    await producer.send({
      topic: topics.subjectState.name,
      messages: [{ key: `spera/${subject.id}`, value: schema.encode(toAvro(subjectStateChangeAvro, change)) }],
    });
    await waitFor(() => judge.subjectState.get('spera', subject.id), { what: 'the change to reach the table' });

    const after = await judgeOne({ subject });
    expect(after.outcome).toBe('deny');
    expect(after.reasons.map((r) => r.code)).toContain('SUBJECT_ERASED');
  });

  it('reloads a bundle published to policy-bundles, rejects an invalid one and keeps the last good one', async () => {
    const v1 = judge.policyVersion;
    const denied = await judgeOne(delivery);
    expect(denied.outcome).toBe('deny');
    expect(denied.reasons.map((r) => r.code)).toEqual(['PURPOSE_NOT_PERMITTED']);
    expect(denied.policyVersion).toBe(v1);

    await publishBundle(producer, topics.policyBundles.name, widened('spera-topic-2'));
    const v2 = await waitFor(() => judge.policyVersion.startsWith('spera-topic-2+') && judge.policyVersion, {
      what: 'the topic bundle to apply',
    });
    const allowed = await judgeOne(delivery);
    expect(allowed.outcome).toBe('allow');
    expect(allowed.policyVersion).toBe(v2);

    // Structurally fine JSON, but a staff member holds a role that does not exist.
    const broken = JSON.parse(widened('spera-topic-3')) as { staff: { roles: { role: string }[] }[] };
    broken.staff[0]!.roles[0]!.role = 'no_such_role';
    await publishBundle(producer, topics.policyBundles.name, JSON.stringify(broken));
    const rejection = await waitFor(() => enforcer.reloader?.lastRejection, { what: 'the rejection' });
    expect(rejection.source).toBe('topic');
    expect(rejection.issues.map((i) => i.message).join(' ')).toMatch(/no_such_role/);
    expect(judge.policyVersion).toBe(v2);
    const still = await judgeOne(delivery);
    expect(still.outcome).toBe('allow');
    expect(still.policyVersion).toBe(v2);

    const letters = await readDecisionsDlq();
    const letter = await waitFor(() => letters.find((l) => l.step === 'policy-validate'), { what: 'the dead letter' });
    expect(letter.sourceTopic).toBe(topics.policyBundles.name);
    expect(JSON.parse(Buffer.from(letter.value as Uint8Array).toString()).version).toBe('spera-topic-3');
    expect(letter.reason).toMatch(/no_such_role/);
    const rejected = await enforcer.metrics.policyReloads.get();
    expect(rejected.values.find((v) => v.labels.source === 'topic' && v.labels.result === 'rejected')?.value).toBe(1);
  });

  it('reloads the watched bundle file, and keeps the current policy when the file goes bad', async () => {
    const b = base();
    b.version = 'spera-file-4';
    writeFileSync(policyFile, JSON.stringify(b, null, 2));
    const v4 = await waitFor(() => judge.policyVersion.startsWith('spera-file-4+') && judge.policyVersion, {
      what: 'the file bundle to apply',
      timeoutMs: 30_000,
    });
    const denied = await judgeOne(delivery);
    expect(denied.outcome).toBe('deny');
    expect(denied.policyVersion).toBe(v4);

    writeFileSync(policyFile, '{ "version": "half-written", ');
    await waitFor(() => enforcer.reloader?.lastRejection?.source === 'file', { what: 'the file rejection', timeoutMs: 30_000 });
    expect(judge.policyVersion).toBe(v4);
    const still = await judgeOne(delivery);
    expect(still.policyVersion).toBe(v4);
  });

  it('exports its metrics in a registry of its own', async () => {
    const text = await enforcer.metrics.registry.metrics();
    const value = (line: string) =>
      Number(
        text
          .split('\n')
          .find((l) => l.startsWith(line))
          ?.split(' ')
          .at(-1) ?? Number.NaN,
      );
    expect(value('custos_enforcer_events_total')).toBeGreaterThan(0);
    expect(value('custos_enforcer_decisions_total{outcome="deny"}')).toBeGreaterThan(0);
    expect(value('custos_enforcer_decision_reasons_total{code="SUBJECT_ERASED"}')).toBe(1);
    expect(value('custos_enforcer_batch_seconds_count')).toBeGreaterThan(0);
    expect(value('custos_enforcer_dead_letters_total{step="policy-validate"}')).toBe(1);
    expect(text).toMatch(/custos_enforcer_consumer_lag\{partition="\d+"\} \d+/);
    expect(text).toContain(`custos_enforcer_policy_info{version="${judge.policyVersion}"} 1`);
  });

  async function readDecisionsDlq() {
    const out: { step: string; sourceTopic: string; reason: string; value: Uint8Array | null }[] = [];
    const consumer = kafka.consumer({ groupId: `${topics.accessEventsDlq.name}-reader`, maxWaitTimeInMs: 200 });
    await consumer.connect();
    await consumer.subscribe({ topic: topics.accessEventsDlq.name, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        out.push(fromAvro(deadLetterAvro, (await codec.decode(message.value)).value));
      },
    });
    dlqConsumer = consumer;
    return out;
  }
});
