/**
 * The patched kafkajs send loop (src/producer/sendMessages.js) retried after a leader moved: every
 * partition is written, none twice. Stock kafkajs kept acknowledgements per broker and on a retry
 * skipped every broker that had answered; a partition whose leader had moved to such a broker was
 * never sent again, yet the send resolved (acknowledged events lost when a cluster's leader was
 * killed). Runs kafkajs' own send loop against the scripted cluster of the start-up probe
 * (scripted-cluster.js; no broker).
 */
import { describe, expect, it } from 'vitest';
import { probeMovedPartitions } from './kafka-patch.js';
import { connectionError, scriptedCluster as scripted } from './scripted-cluster.js';

const messages = (n: number) => Array.from({ length: n }, (_, i) => ({ value: `m${i}` }));

describe('kafkajs patch: a send retried after a leader moved', () => {
  it('the start-up probe finds the fix', async () => {
    expect(await probeMovedPartitions()).toBe(true);
  });

  it('writes the partition whose leader moved to a broker that had already answered, with its first sequence', async () => {
    const leaders = new Map([
      [0, 1],
      [1, 2],
      [2, 3],
    ]);
    let killed = false;
    const s = scripted(leaders, (nodeId) => {
      if (nodeId === 1 && !killed) {
        killed = true;
        leaders.set(0, 2); // SIGKILLed; broker 2 is elected for partition 0
        throw connectionError('Connection error: connect ECONNREFUSED');
      }
    });
    const acks = await s.send({ acks: -1, timeout: 1000, topicMessages: [{ topic: 't', messages: messages(6) }] });
    expect(acks.map((a) => a.partition).sort()).toEqual([0, 1, 2]);
    // every message written once, each partition once, partition 0 on its new leader
    expect(s.produced.flatMap((p) => p.values).sort()).toEqual(['m0', 'm1', 'm2', 'm3', 'm4', 'm5']);
    expect(s.produced.map((p) => `${p.partition}@${p.broker}`).sort()).toEqual(['0@2', '1@2', '2@3']);
    // the failed attempt's sequence numbers were handed back: the retry starts where the first did
    expect(s.produced.find((p) => p.partition === 0)?.firstSequence).toBe(0);
    expect([...s.sequences].sort()).toEqual([
      [0, 2],
      [1, 2],
      [2, 2],
    ]);
  });

  it('sends each partition the same messages on a retry (grouped once, even by a round-robin partitioner)', async () => {
    const leaders = new Map([
      [0, 1],
      [1, 2],
    ]);
    let failures = 0;
    const s = scripted(leaders, (nodeId) => {
      if (nodeId === 1 && failures++ < 2) throw connectionError('Connection error: connect ECONNRESET');
    });
    await s.send({ acks: -1, timeout: 1000, topicMessages: [{ topic: 't', messages: messages(5) }] });
    const byPartition = Object.fromEntries(s.produced.map((p) => [p.partition, p.values]));
    expect(byPartition).toEqual({ 0: ['m0', 'm2', 'm4'], 1: ['m1', 'm3'] });
  });

  it('retries only once every broker has answered (no partition in flight twice)', async () => {
    const leaders = new Map([
      [0, 1],
      [1, 2],
    ]);
    let failed = false;
    const s = scripted(leaders, async (nodeId) => {
      if (nodeId === 1 && !failed) {
        failed = true;
        throw connectionError('Connection error: connect ECONNRESET');
      }
      // broker 2 answers slowly: a retry started meanwhile would send its partition again
      if (nodeId === 2) await new Promise((r) => setTimeout(r, 50));
    });
    await s.send({ acks: -1, timeout: 1000, topicMessages: [{ topic: 't', messages: messages(4) }] });
    expect(s.produced.map((p) => p.partition).sort()).toEqual([0, 1]);
  });

  it('a batch sent again after a failed send writes only the partitions not acknowledged before (`acknowledged`)', async () => {
    const leaders = new Map([
      [0, 1],
      [1, 2],
    ]);
    let electing = true;
    const s = scripted(leaders, (nodeId) => {
      // the leader of partition 0 is gone and nobody is elected within the send's retries
      if (nodeId === 1 && electing) throw connectionError('Connection error: connect ECONNREFUSED');
    });
    const acknowledged = new Set<string>();
    const batch = { acks: -1, timeout: 1000, topicMessages: [{ topic: 't', messages: messages(4) }], acknowledged };
    await expect(s.send(batch)).rejects.toThrow();
    expect([...acknowledged]).toEqual(['t\u00001']);
    electing = false;
    leaders.set(0, 2);
    await s.send(batch);
    // partition 1 once (its sequence numbers were not reused for other records), partition 0 once
    expect(s.produced.map((p) => `${p.partition}:${p.values.join(',')}@${p.firstSequence}`).sort()).toEqual([
      '0:m0,m2@0',
      '1:m1,m3@0',
    ]);
  });

  it('a partition without a leader (an election under way) is retried, not left out', async () => {
    const leaders = new Map([
      [0, 1],
      [1, 2],
    ]);
    leaders.set(0, -1); // an election: the partition is known, its leader not yet
    let refreshed = 0;
    // the election ends when the send, having found no leader, asks for fresh metadata to retry
    const s = scripted(
      leaders,
      () => {},
      () => {
        refreshed++;
        leaders.set(0, 2);
      },
    );
    await s.send({ acks: -1, timeout: 1000, topicMessages: [{ topic: 't', messages: messages(2) }] });
    expect(refreshed).toBe(1);
    expect(s.produced.map((p) => p.partition).sort()).toEqual([0, 1]);
  });
});
