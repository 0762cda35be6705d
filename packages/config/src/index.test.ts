import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ConfigError, commonEnv, env, parseEnv } from './index.js';

describe('parseEnv', () => {
  it('applies defaults and converts types', () => {
    const c = parseEnv(commonEnv, { KAFKA_BROKERS: 'a:1, b:2', SHUTDOWN_TIMEOUT_MS: '500' });
    expect(c.KAFKA_BROKERS).toEqual(['a:1', 'b:2']);
    expect(c.SHUTDOWN_TIMEOUT_MS).toBe(500);
    expect(c.LOG_LEVEL).toBe('info');
  });
  it('names every bad variable, never a silent NaN', () => {
    const s = z.object({ N: env.int(), U: env.url(), D: env.duration() });
    try {
      parseEnv(s, { N: 'twelve', U: 'nope', D: '5 minutes' });
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      expect((e as ConfigError).issues.map((i) => i.variable).sort()).toEqual(['D', 'N', 'U']);
    }
  });
  it('parses durations', () => {
    expect(parseEnv(z.object({ D: env.duration() }), { D: '5m' }).D).toBe(300_000);
  });
});
