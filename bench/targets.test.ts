import { describe, expect, it } from 'vitest';
import { describeTarget, meets, TARGETS } from './targets.js';

describe('benchmark targets', () => {
  it('judges bounds and ratios, and gives no verdict without a target', () => {
    expect(meets({ max: 5 }, 5, undefined)).toBe(true);
    expect(meets({ max: 5 }, 5.1, undefined)).toBe(false);
    expect(meets({ below: 200 }, 200, undefined)).toBe(false);
    expect(meets({ min: 50_000, minRatio: 0.9 }, 60_000, 0.95)).toBe(true);
    expect(meets({ min: 50_000, minRatio: 0.9 }, 60_000, 0.85)).toBe(false);
    // a ratio target with no peer measured is not met
    expect(meets({ min: 50_000, minRatio: 0.9 }, 60_000, undefined)).toBe(false);
    expect(meets(undefined, 1, undefined)).toBeUndefined();
  });

  it('describes each target of the suite', () => {
    expect(describeTarget(TARGETS['sdk.throughput_eps']!)).toBe('≥ 50000, ×0.9');
    expect(describeTarget(TARGETS['api.subject_report_p95_ms']!)).toBe('≤ 100');
  });
});
