/**
 * Zombie fencing: while the enforcer streams, another producer initialises the transactional id of
 * one of its partitions (as a new owner would). The enforcer's next commit there is fenced: it
 * aborts, pauses the partition, and, as no rebalance follows, takes it back after two session
 * timeouts. Read committed, every eventId is still decided exactly once.
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
const ACTORS = ['s-asha', 's-vikram', 's-meera', 's-rohan', 's-priya', 's-arjun', 's-kavya', 's-dev', 's-neha', 's-ira'];

describe('enforcer: fenced by another producer', () => {
  const { brokers, registryUrl } = infraEnv();
  const topics = testTopics('enforcer-fence');
  const logger = createLogger('enforcer-fence-test', 'error');
  const kafka = createKafka({ brokers, clientId: 'enforcer-fence-test', logger });
  const codec = AvroCodec.connect(registryUrl);
  let enforcer: Enforcer | undefined;
  let reader: DecisionReader | undefined;

  afterAll(async () => {
    await enforcer?.stop();
    await reader?.stop();
  });

  it('aborts, pauses, takes the partition back, and still decides each event once', async () => {
    const admin = kafka.admin();
    await admin.connect();
    await ensureTopics(admin, Object.values(topics));
    await admin.disconnect();
    reader = await readDecisions(kafka, codec, topics.decisions.name);
    enforcer = new Enforcer({
      kafka,
      codec,
      topics,
      logger,
      groupId: `${topics.accessEvents.name}-enforcer`,
      judge: await createPolicyJudge(policyFile),
      sessionTimeoutMs: 6000,
      maxBytesPerPartition: 16 * 1024,
      // keeps a transaction open most of the time, so the fence lands inside one
      faultInjection: { pauseBeforeCommitMs: 200 },
    });
    await enforcer.start();
    const producer = await eventProducer(kafka, codec, topics);
    const sent: EventInput[] = [];
    let noticed = false;
    let extra = 10;
    // Streams until the fence has been noticed, then 10 more chunks.
    const stream = (async () => {
      for (let k = 0; !noticed || extra-- > 0; k++) {
        const chunk = Array.from({ length: 50 }, (_, i) =>
          makeEvent({ actor: { id: ACTORS[(k + i) % ACTORS.length]!, type: 'staff' } }),
        );
        await producer.send(chunk);
        sent.push(...chunk);
        await pace(100);
      }
    })();
    await waitFor(() => reader!.decisions.length >= 300, { what: 'some decisions', timeoutMs: 60_000 });

    // New "owners" of the partitions' transactional ids (not members of the group).
    const rogues = [0, 1, 2].map((p) =>
      kafka.producer({ transactionalId: enforcer!.transactionalIdFor(p), idempotent: true, maxInFlightRequests: 1 }),
    );
    for (const r of rogues) {
      await r.connect();
      // kafkajs initialises the transactional id when a transaction begins; an empty one sends nothing
      await (await r.transaction()).abort();
    }
    await waitFor(() => enforcer!.stats.aborted > 0, { what: 'the fence to be noticed', timeoutMs: 30_000 });
    noticed = true;
    const fenced = (await enforcer.metrics.fenced.get()).values[0]?.value ?? 0;
    expect(fenced).toBeGreaterThan(0);
    for (const r of rogues) await r.disconnect();

    await stream;
    await producer.close();
    // Partition 0 is paused for two session timeouts (12 s), then taken back.
    await waitFor(() => reader!.decisions.length >= sent.length, { what: `all ${sent.length} decisions`, timeoutMs: 90_000 });
    await waitFor(() => reader!.caughtUp(), { what: 'the reader to reach the end of the decisions topic' });
    const counts = countIds(reader.decisions);
    expect([...counts].filter(([, n]) => n > 1)).toEqual([]);
    expect(counts.size).toBe(sent.length);
  }, 180_000);
});
