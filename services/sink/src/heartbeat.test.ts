import type { EachBatchPayload } from '@custos/kafka';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { keepAlive } from './heartbeat.js';

/** A batch payload whose heartbeat answers as `answer` says (the group coordinator's side). */
function payload(answer: () => Promise<void>) {
  const calls = { heartbeats: 0 };
  const p = {
    heartbeat: () => {
      calls.heartbeats += 1;
      return answer();
    },
    isStale: () => false,
  } as unknown as EachBatchPayload;
  return { p, calls };
}

const groupError = (type: string) => Object.assign(new Error(type), { type });

describe('heartbeats while a batch is stored', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('heartbeats every interval until the batch is done', async () => {
    const { p, calls } = payload(() => Promise.resolve());
    const kept = keepAlive(p, 3000);
    await vi.advanceTimersByTimeAsync(30_000);
    expect(calls.heartbeats).toBe(10);
    kept.stop();
    await vi.advanceTimersByTimeAsync(30_000);
    expect(calls.heartbeats).toBe(10);
  });

  it.each(['REBALANCE_IN_PROGRESS', 'UNKNOWN_MEMBER_ID', 'ILLEGAL_GENERATION'])(
    'a heartbeat answered %s makes the batch stale and its next heartbeat throw it',
    async (type) => {
      let fail = false;
      const { p } = payload(() => (fail ? Promise.reject(groupError(type)) : Promise.resolve()));
      const kept = keepAlive(p, 1000);
      await vi.advanceTimersByTimeAsync(1000);
      expect(kept.payload.isStale()).toBe(false);
      await expect(kept.payload.heartbeat()).resolves.toBeUndefined();
      fail = true;
      await vi.advanceTimersByTimeAsync(1000);
      expect(kept.payload.isStale()).toBe(true);
      fail = false;
      await expect(kept.payload.heartbeat()).rejects.toMatchObject({ type });
      kept.stop();
    },
  );

  it('other heartbeat failures (a connection) leave the batch going', async () => {
    const { p } = payload(() => Promise.reject(Object.assign(new Error('Connection error'), { name: 'KafkaJSConnectionError' })));
    const kept = keepAlive(p, 1000);
    await vi.advanceTimersByTimeAsync(5000);
    expect(kept.payload.isStale()).toBe(false);
    kept.stop();
  });
});
