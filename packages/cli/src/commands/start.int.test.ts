/**
 * `custos start --demo` as a person runs it, against the real Kafka, registry and chDB: with output
 * that is not a terminal it logs JSON lines only and prints no banner; on SIGTERM mid-traffic it
 * stops every service gracefully (the sink's final checkpoints and witness included) well within
 * SHUTDOWN_TIMEOUT_MS and exits 0.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { infraEnv, testStore, uniquePrefix, waitFor } from '@custos/test/support';
import { describe, expect, it } from 'vitest';
import { finished, runScript } from '../testing/processes.js';

const BUDGET_MS = 10_000;

describe('custos start', () => {
  it('logs JSON when not on a terminal and stops on SIGTERM within the budget, exit 0', async () => {
    const { brokers, registryUrl } = infraEnv();
    const prefix = uniquePrefix('start');
    const { chdbPath } = testStore('start');
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      KAFKA_BROKERS: brokers.join(','),
      SCHEMA_REGISTRY_URL: registryUrl,
      TOPIC_PREFIX: prefix,
      CHDB_PATH: chdbPath,
      CHECKPOINT_KEY_FILE: join(chdbPath, 'checkpoint.pem'),
      API_PORT: String(20_000 + Math.floor(Math.random() * 20_000)),
      ENFORCER_GROUP_ID: `${prefix}enforcer`,
      SINK_GROUP_ID: `${prefix}sink`,
      SHUTDOWN_TIMEOUT_MS: String(BUDGET_MS),
      LOG_FORMAT: 'auto',
    };
    delete env.CLICKHOUSE_URL;
    const child = runScript(env, 'packages/cli/src/bin.ts', ['start', '--demo', '--demo-rate', '200']);
    const done = finished(child);
    let err = '';
    child.stderr?.on('data', (b) => {
      err += String(b);
    });
    try {
      // Decisions reach the sink: its chains are recovered on their first batches.
      await waitFor(() => /demo traffic started/.test(err) && (err.match(/chain recovered/g)?.length ?? 0) >= 3, {
        what: 'the pipeline storing demo traffic',
        timeoutMs: 150_000,
        everyMs: 250,
        detail: () => err.slice(-4000),
      });
      const t0 = Date.now();
      child.kill('SIGTERM');
      const r = await done;
      const ms = Date.now() - t0;
      expect(r.code, r.err.slice(-4000)).toBe(0);
      expect(r.err).not.toMatch(/timed out/);
      expect(ms).toBeLessThan(BUDGET_MS);
      // Not a terminal: JSON lines only, no banner.
      const lines = r.err.split('\n').filter((l) => l.trim() !== '');
      for (const l of lines) expect(() => JSON.parse(l), l).not.toThrow();
      expect(r.out).not.toMatch(/Custos is running/);
      expect(r.err).toMatch(/"msg":"sink stopped"/);
      expect(r.err).toMatch(/"msg":"enforcer stopped"/);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      rmSync(chdbPath, { recursive: true, force: true });
    }
  }, 240_000);
});
