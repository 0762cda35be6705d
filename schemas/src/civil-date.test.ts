import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatInstant } from './civil-date.js';

describe('formatInstant', () => {
  it('formats exactly as Date#toISOString over the whole range it is used for', () => {
    const ms = fc.oneof(
      fc.integer({ min: 0, max: 253_402_300_799_999 }),
      fc.constantFrom(0, 1, 999, 1000, 86_399_999, 86_400_000, 951_782_400_000, 253_402_300_799_999),
    );
    // runs of nearby instants too: the day's and the last two minutes' prefixes are cached across
    // calls (steps within a minute or two, and across days)
    const step = fc.oneof(fc.integer({ min: -90_000_000, max: 90_000_000 }), fc.integer({ min: -120_000, max: 120_000 }));
    fc.assert(
      fc.property(ms, fc.array(step, { maxLength: 8 }), (t, steps) => {
        for (const x of [t, ...steps.map((d) => t + d)]) {
          if (x < 0 || x > 253_402_300_799_999) continue;
          expect(formatInstant(x)).toBe(new Date(x).toISOString());
        }
      }),
      { numRuns: 5000 },
    );
  });
});

describe('formatInstant, day by day', () => {
  it('gets every calendar day of 1970–9999 right (its date is computed, not formatted by Date)', () => {
    let wrong = 0;
    for (let day = 0; day <= 2_932_896; day++) {
      const t = day * 86_400_000 + ((day * 7_919) % 86_400_000);
      if (formatInstant(t) !== new Date(t).toISOString()) wrong++;
    }
    expect(wrong).toBe(0);
  });
});

describe('formatInstant outside the fast range', () => {
  it('is toISOString (6-digit years, fractions), and throws where it throws', () => {
    for (const x of [-1, -62_167_219_200_001, 253_402_300_800_000, 8_640_000_000_000_000, 1.5]) {
      expect(formatInstant(x)).toBe(new Date(x).toISOString());
    }
    expect(() => formatInstant(Number.NaN)).toThrow(RangeError);
  });
});
