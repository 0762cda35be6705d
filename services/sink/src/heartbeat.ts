/**
 * Heartbeats while a batch is being stored.
 *
 * kafkajs has no heartbeat thread: a member heartbeats only when a batch handler (or the runner
 * between batches) calls `heartbeat()`. The sink calls it after each insert, but the inserts of the
 * partitions stored together are one joint insert (joint-insert.ts), and before it every one of them
 * decodes its batch on the one JS thread. While that insert runs, every partition's handler awaits
 * it and no one heartbeats; an insert (or the decoding before it) that outlasts the session timeout
 * gets the member dropped by the coordinator, its partitions replayed by the next generation.
 *
 * Here each batch heartbeats on a timer for as long as it is being stored. kafkajs sends at most one
 * heartbeat per interval, however many batches ask. A heartbeat that says the group moved on
 * (rebalance, generation or member unknown) is kept and thrown by the batch's own next heartbeat,
 * and marks the batch stale so it stops before its next insert rather than storing for a generation
 * that no longer owns its partition.
 */
import type { EachBatchPayload } from '@custos/kafka';

const GROUP_MOVED_ON = new Set(['REBALANCE_IN_PROGRESS', 'ILLEGAL_GENERATION', 'UNKNOWN_MEMBER_ID', 'NOT_COORDINATOR_FOR_GROUP']);

export interface KeptAlive {
  /** the payload, whose `heartbeat` throws once the group moved on and whose `isStale` then says so */
  payload: EachBatchPayload;
  /** stop the timer (the batch is done) */
  stop(): void;
}

export function keepAlive(payload: EachBatchPayload, intervalMs: number): KeptAlive {
  let movedOn: unknown;
  const timer = setInterval(() => {
    payload.heartbeat().catch((err: unknown) => {
      if (GROUP_MOVED_ON.has(String((err as { type?: unknown }).type))) movedOn ??= err;
      // Anything else (a connection being re-established): the next heartbeat tries again.
    });
  }, intervalMs);
  timer.unref();
  return {
    payload: {
      ...payload,
      heartbeat: async () => {
        if (movedOn !== undefined) throw movedOn;
        await payload.heartbeat();
      },
      isStale: () => movedOn !== undefined || payload.isStale(),
    },
    stop: () => clearInterval(timer),
  };
}
