/**
 * BULK_ACCESS windows survive a restart: an actor touches 150 distinct subjects, the enforcer is
 * stopped and a fresh one (no memory of the first) takes over, then 60 more subjects within the
 * window: the flag fires on the 201st distinct subject (threshold 200), not on the 351st.
 */
import { fileURLToPath } from 'node:url';
import { createLogger } from '@custos/config';
import { AvroCodec, createKafka } from '@custos/kafka';
import { infraEnv, testTopics, waitFor } from '@custos/test/support';
import { afterAll, describe, expect, it } from 'vitest';
import { Enforcer } from './enforcer.js';
import { createPolicyJudge } from './judge.js';
import { type DecisionReader, eventProducer, makeEvent, readDecisions } from './test-support.js';

const policyFile = fileURLToPath(new URL('../../../policies/example-org.json', import.meta.url));

describe('enforcer: bulk-access windows across a restart', () => {
  const { brokers, registryUrl } = infraEnv();
  const topics = testTopics('enforcer-bulk');
  const logger = createLogger('enforcer-bulk-test', 'warn');
  const kafka = createKafka({ brokers, clientId: 'enforcer-bulk-test', logger });
  const codec = AvroCodec.connect(registryUrl);
  const groupId = `${topics.accessEvents.name}-enforcer`;
  const running: Enforcer[] = [];
  let reader: DecisionReader | undefined;

  async function startEnforcer(judgeInWorker: boolean): Promise<Enforcer> {
    const e = new Enforcer({ kafka, codec, topics, logger, groupId, judgeInWorker, judge: await createPolicyJudge(policyFile) });
    await e.start();
    running.push(e);
    return e;
  }

  afterAll(async () => {
    for (const e of running) await e.stop();
    await reader?.stop();
  });

  it('fires on the 201st distinct subject when 150 were seen before the restart', async () => {
    // The first judges on the consumer's thread, the second on a worker: the state carries over either way.
    const first = await startEnforcer(false);
    const producer = await eventProducer(kafka, codec, topics);
    reader = await readDecisions(kafka, codec, topics.decisions.name);
    const t0 = Date.now() - 5 * 60_000;
    const evs = Array.from({ length: 210 }, (_, i) =>
      makeEvent({ occurredAt: new Date(t0 + i * 100).toISOString(), subject: { id: `cust-bulk-${i + 1}`, type: 'customer' } }),
    );
    await producer.send(evs.slice(0, 150));
    await waitFor(() => reader!.decisions.length >= 150, { what: '150 decisions' });
    await first.stop();

    const second = await startEnforcer(true);
    await producer.send(evs.slice(150));
    await waitFor(() => reader!.decisions.length >= 210, { what: '210 decisions' });
    await producer.close();

    const byId = new Map(reader.decisions.map((d) => [d.eventId, d]));
    expect(byId.size).toBe(210);
    const flagged = evs.map((e) => byId.get(e.eventId as string)!.reasons.some((r) => r.code === 'BULK_ACCESS'));
    expect(flagged.indexOf(true)).toBe(200); // the 201st event, 0-based 200
    expect(flagged.slice(200).every(Boolean)).toBe(true);
    // The window was rebuilt by re-reading, from the lookback offset committed with the last batch.
    expect(second.stats.replayed).toBe(150);
    const restores = await second.metrics.bulkRestores.get();
    expect(restores.values.find((v) => v.labels.source === 'metadata')?.value).toBeGreaterThan(0);
  });
});
