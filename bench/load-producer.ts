/**
 * The producing side of `pnpm load`, in a process of its own (forked by bench/load.ts), as a service
 * using the SDK would be: it records the realistic event mix (bench/event-mix.ts) at a steady rate
 * for a while, each event stamped with the time it was recorded (`attributes["load.sent"]`) and, with
 * --disorder S, an occurredAt up to S seconds earlier, as a service replaying spooled events
 * produces. Event ids are `<run>-0000-7000-8000-<index>`, so the reconciliation knows every one.
 * Reports progress and, after close(), what the SDK acknowledged, over IPC.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createAuditClient } from '../packages/sdk/src/index.js';
import { EventMix } from './event-mix.js';

const { values: args } = parseArgs({
  options: {
    rate: { type: 'string' },
    duration: { type: 'string' },
    prefix: { type: 'string' },
    brokers: { type: 'string' },
    registry: { type: 'string' },
    run: { type: 'string' },
    disorder: { type: 'string', default: '0' },
    // how long close() may take to deliver what is left (the SDK's default: 10 s; then it stays spooled)
    'close-timeout': { type: 'string', default: '10' },
  },
});
const rate = Number(args.rate);
const durationMs = Number(args.duration) * 1000;
const disorderMs = Number(args.disorder) * 1000;
const run = args.run!;

export interface ProducerReport {
  t: 'done';
  recorded: number;
  delivered: boolean;
  unsent: number;
  seconds: number;
  sent: number;
  replayed: number;
  failed: number;
}
export interface ProducerProgress {
  t: 'progress';
  recorded: number;
  sent: number;
}

const send = (m: ProducerReport | ProducerProgress) => (process.send ? process.send(m) : console.log(JSON.stringify(m)));

const spoolDir = mkdtempSync(join(tmpdir(), 'custos-load-spool-'));
const client = createAuditClient({
  brokers: args.brokers!.split(','),
  schemaRegistryUrl: args.registry!,
  service: 'load',
  topicPrefix: args.prefix!,
  spool: { dir: spoolDir },
  closeTimeoutMs: Number(args['close-timeout']) * 1000,
});
await client.start();

const mix = new EventMix();
const rand = mix.rand;
let recorded = 0;
const started = performance.now();
await new Promise<void>((resolve) => {
  const progress = setInterval(() => send({ t: 'progress', recorded, sent: client.metrics().sent }), 1000);
  // Ticks of 10 ms: the rate stays smooth without a timer per event.
  const timer = setInterval(() => {
    const elapsed = performance.now() - started;
    const due = Math.floor((rate * Math.min(elapsed, durationMs)) / 1000);
    for (; recorded < due; recorded++) {
      const e = mix.next();
      const now = Date.now();
      e.eventId = `${run}-0000-7000-8000-${String(recorded).padStart(12, '0')}`;
      e.occurredAt = new Date(now - (disorderMs > 0 ? Math.floor(rand() * disorderMs) : 0)).toISOString();
      e.attributes = { 'load.sent': String(now) };
      e.source = { service: 'load' };
      client.record(e);
    }
    if (elapsed >= durationMs) {
      clearInterval(timer);
      clearInterval(progress);
      resolve();
    }
  }, 10);
});
const seconds = (performance.now() - started) / 1000;
const result = await client.close();
const m = client.metrics();
send({ t: 'done', recorded, ...result, seconds, sent: m.sent, replayed: m.replayed, failed: m.failed });
rmSync(spoolDir, { recursive: true, force: true });
process.disconnect?.();
