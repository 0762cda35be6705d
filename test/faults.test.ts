/**
 * Faults while load runs (bench/load.ts, the tool behind `pnpm load`): the enforcer's process and the
 * process holding the sink and the API are each killed with SIGKILL mid-stream and started again,
 * while the SDK keeps producing from a process of its own and bad records are injected beside the
 * good ones. The reconciliation must stay exact: every event the SDK acknowledged decided once and
 * stored once, every bad record dead-lettered once. Short here; `pnpm load --fault …` runs longer.
 */
import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { runLoad } from './support/load-run.js';

const _run = promisify(execFile);
const _root = join(dirname(fileURLToPath(import.meta.url)), '..');

const load = (options: string[]) => runLoad(options, 600_000);

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
