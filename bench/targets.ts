/**
 * The targets `pnpm bench` checks (docs/benchmarks.md): a bound on a figure's value, and for some
 * figures a least ratio to the peer measured in the same run. A figure without an entry is reported
 * without a verdict.
 */
export interface Target {
  /** the value must be at most this */
  max?: number;
  /** the value must be below this */
  below?: number;
  /** the value must be at least this */
  min?: number;
  /** value / peer must be at least this */
  minRatio?: number;
}

export const TARGETS: Record<string, Target> = {
  'sdk.record_overhead_p50_us': { max: 5 },
  'sdk.record_overhead_p99_us': { max: 20 },
  'sdk.throughput_eps': { min: 50_000, minRatio: 0.9 },
  'sdk.rss_mib': { below: 200 },
  'enforcer.events_per_s': { min: 20_000 },
  'sink.rows_per_s': { min: 100_000, minRatio: 0.8 },
  'sink.chained_rows_per_s': { min: 100_000 },
  'store.bytes_per_decision': { max: 150 },
  'query.subject_month_p95_ms': { max: 50 },
  'query.actor_day_p95_ms': { max: 50 },
  'query.monthly_violations_ms': { max: 1000 },
  'api.subject_report_p95_ms': { max: 100 },
  'api.search_p95_ms': { max: 200 },
  'report.monthly_pdf_ms': { max: 5000 },
};

/** Whether a figure meets its target; undefined when it has none. */
export function meets(t: Target | undefined, value: number, ratio: number | undefined): boolean | undefined {
  if (t === undefined) return undefined;
  if (t.max !== undefined && !(value <= t.max)) return false;
  if (t.below !== undefined && !(value < t.below)) return false;
  if (t.min !== undefined && !(value >= t.min)) return false;
  if (t.minRatio !== undefined && !(ratio !== undefined && ratio >= t.minRatio)) return false;
  return true;
}

export function describeTarget(t: Target): string {
  const parts: string[] = [];
  if (t.max !== undefined) parts.push(`≤ ${t.max}`);
  if (t.below !== undefined) parts.push(`< ${t.below}`);
  if (t.min !== undefined) parts.push(`≥ ${t.min}`);
  if (t.minRatio !== undefined) parts.push(`×${t.minRatio}`);
  return parts.join(', ');
}
