/**
 * The pipeline under load (bench/load.ts, `pnpm load`) while its Kafka breaks or its enforcers change:
 * the only broker of a Kafka of the run's own is stopped and started again; on a three-broker Kafka
 * of its own (replication factor 3, min.insync.replicas 2) the broker leading the partitions in use
 * is killed with SIGKILL and started again later; a second enforcer joins the group and leaves it.
 * Each time the reconciliation must stay exact (every acknowledged event decided once and stored
 * once) and every actor's count of BULK_ACCESS decisions must equal what one judge gives the same
 * events with no hand-over. Short by default; CUSTOS_LONG_FAULTS=1 runs each for longer at a
 * higher rate.
 *
 * Times on the shared 2-core machine (most of it the brokers' start and the drain): the broker
 * restart 3.5 minutes, the leader kill 2–4.5, the enforcer hand-over 2–2.5; the file 7–10 minutes.
 * A long outage of the only broker is covered by test/broker-outage.test.ts.
 */
import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { type LoadResult, runLoad } from './support/load-run.js';

const _run = promisify(execFile);
const _root = join(dirname(fileURLToPath(import.meta.url)), '..');
const long = process.env.CUSTOS_LONG_FAULTS === '1';
const rate = long ? 1000 : 300;
const duration = long ? 120 : 30;

const load = (options: string[]) => runLoad(options, 1_500_000);

function expectExact(f: Record<string, number>, result: LoadResult, out: string, events = rate * duration): void {
  expect(f['load.events_acknowledged'], out).toBe(events);
  expect(f['load.lost'], out).toBe(0);
  expect(f['load.duplicated'], out).toBe(0);
  expect(f['load.decisions'], out).toBe(events);
  expect(f['load.rows_stored'], out).toBe(events);
  expect(f['load.dlq_mismatch'], out).toBe(0);
  // At this rate most actors pass the bulk threshold within the window: thousands of flags to compare.
  expect(f['load.bulk_access_expected'], out).toBeGreaterThan(0);
  expect(f['load.bulk_access_stored'], out).toBe(f['load.bulk_access_expected']);
  expect(f['load.bulk_actors_mismatched'], out).toBe(0);
  expect(result.exact, out).toBe(true);
}

describe('the pipeline under load on a Kafka cluster and with enforcers coming and going', () => {
  it('the only broker stops and starts again: nothing lost or doubled', async () => {
    const { result, f, out } = await load([
      `--rate=${rate}`,
      `--duration=${duration}`,
      '--invalid-percent=1',
      '--partitions=3',
      '--kafka=own',
      `--fault=restart-broker@${Math.round(duration / 3)}`,
    ]);
    expect(
      (result.clusterFaults ?? []).map((x) => x.kind),
      out,
    ).toEqual(['restart-broker']);
    expectExact(f, result, out);
  }, 1_800_000);

  it('three brokers: the leader of the partitions in use is killed, a follower takes over, nothing lost or doubled', async () => {
    const { result, f, out } = await load([
      `--rate=${rate}`,
      `--duration=${duration}`,
      '--invalid-percent=1',
      '--partitions=3',
      '--kafka=own3',
      `--fault=kill-leader@${Math.round(duration / 3)}`,
      '--leader-down=10',
    ]);
    expect(
      (result.clusterFaults ?? []).map((x) => x.kind),
      out,
    ).toEqual(['kill-leader']);
    expect((result.clusterFaults ?? [])[0]?.electionS, out).toBeDefined();
    expectExact(f, result, out);
  }, 1_800_000);

  it('a second enforcer joins the group and leaves it during the load: bulk counts carry across the hand-overs', async () => {
    // Longer: a process takes a while to start on a busy machine, and the join must land mid-load.
    const scaleDuration = 2 * duration;
    const { result, f, out } = await load([
      `--rate=${rate}`,
      `--duration=${scaleDuration}`,
      '--invalid-percent=1',
      '--partitions=6',
      `--fault=add-enforcer@5,remove-enforcer@${Math.round(scaleDuration * 0.75)}`,
    ]);
    expect((result.clusterFaults ?? []).map((x) => x.kind).sort(), out).toEqual(['add-enforcer', 'remove-enforcer']);
    expectExact(f, result, out, rate * scaleDuration);
  }, 1_800_000);
});
