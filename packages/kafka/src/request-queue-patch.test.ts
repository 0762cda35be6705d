/**
 * The kafkajs patch's request-queue change (patches/kafkajs@2.2.4.patch): after a response, upstream
 * kafkajs schedules a check of pending requests with a delay of `throttledUntil - now`, negative when
 * the connection was never throttled (-1 − now). Node 24 warns about that (TimeoutNegativeWarning)
 * and runs it after 1 ms, once per response. Patched, nothing is scheduled when there is nothing to
 * check; a throttled queue, or one with pending requests, still gets its check.
 */
import { createRequire } from 'node:module';
import { waitFor } from '@custos/test/support';
import { afterEach, describe, expect, it } from 'vitest';

const require = createRequire(import.meta.url);
// kafkajs has no "exports" map, so its internals are reachable.
const RequestQueue = require('kafkajs/src/network/requestQueue/index.js') as new (
  opts: object,
) => {
  pending: unknown[];
  throttledUntil: number;
  throttleCheckTimeoutId: ReturnType<typeof setTimeout> | null;
  scheduleCheckPendingRequests(): void;
  destroy(): void;
};

const queue = () =>
  new RequestQueue({
    maxInFlightRequests: 1,
    requestTimeout: 30_000,
    enforceRequestTimeout: true,
    clientId: 'test',
    broker: 'localhost:9092',
    logger: { debug() {}, info() {}, warn() {}, error() {} },
  });

describe('kafkajs request queue (patched)', () => {
  const warnings: Error[] = [];
  const onWarning = (w: Error) => warnings.push(w);
  process.on('warning', onWarning);
  afterEach(() => {
    warnings.length = 0;
  });

  it('schedules nothing when never throttled and nothing is pending', async () => {
    const q = queue();
    expect(q.throttledUntil).toBe(-1);
    q.scheduleCheckPendingRequests();
    expect(q.throttleCheckTimeoutId).toBeNull();
    // Warnings are delivered in the order they were raised: once this one has arrived, any warning
    // raised by the scheduling above would have arrived before it.
    process.emitWarning('after scheduling', 'MarkerWarning');
    await waitFor(() => warnings.some((w) => w.name === 'MarkerWarning'), { what: 'the marker warning', timeoutMs: 5000 });
    expect(warnings.filter((w) => w.name === 'TimeoutNegativeWarning')).toEqual([]);
    q.destroy();
  });

  it('still checks later when throttled, or when requests are pending', () => {
    const throttled = queue();
    throttled.throttledUntil = Date.now() + 10_000;
    throttled.scheduleCheckPendingRequests();
    expect(throttled.throttleCheckTimeoutId).not.toBeNull();
    throttled.destroy();

    const pending = queue();
    pending.pending.push({});
    pending.scheduleCheckPendingRequests();
    expect(pending.throttleCheckTimeoutId).not.toBeNull();
    pending.pending.length = 0;
    pending.destroy();
  });
});
