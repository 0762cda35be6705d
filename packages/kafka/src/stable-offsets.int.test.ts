/**
 * `admin.fetchOffsets({ requireStable: true })` (the kafkajs patch's OffsetFetch v7): while a
 * transaction that commits offsets for a partition is open, the plain read answers the offset from
 * before it and the stable one waits; once the transaction commits, the stable read answers the new
 * offset. The enforcer reads where to resume this way (its last commit may still be writing its
 * offsets, for a whole broker restart).
 */
import { infraEnv, uniquePrefix } from '@custos/test/support';
import { afterAll, describe, expect, it } from 'vitest';
import { createKafka, ensureTopics } from './client.js';

describe('committed offsets read stable (OffsetFetch require_stable)', () => {
  const { brokers } = infraEnv();
  const prefix = uniquePrefix('stable');
  const kafka = createKafka({ brokers, clientId: 'stable-offsets-test' });
  const admin = kafka.admin();
  const topic = `${prefix}in`;
  const groupId = `${prefix}group`;
  afterAll(async () => {
    await admin.deleteTopics({ topics: [topic] }).catch(() => {});
    await admin.disconnect();
  });

  it('waits for an open transaction that commits offsets, then answers its offset', async () => {
    await admin.connect();
    await ensureTopics(admin, [{ name: topic, partitions: 1, config: {} }]);
    await admin.setOffsets({ groupId, topic, partitions: [{ partition: 0, offset: '5' }] });
    const read = async (requireStable: boolean) =>
      (await admin.fetchOffsets({ groupId, topics: [topic], requireStable }))[0]?.partitions[0]?.offset;
    expect(await read(true)).toBe('5');

    const producer = kafka.producer({ transactionalId: `${prefix}txn`, idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    const txn = await producer.transaction();
    await txn.send({ topic, messages: [{ value: 'x' }] });
    await txn.sendOffsets({ consumerGroupId: groupId, topics: [{ topic, partitions: [{ partition: 0, offset: '9' }] }] });

    // open: the plain read answers the offset from before the transaction, the stable one waits
    expect(await read(false)).toBe('5');
    let stable: string | undefined;
    const pending = read(true).then((o) => {
      stable = o;
    });
    await new Promise((r) => setTimeout(r, 1500));
    expect(stable).toBeUndefined();

    await txn.commit();
    await pending;
    expect(stable).toBe('9');
    await producer.disconnect();
  }, 60_000);
});
