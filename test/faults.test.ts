/**
 * Faults while load runs (bench/load.ts, the tool behind `pnpm load`): the enforcer's process and the
 * process holding the sink and the API are each killed with SIGKILL mid-stream and started again,
 * while the SDK keeps producing from a process of its own and bad records are injected beside the
 * good ones. The reconciliation must stay exact: every event the SDK acknowledged decided once and
 * stored once, every bad record dead-lettered once. Short here; `pnpm load --fault …` runs longer.
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

interface LoadResult {
  exact: boolean;
  faults: { role: string; atS: number; downS: number }[];
  figures: { name: string; value: number }[];
}

/** Runs `pnpm load` (bench/load.ts) with these options and returns what it wrote. */
async function load(options: string[]): Promise<{ result: LoadResult; f: Record<string, number>; out: string }> {
  const { brokers, registryUrl } = infraEnv();
  let out = '';
  try {
    const r = await run(process.execPath, ['--import', 'tsx', join(root, 'bench/load.ts'), ...options], {
      cwd: root,
      env: { ...process.env, KAFKA_BROKERS: brokers.join(','), SCHEMA_REGISTRY_URL: registryUrl },
      maxBuffer: 1 << 26,
      timeout: 600_000,
    });
    out = r.stdout + r.stderr;
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    throw new Error(`pnpm load failed:\n${e.stdout ?? ''}\n${e.stderr ?? ''}`);
  }
  const result = JSON.parse(readFileSync(join(root, 'bench/results/load.json'), 'utf8')) as LoadResult;
  return { result, f: Object.fromEntries(result.figures.map((x) => [x.name, x.value])), out };
}

describe('the pipeline under load while its processes are killed', () => {
  it('SIGKILL of the enforcer and of the sink + API process: reconciliation stays exact', async () => {
    const { result, f, out } = await load([
      '--rate=400',
      '--duration=30',
      '--invalid-percent=2',
      '--partitions=3',
      '--fault=kill-enforcer@8,kill-store@18',
    ]);
    expect(result.faults.map((x) => x.role).sort(), out).toEqual(['enforcer', 'store']);
    expect(f['load.events_acknowledged']).toBe(12_000);
    expect(f['load.lost']).toBe(0);
    expect(f['load.duplicated']).toBe(0);
    expect(f['load.decisions']).toBe(12_000);
    expect(f['load.rows_stored']).toBe(12_000);
    expect(f['load.invalid_injected']).toBe(240);
    expect(f['load.dlq_mismatch']).toBe(0);
    expect(result.exact).toBe(true);
  }, 900_000);

  it('the schema registry restarts while the enforcer is killed and restarted: ids survive, reconciliation stays exact', async () => {
    const { result, f, out } = await load([
      '--rate=300',
      '--duration=40',
      '--invalid-percent=2',
      '--partitions=3',
      // the enforcer starts again while the registry is still coming back
      '--fault=restart-registry@10,kill-enforcer@12',
    ]);
    expect(result.faults.map((x) => x.role).sort(), out).toEqual(['enforcer', 'registry']);
    expect(f['load.events_acknowledged']).toBe(12_000);
    expect(f['load.lost']).toBe(0);
    expect(f['load.duplicated']).toBe(0);
    expect(f['load.rows_stored']).toBe(12_000);
    expect(f['load.dlq_mismatch']).toBe(0);
    expect(result.exact).toBe(true);
  }, 900_000);
});
