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
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { createAuditClient, type LoggerLike, QueueFullError } from '../packages/sdk/src/index.js';
import type { LogFn } from '../packages/sdk/src/logger.js';
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
    // the spool-full fault: a spool on a small disk of the harness's, a small memory bound
    'spool-dir': { type: 'string' },
    'max-queue-bytes': { type: 'string' },
    'on-queue-full': { type: 'string' },
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
  /** record() calls refused with QueueFullError (retried by this producer: never acknowledged) */
  refused: number;
  /** time spent waiting on the promise record() returned past the memory bound (back-pressure) */
  blockedMs: number;
  spoolWriteErrors: number;
  /** when the spool's writes started and stopped failing (epoch ms, the first episode) */
  spoolFailingFrom: number;
  spoolFailingUntil: number;
  maxUnwrittenBytes: number;
  /** the first error line the SDK logged about the spool */
  spoolError: string;
}
export interface ProducerProgress {
  t: 'progress';
  recorded: number;
  sent: number;
  spoolWriteFailing: number;
}

const send = (m: ProducerReport | ProducerProgress) => (process.send ? process.send(m) : console.log(JSON.stringify(m)));

const spoolDir = args['spool-dir'] ?? mkdtempSync(join(tmpdir(), 'custos-load-spool-'));
let spoolError = '';
// The SDK's warnings and errors go to stderr as JSON lines (as its default logger does); its error
// about the spool is kept for the report.
const emit =
  (level: string): LogFn =>
  (obj, msg) => {
    const o = obj as { err?: unknown; logger?: string };
    if (o.logger === 'kafkajs') return; // kafkajs' own lines: the SDK's default logger leaves them out too
    const line = JSON.stringify({ level, name: 'custos-sdk', msg, ...obj, err: o.err instanceof Error ? o.err.message : o.err });
    process.stderr.write(`${line}\n`);
    if (spoolError === '' && msg?.startsWith('spool: cannot write')) spoolError = line;
  };
const logger: LoggerLike = { debug: () => {}, info: () => {}, warn: emit('warn'), error: emit('error') };
const client = createAuditClient({
  brokers: args.brokers!.split(','),
  schemaRegistryUrl: args.registry!,
  service: 'load',
  topicPrefix: args.prefix!,
  spool: { dir: spoolDir },
  logger,
  ...(args['max-queue-bytes'] ? { maxQueueBytes: Number(args['max-queue-bytes']) } : {}),
  ...(args['on-queue-full'] ? { onQueueFull: args['on-queue-full'] as 'spool' | 'block' } : {}),
  closeTimeoutMs: Number(args['close-timeout']) * 1000,
});
await client.start();

// The spool's state, watched finely enough to time a fault on its disk.
let spoolFailingFrom = 0;
let spoolFailingUntil = 0;
let maxUnwrittenBytes = 0;
const watch = setInterval(() => {
  const m = client.metrics();
  maxUnwrittenBytes = Math.max(maxUnwrittenBytes, m.spoolUnwrittenBytes);
  if (m.spoolWriteFailing === 1 && spoolFailingFrom === 0) spoolFailingFrom = Date.now();
  if (m.spoolWriteFailing === 0 && spoolFailingFrom !== 0 && spoolFailingUntil === 0) spoolFailingUntil = Date.now();
}, 50);

const mix = new EventMix();
const rand = mix.rand;
let recorded = 0;
let refused = 0;
let blockedMs = 0;
const started = performance.now();
const progress = setInterval(
  () => send({ t: 'progress', recorded, sent: client.metrics().sent, spoolWriteFailing: client.metrics().spoolWriteFailing }),
  1000,
);
// Ticks of 10 ms: the rate stays smooth without a timer per event. `recorded` counts the events
// record() accepted (returned without throwing): the acknowledged ones. Back-pressure is honoured as
// a service should: a promise from record() is awaited before recording more; an event refused with
// QueueFullError is recorded again a little later (same id), so the run's ids stay contiguous.
for (;;) {
  const elapsed = performance.now() - started;
  const due = Math.floor((rate * Math.min(elapsed, durationMs)) / 1000);
  let next: Parameters<typeof client.record>[0] | undefined;
  while (recorded < due) {
    const e = next ?? mix.next();
    next = undefined;
    const now = Date.now();
    e.eventId = `${run}-0000-7000-8000-${String(recorded).padStart(12, '0')}`;
    e.occurredAt = new Date(now - (disorderMs > 0 ? Math.floor(rand() * disorderMs) : 0)).toISOString();
    e.attributes = { 'load.sent': String(now) };
    e.source = { service: 'load' };
    let wait: void | Promise<void>;
    try {
      wait = client.record(e);
    } catch (err) {
      if (!(err instanceof QueueFullError)) throw err;
      refused++;
      next = e;
      await sleep(50);
      continue;
    }
    recorded++;
    if (wait !== undefined) {
      const t0 = performance.now();
      await wait;
      blockedMs += performance.now() - t0;
    }
  }
  if (elapsed >= durationMs && recorded >= due) break;
  await sleep(10);
}
clearInterval(progress);
const seconds = (performance.now() - started) / 1000;
const result = await client.close();
clearInterval(watch);
const m = client.metrics();
send({
  t: 'done',
  recorded,
  ...result,
  seconds,
  sent: m.sent,
  replayed: m.replayed,
  failed: m.failed,
  refused,
  blockedMs: Math.round(blockedMs),
  spoolWriteErrors: m.spoolWriteErrors,
  spoolFailingFrom,
  spoolFailingUntil,
  maxUnwrittenBytes,
  spoolError,
});
rmSync(spoolDir, { recursive: true, force: true });
process.disconnect?.();
