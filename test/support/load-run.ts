/**
 * Runs `pnpm load` (bench/load.ts) as a process with the given options on the tests' infrastructure
 * and returns what it wrote to bench/results/load.json (and its output, for failure messages).
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { infraEnv } from './index.js';

const run = promisify(execFile);
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface LoadResult {
  exact: boolean;
  faults: { role: string; atS: number; downS: number }[];
  ioFaults?: {
    fault: string;
    atS: number;
    forS: number;
    recoveryS: number;
    recovered: string;
    notes: string[];
    figures: Record<string, number>;
  }[];
  clusterFaults?: { kind: string; atS: number; downS: number; electionS?: number; broker?: number }[];
  figures: { name: string; value: number }[];
}

export async function runLoad(
  options: string[],
  timeoutMs = 900_000,
): Promise<{ result: LoadResult; f: Record<string, number>; out: string }> {
  const { brokers, registryUrl } = infraEnv();
  let out = '';
  try {
    const r = await run(process.execPath, ['--import', 'tsx', join(root, 'bench/load.ts'), ...options], {
      cwd: root,
      env: { ...process.env, KAFKA_BROKERS: brokers.join(','), SCHEMA_REGISTRY_URL: registryUrl },
      maxBuffer: 1 << 26,
      timeout: timeoutMs,
    });
    out = r.stdout + r.stderr;
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    throw new Error(`pnpm load ${options.join(' ')} failed:\n${e.stdout ?? ''}\n${e.stderr ?? ''}`);
  }
  const result = JSON.parse(readFileSync(join(root, 'bench/results/load.json'), 'utf8')) as LoadResult;
  return { result, f: Object.fromEntries(result.figures.map((x) => [x.name, x.value])), out };
}
