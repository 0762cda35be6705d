import { describe, expect, it } from 'vitest';
import { decodeMeta, encodeMeta, LookbackTracker, MAX_FUTURE_SKEW_MS, PartitionState } from './bulk-state.js';

describe('lookback metadata', () => {
  it('round-trips and ignores what is not ours', () => {
    expect(decodeMeta(encodeMeta(12345678901234n))).toBe(12345678901234n);
    expect(decodeMeta(null)).toBeUndefined();
    expect(decodeMeta('')).toBeUndefined();
    expect(decodeMeta('not json')).toBeUndefined();
    expect(decodeMeta('{"v":2,"lookback":"5"}')).toBeUndefined();
    expect(decodeMeta('{"v":1,"lookback":"-5"}')).toBeUndefined();
    expect(encodeMeta(1n).length).toBeLessThan(100);
  });
});

describe('LookbackTracker', () => {
  const span = 1000; // window + lateness, ms
  const now = 1_000_000;

  it('with nothing seen, replays nothing', () => {
    expect(new LookbackTracker(span).lookback(42n)).toBe(42n);
  });

  it('keeps every batch that has an event after W − span', () => {
    const t = new LookbackTracker(span);
    t.add(0n, 100, now);
    t.add(10n, 500, now);
    t.add(20n, 1200, now);
    // W = 1200: batches whose latest event is ≤ 200 no longer matter
    expect(t.lookback(30n)).toBe(10n);
    t.add(30n, 1600, now); // W = 1600, threshold 600: the batch at 10 (≤ 500) goes too
    expect(t.lookback(40n)).toBe(20n);
  });

  it('keeps an older batch whose late event still matters, and everything after it', () => {
    const t = new LookbackTracker(span);
    t.add(0n, 5000, now);
    t.add(10n, 100, now); // late: long before W − span, but an earlier batch still matters
    expect(t.lookback(20n)).toBe(0n);
  });

  it('does not let a far-future event push the rest out of range', () => {
    const t = new LookbackTracker(span);
    t.add(0n, now - 10, now);
    t.add(10n, now + 365 * 86_400_000, now);
    expect(t.latest).toBe(now + MAX_FUTURE_SKEW_MS);
    t.add(20n, now, now);
    expect(t.lookback(30n)).toBe(10n);
  });

  it('stays bounded, and merging only moves the lookback earlier', () => {
    const t = new LookbackTracker(1e12);
    for (let i = 0; i < 20_000; i++) t.add(BigInt(i * 10), i, now);
    expect(t.size).toBeLessThanOrEqual(4097);
    expect(t.lookback(200_000n)).toBe(0n);
  });

  it('ignores batches without a valid event', () => {
    const t = new LookbackTracker(span);
    t.add(0n, Number.NEGATIVE_INFINITY, now);
    expect(t.lookback(5n)).toBe(5n);
  });
});

describe('PartitionState', () => {
  it('replays up to the offset it resumes at', () => {
    const ps = new PartitionState(0, 1_200_000, 100n, 40n);
    expect(ps.replaying).toBe(true);
    ps.expectFetch = 100n;
    expect(ps.replaying).toBe(false);
  });
});
