/**
 * The process parses its environment once (its main); the API's library code takes what it needs as
 * parameters and reads nothing from process.env behind its caller's back.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { loadDirectory } from './app.js';
import { loadApiEnv } from './config.js';
import { emptyStore, startTestApi, TEST_KEYS } from './testing/index.js';

const saved = { ...process.env };
afterEach(() => {
  for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
  Object.assign(process.env, saved);
});

describe('the API reads no environment of its own', () => {
  it('a policy file, rate limit or key in process.env changes nothing the caller did not pass', async () => {
    process.env.POLICY_FILE = '/nonexistent/bundle.json';
    process.env.API_RATE_LIMIT_PER_MIN = '1';
    process.env.API_KEYS = JSON.stringify([
      { id: 'env', key: 'not-passed-0123456789abcdef', staffId: 's-dev', role: 'admin', tenants: ['*'] },
    ]);
    expect(loadDirectory().staff.size).toBeGreaterThan(0);
    // no limits passed: the documented defaults, not the environment's 1 request per minute
    const api = await startTestApi({ store: emptyStore(), limits: undefined });
    try {
      const me = () =>
        fetch(`${api.url}/v1/me`, { headers: { authorization: `Bearer ${TEST_KEYS.admin.key}` } }).then((r) => r.status);
      expect([await me(), await me(), await me()]).toEqual([200, 200, 200]);
      const envKey = await fetch(`${api.url}/v1/me`, { headers: { authorization: 'Bearer not-passed-0123456789abcdef' } });
      expect(envKey.status).toBe(401);
    } finally {
      await api.close();
    }
  });

  it('the settings come from the source given', () => {
    expect(loadApiEnv({ API_RATE_LIMIT_PER_MIN: '7' }).API_RATE_LIMIT_PER_MIN).toBe(7);
    process.env.API_RATE_LIMIT_PER_MIN = '1';
    expect(loadApiEnv({}).API_RATE_LIMIT_PER_MIN).not.toBe(1);
  });
});
