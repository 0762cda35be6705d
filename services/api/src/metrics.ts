/** Prometheus metrics of the API, on a registry of its own (several apps may share a process). */
import { Counter, collectDefaultMetrics, Histogram, Registry } from 'prom-client';

export interface ApiMetrics {
  registry: Registry;
  requests: Counter<'route' | 'status'>;
  duration: Histogram<'route'>;
  auditRecords: Counter<'result'>;
  reports: Histogram<'kind' | 'format'>;
}

export function createMetrics(defaults = true): ApiMetrics {
  const registry = new Registry();
  if (defaults) collectDefaultMetrics({ register: registry, prefix: 'custos_api_' });
  return {
    registry,
    requests: new Counter({
      name: 'custos_api_requests_total',
      help: 'HTTP requests by route and status',
      labelNames: ['route', 'status'],
      registers: [registry],
    }),
    duration: new Histogram({
      name: 'custos_api_request_duration_seconds',
      help: 'HTTP request latency by route',
      labelNames: ['route'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    auditRecords: new Counter({
      name: 'custos_api_audit_records_total',
      help: 'audit-trail reads recorded as access events (result: ok or failed)',
      labelNames: ['result'],
      registers: [registry],
    }),
    reports: new Histogram({
      name: 'custos_api_report_seconds',
      help: 'report generation time',
      labelNames: ['kind', 'format'],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30],
      registers: [registry],
    }),
  };
}
