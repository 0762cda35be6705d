/**
 * The sink's Prometheus metrics. `register` is the registry the API's /metrics serves (merge it with
 * the API's own: `Registry.merge([apiRegistry, sinkRegister])`).
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

export const register = new Registry();

export interface SinkMetrics {
  registry: Registry;
  rows: Counter;
  rowsPerSecond: Gauge;
  batchRows: Histogram;
  insertSeconds: Histogram;
  insertFailures: Counter<'kind'>;
  consumerLag: Gauge<'partition'>;
  endToEnd: Histogram<'from'>;
  skipped: Counter<'reason'>;
  deadLetters: Counter<'step'>;
  paused: Gauge;
  insertCap: Gauge;
  chainSeq: Gauge<'chain'>;
  checkpoints: Counter;
  chainIntegrityFailures: Counter<'chain'>;
  groupJoins: Counter;
}

export function createSinkMetrics(registry = new Registry()): SinkMetrics {
  const registers = [registry];
  const rows = new Counter({ name: 'custos_sink_rows_total', help: 'decisions stored', registers });
  // rows/s over the last ~10 s, for dashboards without PromQL (rate(custos_sink_rows_total) is the same)
  let last = { at: Date.now(), n: 0 };
  const rowsPerSecond = new Gauge({
    name: 'custos_sink_rows_per_second',
    help: 'decisions stored per second since the previous scrape (at most 10 s back)',
    registers,
    async collect() {
      const n = (await rows.get()).values[0]?.value ?? 0;
      const now = Date.now();
      const dt = (now - last.at) / 1000;
      if (dt > 0) this.set((n - last.n) / dt);
      if (dt >= 10 || dt <= 0) last = { at: now, n };
    },
  });
  return {
    registry,
    rows,
    rowsPerSecond,
    batchRows: new Histogram({
      name: 'custos_sink_batch_rows',
      help: 'rows per insert',
      buckets: [1, 10, 100, 500, 1000, 5000, 10_000, 25_000, 50_000, 100_000],
      registers,
    }),
    insertSeconds: new Histogram({
      name: 'custos_sink_insert_seconds',
      help: 'ClickHouse insert latency (successful inserts)',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    insertFailures: new Counter({
      name: 'custos_sink_insert_failures_total',
      help: 'failed inserts: retriable (store unavailable; retried), timeout (too slow for its size; split) or record (bad row; bisected, dead-lettered)',
      labelNames: ['kind'],
      registers,
    }),
    consumerLag: new Gauge({
      name: 'custos_sink_consumer_lag',
      help: 'records on the decisions topic not yet stored, per partition',
      labelNames: ['partition'],
      registers,
    }),
    endToEnd: new Histogram({
      name: 'custos_sink_end_to_end_seconds',
      help: 'from the event (occurred) or the decision (decided) to stored',
      labelNames: ['from'],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 3600],
      registers,
    }),
    skipped: new Counter({
      name: 'custos_sink_skipped_total',
      help: 'records not stored again: re-delivered (already stored) or a duplicate eventId',
      labelNames: ['reason'],
      registers,
    }),
    deadLetters: new Counter({
      name: 'custos_sink_dead_letters_total',
      help: 'records sent to the decisions dead-letter topic, by step (decode, store, dedup)',
      labelNames: ['step'],
      registers,
    }),
    paused: new Gauge({
      name: 'custos_sink_paused',
      help: '1 while ClickHouse is unavailable and consumption paused',
      registers,
    }),
    insertCap: new Gauge({
      name: 'custos_sink_insert_rows_cap',
      help: 'most rows per insert now: SINK_MAX_BATCH_ROWS, halved while inserts run out of time, doubled back after fast ones',
      registers,
    }),
    chainSeq: new Gauge({ name: 'custos_sink_chain_seq', help: 'last stored seq per chain', labelNames: ['chain'], registers }),
    checkpoints: new Counter({ name: 'custos_sink_checkpoints_total', help: 'signed checkpoints written', registers }),
    chainIntegrityFailures: new Counter({
      name: 'custos_sink_chain_integrity_failures_total',
      help: 'chains the sink refused to extend because their stored tail failed verification',
      labelNames: ['chain'],
      registers,
    }),
    groupJoins: new Counter({
      name: 'custos_sink_group_joins_total',
      help: 'times the sink joined its consumer group: 1 plus every rebalance or drop from the group since it started',
      registers,
    }),
  };
}

let shared: SinkMetrics | undefined;

/** The metrics on `register`, created once per process. */
export function defaultSinkMetrics(): SinkMetrics {
  shared ??= createSinkMetrics(register);
  return shared;
}
