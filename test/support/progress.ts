/**
 * How far a Kafka consumer has read, per partition, for tests that must know it has seen everything
 * (e.g. that no duplicate is still on its way): compare with the topic's end offsets.
 */

/** The part of a kafkajs consumer this needs. */
interface ConsumerEvents {
  events: { END_BATCH_PROCESS: string };
  on(event: string, listener: (e: { payload: { partition: number; lastOffset: string } }) => void): unknown;
}

/** Call before `consumer.run`. Control records (transaction markers) count as read. */
export function trackProgress(consumer: ConsumerEvents) {
  const next = new Map<number, number>();
  consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
    next.set(payload.partition, Math.max(next.get(payload.partition) ?? 0, Number(payload.lastOffset) + 1));
  });
  return {
    /**
     * Whether every partition has been read up to `ends`, e.g. `admin.fetchTopicOffsets(topic)`
     * (listed at read_committed: the last stable offsets).
     */
    reached(ends: ReadonlyArray<{ partition: number; offset: string }>): boolean {
      return ends.every((p) => (next.get(p.partition) ?? 0) >= Number(p.offset));
    },
  };
}
