/**
 * The enforcer's Prometheus metrics, in a Registry of their own so that several enforcers (tests,
 * `custos start`) never clash in the global one. Serve `metrics.registry` at /metrics; main.ts does
 * when ENFORCER_METRICS_PORT is set. Counters are added to once per batch, not per event.
 */
import type { Server } from 'node:http';
import { serveOps } from '@custos/config';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

export class EnforcerMetrics {
  readonly registry: Registry;
  /** access-event records consumed and handled (judged or dead-lettered); rate() = events/s */
  readonly events: Counter;
  readonly decisions: Counter<'outcome'>;
  /** one per reason code in a decision */
  readonly reasons: Counter<'code'>;
  readonly deadLetters: Counter<'step'>;
  /** records between the last one handled and the partition's high watermark (includes commit markers) */
  readonly lag: Gauge<'partition'>;
  /** from receiving a batch to its transaction committing */
  readonly batchSeconds: Histogram;
  readonly batchEvents: Histogram;
  readonly transactionsAborted: Counter;
  readonly fenced: Counter;
  /** records re-read (observed, not judged) to rebuild bulk-access windows */
  readonly bulkReplayed: Counter;
  readonly bulkRestores: Counter<'source'>;
  readonly bulkActors: Gauge;
  readonly assignedPartitions: Gauge;
  readonly policyReloads: Counter<'source' | 'result'>;
  /** 1 for the policy version judging now */
  readonly policyInfo: Gauge<'version'>;
  readonly subjectStateChanges: Counter<'result'>;

  constructor(registry: Registry = new Registry(), prefix = 'custos_enforcer_') {
    this.registry = registry;
    const registers = [registry];
    this.events = new Counter({ name: `${prefix}events_total`, help: 'access-event records consumed and handled', registers });
    this.decisions = new Counter({
      name: `${prefix}decisions_total`,
      help: 'decisions committed, by outcome',
      labelNames: ['outcome'],
      registers,
    });
    this.reasons = new Counter({
      name: `${prefix}decision_reasons_total`,
      help: 'reason codes in committed decisions',
      labelNames: ['code'],
      registers,
    });
    this.deadLetters = new Counter({
      name: `${prefix}dead_letters_total`,
      help: 'records sent to a dead-letter topic, by failing step',
      labelNames: ['step'],
      registers,
    });
    this.lag = new Gauge({
      name: `${prefix}consumer_lag`,
      help: 'records behind the high watermark of access-events, per partition, at the last batch',
      labelNames: ['partition'],
      registers,
    });
    this.batchSeconds = new Histogram({
      name: `${prefix}batch_seconds`,
      help: 'time from receiving a batch to committing its transaction',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.batchEvents = new Histogram({
      name: `${prefix}batch_events`,
      help: 'records per committed batch',
      buckets: [1, 10, 100, 500, 1000, 2500, 5000, 10_000, 25_000],
      registers,
    });
    this.transactionsAborted = new Counter({
      name: `${prefix}transactions_aborted_total`,
      help: 'transactions aborted',
      registers,
    });
    this.fenced = new Counter({
      name: `${prefix}producer_fenced_total`,
      help: 'times a partition producer was fenced by a newer owner',
      registers,
    });
    this.bulkReplayed = new Counter({
      name: `${prefix}bulk_replayed_events_total`,
      help: 'records re-read to rebuild bulk-access windows',
      registers,
    });
    this.bulkRestores = new Counter({
      name: `${prefix}bulk_restores_total`,
      help: 'partition takeovers, by where the replay offset came from (commit metadata, timestamp, none)',
      labelNames: ['source'],
      registers,
    });
    this.bulkActors = new Gauge({
      name: `${prefix}bulk_window_actors`,
      help: 'actors with a live bulk-access window',
      registers,
    });
    this.assignedPartitions = new Gauge({
      name: `${prefix}assigned_partitions`,
      help: 'access-events partitions assigned',
      registers,
    });
    this.policyReloads = new Counter({
      name: `${prefix}policy_reloads_total`,
      help: 'policy bundles offered at run time, by source (file, topic) and result (applied, unchanged, rejected)',
      labelNames: ['source', 'result'],
      registers,
    });
    this.policyInfo = new Gauge({
      name: `${prefix}policy_info`,
      help: 'the policy version judging now (value 1)',
      labelNames: ['version'],
      registers,
    });
    this.subjectStateChanges = new Counter({
      name: `${prefix}subject_state_changes_total`,
      help: 'subject-state records read, by result (applied, duplicate, invalid)',
      labelNames: ['result'],
      registers,
    });
  }

  setPolicyVersion(version: string): void {
    this.policyInfo.reset();
    this.policyInfo.set({ version }, 1);
  }
}

/** A bare /metrics endpoint for a standalone enforcer (the API serves the registry when composed). */
export function serveMetrics(registry: Registry, port: number, host = '127.0.0.1', ready?: () => boolean): Promise<Server> {
  return serveOps({ registry, port, host, ...(ready ? { ready } : {}) });
}
