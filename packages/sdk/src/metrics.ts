/**
 * The client's counters (plain numbers, so recording costs nothing extra) and a bridge that exposes
 * them through prom-client at scrape time.
 */
import type { Registry } from 'prom-client';
import promClient from 'prom-client';

export interface AuditMetrics {
  /** events accepted by record() / recordSubjectState() */
  recorded: number;
  /** calls rejected as invalid (ValidationError thrown to the caller) */
  invalid: number;
  /** events acknowledged by Kafka (acks=all) */
  sent: number;
  /** events that left memory for the disk spool (memory bound hit, typically while Kafka is down or slow) */
  spooled: number;
  /** events read back from the spool and acknowledged by Kafka (spooled ones and those left by an earlier run) */
  replayed: number;
  /** events in send attempts that failed (an event retried three times counts three times) */
  failed: number;
  /** events recorded or left by an earlier run and not yet acknowledged */
  unsent: number;
  /** events held in memory (queued or in flight) and their bytes */
  queuedEvents: number;
  queuedBytes: number;
  /** spool bytes not yet acknowledged by Kafka */
  spoolBacklogBytes: number;
  /** events of this process written to the spool file / fsync'ed */
  spoolWritten: number;
  spoolSynced: number;
  /** failed spool writes (retried) */
  spoolWriteErrors: number;
  /** 1 while writes to the spool fail (e.g. its disk is full: ENOSPC), else 0 */
  spoolWriteFailing: number;
  /** bytes recorded but not yet written to the spool (held in memory; past maxQueueBytes, back-pressure) */
  spoolUnwrittenBytes: number;
}

const HELP: Record<keyof AuditMetrics, [type: 'counter' | 'gauge', help: string]> = {
  recorded: ['counter', 'Access and subject-state events accepted by the SDK'],
  invalid: ['counter', 'Events rejected by validation'],
  sent: ['counter', 'Events acknowledged by Kafka'],
  spooled: ['counter', 'Events moved from memory to the disk spool'],
  replayed: ['counter', 'Events replayed from the disk spool and acknowledged'],
  failed: ['counter', 'Events in failed send attempts (retried)'],
  unsent: ['gauge', 'Events not yet acknowledged by Kafka'],
  queuedEvents: ['gauge', 'Events held in memory'],
  queuedBytes: ['gauge', 'Bytes of events held in memory'],
  spoolBacklogBytes: ['gauge', 'Spool bytes not yet acknowledged by Kafka'],
  spoolWritten: ['counter', 'Events written to the spool'],
  spoolSynced: ['counter', 'Events fsynced in the spool'],
  spoolWriteErrors: ['counter', 'Failed spool writes'],
  spoolWriteFailing: ['gauge', '1 while writes to the spool fail (e.g. its disk is full)'],
  spoolUnwrittenBytes: ['gauge', 'Bytes recorded but not yet written to the spool'],
};

function snake(s: string): string {
  return s.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/**
 * Registers one prom-client metric per figure of `source()` (e.g. `custos_sdk_sent_total`), read at
 * scrape time. Returns a function that removes them again.
 */
export function exportMetrics(
  source: () => AuditMetrics,
  opts: { registry?: Registry; prefix?: string; labels?: Record<string, string> } = {},
): () => void {
  const registry = opts.registry ?? promClient.register;
  const prefix = opts.prefix ?? 'custos_sdk_';
  const labels = opts.labels ?? {};
  const labelNames = Object.keys(labels);
  const names: string[] = [];
  for (const [key, [type, help]] of Object.entries(HELP) as [keyof AuditMetrics, [string, string]][]) {
    const name = `${prefix}${snake(key)}${type === 'counter' ? '_total' : ''}`;
    names.push(name);
    if (type === 'counter') {
      new promClient.Counter({
        name,
        help,
        labelNames,
        registers: [registry],
        collect() {
          this.reset();
          this.inc(labels, source()[key]);
        },
      });
    } else {
      new promClient.Gauge({
        name,
        help,
        labelNames,
        registers: [registry],
        collect() {
          this.set(labels, source()[key]);
        },
      });
    }
  }
  return () => {
    for (const n of names) registry.removeSingleMetric(n);
  };
}
