/**
 * The sender thread (sender-thread.ts) against the real Kafka and registry: when the thread dies in
 * the middle of a stream, the batch it held is sent again from a fresh thread, and every event
 * arrives, in per-actor order after de-duplication by eventId; kafkajs' log lines reach the client's
 * logger across the thread.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Worker } from 'node:worker_threads';
import { createKafka, ensureTopics } from '@custos/kafka';
import { infraEnv, pace, testTopics } from '@custos/test/support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readBackInOrder } from '../test/read-back.js';
import { createAuditClient } from './index.js';
import type { LoggerLike } from './logger.js';

const env = infraEnv();
const t = testTopics('sdk-sender-thread');
const N = 20_000;
const ACTORS = 30;

describe('the sender thread', () => {
  beforeAll(async () => {
    const admin = createKafka({ brokers: env.brokers, clientId: 'sender-thread-admin' }).admin();
    await admin.connect();
    await ensureTopics(admin, [t.accessEvents, t.subjectState]);
    await admin.disconnect();
  });
  afterAll(async () => {
    const admin = createKafka({ brokers: env.brokers, clientId: 'sender-thread-admin' }).admin();
    await admin.connect();
    await admin.deleteTopics({ topics: [t.accessEvents.name, t.subjectState.name] }).catch(() => {});
    await admin.disconnect();
  });

  it('dies in the middle of a stream: a fresh thread sends its batch again, all N arrive in per-actor order', async () => {
    const spoolDir = mkdtempSync(join(tmpdir(), 'custos-sender-thread-'));
    const logged: { level: string; obj: Record<string, unknown>; msg: string | undefined }[] = [];
    const log =
      (level: string) =>
      (obj: object, msg?: string): void => {
        logged.push({ level, obj: obj as Record<string, unknown>, msg });
      };
    const logger: LoggerLike = { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') };
    const client = createAuditClient({
      brokers: env.brokers,
      schemaRegistryUrl: env.registryUrl,
      service: 'sender-thread-test',
      topics: { accessEvents: t.accessEvents.name, subjectState: t.subjectState.name },
      spool: { dir: spoolDir },
      retry: { initialMs: 20, maxMs: 200 },
      logger,
    });
    await client.start();
    // White-box: the thread is the client's private business; the test ends it from outside.
    const sender = () =>
      (client as unknown as { transport: { worker: Worker | undefined; pending: Map<number, unknown> } }).transport;
    const thread = () => sender().worker;
    const first = thread();
    expect(first).toBeDefined();

    const seq = new Array<number>(ACTORS).fill(0);
    const threadFailed = () =>
      logged.some(
        (l) =>
          l.msg === 'audit batch not delivered; retrying' &&
          /audit sender thread failed/.test(String((l.obj.err as Error).message)),
      );
    let kills = 0;
    for (let i = 0; i < N; i++) {
      const a = i % ACTORS;
      client.record({
        eventId: `0190b0a0-0000-7000-8000-${String(i).padStart(12, '0')}`,
        tenantId: 'spera',
        actor: { id: `s-${a}`, type: 'staff' },
        subject: { id: `cust-${i}`, type: 'customer' },
        categories: ['personal.contact'],
        action: 'read',
        purpose: 'service.support',
        attributes: { seq: String(seq[a]!++) },
      });
      if (i % 500 === 499) {
        // Once some batches went out, end the thread while the stream goes on, with a batch in
        // flight on it (just after a burst of 500, one is as soon as the sender gets to run). Its
        // reply can beat the end, so again at the next bursts until a batch was caught in flight.
        if (i > N / 3 && kills < 10 && !threadFailed()) {
          const until = Date.now() + 50; // past linger (5 ms) and a round trip
          while (Date.now() < until && sender().pending.size === 0) await new Promise(setImmediate);
          if (sender().pending.size > 0) {
            kills++;
            await thread()!.terminate();
          }
        }
        await pace(5);
      }
    }
    expect(await client.flush(60_000)).toEqual({ delivered: true, unsent: 0 });
    // a batch was caught in flight: reported as a retriable failure (not swallowed) and sent again
    expect(threadFailed()).toBe(true);
    expect(
      logged.find((l) => /audit sender thread failed/.test(String((l.obj.err as Error | undefined)?.message)))?.obj.retriable,
    ).toBe(true);
    const second = thread();
    expect(second).toBeDefined();
    expect(second).not.toBe(first);
    expect(await client.close()).toEqual({ delivered: true, unsent: 0 });
    // kafkajs' own log lines on the thread came through: its notice about an idempotent producer
    // with limited retries, which @custos/kafka logs at debug (it does not apply to the SDK)
    expect(logged.some((l) => l.level === 'debug' && l.obj.kafka === 'Producer' && /^Limiting retries/.test(l.msg ?? ''))).toBe(
      true,
    );
    rmSync(spoolDir, { recursive: true, force: true });

    const { distinct } = await readBackInOrder(env.brokers, env.registryUrl, t.accessEvents.name, N);
    expect(distinct).toBe(N);
  });
});
