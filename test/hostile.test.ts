/**
 * Hostile input while load runs (bench/load.ts with --invalid-percent and --hostile, the generators
 * in bench/load-hostile.ts): garbage, unknown schema ids, another schema's Avro, contract-breaking
 * and oversized events must each reach the dead-letter topic at their step; duplicate eventIds,
 * events stamped far ahead or behind and one actor's year-ahead outlier followed by a burst must be
 * decided and stored once (the second copy of a duplicate dead-lettered by the sink, never stored),
 * the burst flagged BULK_ACCESS; the SDK's events, stamped up to an hour back, reconcile exactly;
 * no process restarts (load.ts fails on any unexpected exit).
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { infraEnv } from '@custos/test/support';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = join(dirname(fileURLToPath(import.meta.url)), '..');

describe('the pipeline under hostile input', () => {
  it('every bad record dead-lettered at its step, every valid one decided and stored once, the burst flagged', async () => {
    const { brokers, registryUrl } = infraEnv();
    let out = '';
    try {
      const r = await run(
        process.execPath,
        [
          '--import',
          'tsx',
          join(root, 'bench/load.ts'),
          '--rate=300',
          '--duration=20',
          '--invalid-percent=3',
          '--hostile',
          '--disorder=3600',
          '--partitions=3',
        ],
        {
          cwd: root,
          env: { ...process.env, KAFKA_BROKERS: brokers.join(','), SCHEMA_REGISTRY_URL: registryUrl },
          maxBuffer: 1 << 26,
          timeout: 600_000,
        },
      );
      out = r.stdout + r.stderr;
    } catch (err) {
      const e = err as { stdout?: string; stderr?: string };
      throw new Error(`pnpm load failed:\n${e.stdout ?? ''}\n${e.stderr ?? ''}`);
    }
    const result = JSON.parse(readFileSync(join(root, 'bench/results/load.json'), 'utf8')) as {
      exact: boolean;
      figures: { name: string; value: number }[];
    };
    const f = Object.fromEntries(result.figures.map((x) => [x.name, x.value]));
    expect(f['load.events_acknowledged'], out).toBe(6000);
    expect(f['load.lost']).toBe(0);
    expect(f['load.duplicated']).toBe(0);
    expect(f['load.rows_stored']).toBe(6000);
    // 3 % of 6000 drawn from eight kinds, five of which are dead-lettered
    expect(f['load.invalid_injected']).toBe(114);
    expect(f['load.dlq_mismatch']).toBe(0);
    expect(f['load.hostile_problems'], out).toBe(0);
    expect(f['load.bulk_after_outlier']).toBeGreaterThan(0);
    expect(result.exact).toBe(true);
  }, 900_000);
});
