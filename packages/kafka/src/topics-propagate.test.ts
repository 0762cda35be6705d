import type { Admin } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { clusterReplicationFactor, ensureTopics, whileTopicsPropagate } from './client.js';

const protocolError = (type: string) => Object.assign(new Error(type), { type, retriable: true });

describe('whileTopicsPropagate', () => {
  it('asks again while a broker does not know the topic yet', async () => {
    let calls = 0;
    const r = await whileTopicsPropagate(async () => {
      if (++calls < 3) throw protocolError('UNKNOWN_TOPIC_OR_PARTITION');
      return 'subscribed';
    });
    expect(r).toBe('subscribed');
    expect(calls).toBe(3);
  });

  it('passes any other error on at once', async () => {
    let calls = 0;
    await expect(
      whileTopicsPropagate(async () => {
        calls++;
        throw protocolError('TOPIC_AUTHORIZATION_FAILED');
      }),
    ).rejects.toThrow('TOPIC_AUTHORIZATION_FAILED');
    expect(calls).toBe(1);
  });

  it('gives up on a topic that does not exist after the timeout', async () => {
    await expect(
      whileTopicsPropagate(async () => {
        throw protocolError('UNKNOWN_TOPIC_OR_PARTITION');
      }, 300),
    ).rejects.toThrow('UNKNOWN_TOPIC_OR_PARTITION');
  });
});

/** An admin client that answers what these functions ask. */
function fakeAdmin(o: { brokers: number; defaultRf?: string; describeFails?: boolean; existing?: string[] }) {
  const created: { topic: string; replicationFactor?: number }[] = [];
  const admin = {
    listTopics: async () => o.existing ?? [],
    describeCluster: async () => ({ brokers: Array.from({ length: o.brokers }, (_, i) => ({ nodeId: i + 1 })) }),
    describeConfigs: async () => {
      if (o.describeFails) throw new Error('not authorized');
      return {
        resources: [
          { configEntries: o.defaultRf ? [{ configName: 'default.replication.factor', configValue: o.defaultRf }] : [] },
        ],
      };
    },
    createTopics: async ({ topics }: { topics: { topic: string; replicationFactor?: number }[] }) => {
      created.push(...topics);
      return true;
    },
    fetchTopicMetadata: async ({ topics }: { topics: string[] }) => ({
      topics: topics.map((name) => ({ name, partitions: [{ partitionId: 0, leader: 1 }] })),
    }),
  };
  return { admin: admin as unknown as Admin, created };
}

describe('topics take the cluster replication factor', () => {
  it("uses the brokers' default.replication.factor", async () => {
    const { admin, created } = fakeAdmin({ brokers: 3, defaultRf: '3' });
    await ensureTopics(admin, [{ name: 'a', partitions: 6, config: {} }]);
    expect(created).toMatchObject([{ topic: 'a', replicationFactor: 3 }]);
  });

  it('one broker: 1', async () => {
    expect(await clusterReplicationFactor(fakeAdmin({ brokers: 1, defaultRf: '1' }).admin)).toBe(1);
  });

  it('without an answer about the brokers’ configs: the number of brokers, at most 3', async () => {
    expect(await clusterReplicationFactor(fakeAdmin({ brokers: 5, describeFails: true }).admin)).toBe(3);
    expect(await clusterReplicationFactor(fakeAdmin({ brokers: 2, describeFails: true }).admin)).toBe(2);
  });

  it('a given replication factor wins, and existing topics are left alone', async () => {
    const { admin, created } = fakeAdmin({ brokers: 3, defaultRf: '3', existing: ['b'] });
    await ensureTopics(
      admin,
      [
        { name: 'a', partitions: 1, config: {} },
        { name: 'b', partitions: 1, config: {} },
      ],
      2,
    );
    expect(created).toMatchObject([{ topic: 'a', replicationFactor: 2 }]);
  });
});
