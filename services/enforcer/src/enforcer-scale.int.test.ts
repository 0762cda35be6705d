/**
 * Two instances in one consumer group: A runs, B joins mid-stream (partitions split), A stops
 * mid-stream (B takes everything). Read committed, every eventId is decided exactly once, both
 * instances did work, and a heavy actor's BULK_ACCESS count carried across the handovers of its
 * partition (first flag exactly on its 201st distinct subject).
 */
import { fileURLToPath } from 'node:url';
import { createLogger } from '@custos/config';
import { AvroCodec, createKafka, ensureTopics } from '@custos/kafka';
import { infraEnv, pace, testTopics, waitFor } from '@custos/test/support';
import { afterAll, describe, expect, it } from 'vitest';
import { Enforcer } from './enforcer.js';
import { createPolicyJudge } from './judge.js';
import { countIds, type DecisionReader, type EventInput, eventProducer, makeEvent, readDecisions } from './test-support.js';

const policyFile = fileURLToPath(new URL('../../../policies/example-org.json', import.meta.url));
const ACTORS = ['s-asha', 's-vikram', 's-meera', 's-rohan', 's-priya', 's-arjun', 's-kavya', 's-neha', 's-ira'];
const HEAVY = 's-dev';

describe('enforcer: two instances, rebalances mid-stream', () => {
  const { brokers, registryUrl } = infraEnv();
  const topics = testTopics('enforcer-scale');
  const logger = createLogger('enforcer-scale-test', 'warn');
  const kafka = createKafka({ brokers, clientId: 'enforcer-scale-test', logger });
  const codec = AvroCodec.connect(registryUrl);
  const groupId = `${topics.accessEvents.name}-enforcer`;
  const running: Enforcer[] = [];
  let reader: DecisionReader | undefined;

  async function instance(): Promise<Enforcer> {
    const e = new Enforcer({
      kafka,
      codec,
      topics,
      logger,
      groupId,
      judge: await createPolicyJudge(policyFile),
      sessionTimeoutMs: 10_000,
      // small batches: many transactions in flight around each rebalance
      maxBytesPerPartition: 32 * 1024,
    });
    await e.start();
    running.push(e);
    return e;
  }

  afterAll(async () => {
    for (const e of running) await e.stop();
    await reader?.stop();
  });

  it('hands partitions over without loss or duplicates', async () => {
    const admin = kafka.admin();
    await admin.connect();
    await ensureTopics(admin, Object.values(topics));
    await admin.disconnect();
    reader = await readDecisions(kafka, codec, topics.decisions.name);
    const producer = await eventProducer(kafka, codec, topics);
    const sent: EventInput[] = [];
    const heavy: EventInput[] = [];
    const t0 = Date.now() - 5 * 60_000;
    let handedOver = false;
    let extra = 10;
    // 100 events every 100 ms (5 of them the heavy actor on a new subject) until both handovers
    // have happened, then 10 more chunks, and at least 250 heavy events so that the BULK_ACCESS
    // threshold (200 distinct subjects) is crossed however fast the handovers were.
    const HEAVY_MIN = 250;
    const stream = (async () => {
      for (let k = 0; !handedOver || extra-- > 0 || heavy.length < HEAVY_MIN; k++) {
        const chunk = Array.from({ length: 95 }, (_, i) =>
          makeEvent({ actor: { id: ACTORS[(k + i) % ACTORS.length]!, type: 'staff' } }),
        );
        for (let h = 0; h < 5; h++) {
          const n = heavy.length;
          const e = makeEvent({
            actor: { id: HEAVY, type: 'staff' },
            occurredAt: new Date(t0 + n * 100).toISOString(),
            subject: { id: `cust-heavy-${n}`, type: 'customer' },
          });
          heavy.push(e);
          chunk.push(e);
        }
        await producer.send(chunk);
        sent.push(...chunk);
        await pace(100);
      }
    })();

    const a = await instance();
    await waitFor(() => reader!.decisions.length >= 800, { what: 'A to decide 800 events', timeoutMs: 60_000 });
    const b = await instance();
    await waitFor(() => b.stats.events > 0, { what: 'B to decide something', timeoutMs: 60_000 });
    // Both work: the partitions are split, A still judges its share.
    const split = { total: reader.decisions.length, a: a.stats.events };
    await waitFor(() => reader!.decisions.length >= split.total + 500 && a.stats.events > split.a, {
      what: 'more decisions from both instances',
      timeoutMs: 60_000,
    });
    await a.stop();
    handedOver = true;
    await stream;
    await producer.close();
    await waitFor(() => reader!.decisions.length >= sent.length, { what: `all ${sent.length} decisions`, timeoutMs: 90_000 });
    // a duplicate would sit before the end of the topic
    await waitFor(() => reader!.caughtUp(), { what: 'the reader to reach the end of the decisions topic' });

    const counts = countIds(reader.decisions);
    expect([...counts].filter(([, n]) => n > 1)).toEqual([]);
    expect(counts.size).toBe(sent.length);
    expect(sent.every((e) => counts.has(e.eventId as string))).toBe(true);
    expect(a.stats.events).toBeGreaterThan(0);
    expect(b.stats.events).toBeGreaterThan(0);

    expect(heavy.length).toBeGreaterThanOrEqual(HEAVY_MIN);
    const byId = new Map(reader.decisions.map((d) => [d.eventId, d]));
    const flagged = heavy.map((e) => byId.get(e.eventId as string)!.reasons.some((r) => r.code === 'BULK_ACCESS'));
    expect(flagged.indexOf(true)).toBe(200);
    expect(flagged.slice(200).every(Boolean)).toBe(true);
  }, 240_000);
});
