import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseEnv } from '@custos/config';
import { keyId } from '@custos/store';
import { describe, expect, it } from 'vitest';
import { createSinkMetrics, defaultSinkMetrics, register } from './metrics.js';
import { sinkEnvSchema, sinkOptionsFromEnv } from './options.js';

describe('sink configuration', () => {
  it('has defaults for everything but the checkpoint key', () => {
    const o = sinkOptionsFromEnv(parseEnv(sinkEnvSchema, {}));
    expect(o).toMatchObject({
      maxBatchWaitMs: 500,
      minBatchBytes: 1_048_576,
      dedupWindow: 100_000,
      checkpointIntervalMs: 60_000,
      partitionsConcurrently: 6,
      sessionTimeoutMs: 30_000,
    });
    expect(o.checkpointKey).toBeUndefined();
  });

  it('creates a demo key once when asked, and reuses it', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'custos-sink-key-')), 'k.pem');
    const env = { CHECKPOINT_KEY_AUTOGEN: 'true', CHECKPOINT_KEY_FILE: file };
    const a = sinkOptionsFromEnv(parseEnv(sinkEnvSchema, env)).checkpointKey;
    expect(existsSync(file)).toBe(true);
    const b = sinkOptionsFromEnv(parseEnv(sinkEnvSchema, env)).checkpointKey;
    expect(a && b && keyId(a) === keyId(b)).toBe(true);
  });

  it('names a bad setting', () => {
    expect(() => parseEnv(sinkEnvSchema, { SINK_MAX_BATCH_WAIT_MS: 'soon', AUDIT_RETENTION_DAYS: '30' })).toThrow(
      /SINK_MAX_BATCH_WAIT_MS[\s\S]*AUDIT_RETENTION_DAYS|AUDIT_RETENTION_DAYS[\s\S]*SINK_MAX_BATCH_WAIT_MS/,
    );
  });
});

describe('sink metrics', () => {
  it('registers the shared metrics on the exported registry once, and private ones anywhere', async () => {
    expect(defaultSinkMetrics()).toBe(defaultSinkMetrics());
    const names = (await register.getMetricsAsJSON()).map((m) => m.name);
    expect(names).toEqual(
      expect.arrayContaining([
        'custos_sink_rows_total',
        'custos_sink_insert_seconds',
        'custos_sink_consumer_lag',
        'custos_sink_end_to_end_seconds',
      ]),
    );
    const own = createSinkMetrics();
    own.rows.inc(5);
    expect(await own.registry.metrics()).toMatch(/custos_sink_rows_total 5/);
  });
});
