/**
 * The broker is killed in the middle of a stream of N events and started again: all N arrive, each
 * eventId once after de-duplication, in per-actor order. Runs on a private broker (test/private-kafka)
 * so the shared one is never stopped; the registry is the shared one.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createKafka, ensureTopics } from '@custos/kafka';
import { topics } from '@custos/schemas';
import { infraEnv, pace, waitFor } from '@custos/test/support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PrivateKafka } from '../test/private-kafka.js';
import { readBackInOrder } from '../test/read-back.js';
import { createAuditClient } from './index.js';
import { silentLogger } from './logger.js';

const env = infraEnv();
const N = 30_000;
const ACTORS = 40;

describe('broker outage in the middle of a stream', () => {
  let broker: PrivateKafka;
  const t = topics({ prefix: `t-outage-${Date.now()}.`, partitions: 3 });
  beforeAll(async () => {
    broker = await PrivateKafka.start();
    const admin = createKafka({ brokers: broker.brokers, clientId: 'outage-admin' }).admin();
    await admin.connect();
    await ensureTopics(admin, [t.accessEvents, t.subjectState]);
    await admin.disconnect();
  });
  afterAll(async () => {
    await broker?.destroy();
  });

  it('delivers all N, each once after de-duplication, in per-actor order', async () => {
    const spoolDir = mkdtempSync(join(tmpdir(), 'custos-outage-'));
    const client = createAuditClient({
      brokers: broker.brokers,
      schemaRegistryUrl: env.registryUrl,
      service: 'outage-test',
      topics: { accessEvents: t.accessEvents.name, subjectState: t.subjectState.name },
      spool: { dir: spoolDir },
      // small enough that the outage pushes events out of memory into the spool
      maxQueueBytes: 512 * 1024,
      retry: { initialMs: 50, maxMs: 1000 },
      requestTimeoutMs: 5000,
      logger: silentLogger,
    });
    await client.start();
    const seq = new Array<number>(ACTORS).fill(0);
    const record = (i: number) => {
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
    };
    // a steady stream: 1000 events every 20 ms
    let i = 0;
    const stream = async (until: number) => {
      for (; i < until; i++) {
        record(i);
        if (i % 1000 === 999) await pace(20);
      }
    };
    await stream(N / 3);
    await broker.kill();
    await stream((2 * N) / 3); // recorded while the broker is down
    // down until the client has met the outage: sends failed and events went to the spool
    await waitFor(() => client.metrics().failed > 0 && client.metrics().spooled > 0, {
      what: 'failed sends and spooled events',
    });
    await broker.resume();
    await stream(N);
    const r = await client.flush(90_000);
    expect(r).toEqual({ delivered: true, unsent: 0 });
    const m = client.metrics();
    expect(m.spooled).toBeGreaterThan(0);
    expect(m.replayed).toBeGreaterThan(0);
    expect(m.failed).toBeGreaterThan(0);
    await client.close();
    rmSync(spoolDir, { recursive: true, force: true });

    const { distinct, total } = await readBackInOrder(broker.brokers, env.registryUrl, t.accessEvents.name, N);
    expect(distinct).toBe(N);
    console.log(
      `outage: ${N} events, ${total - N} duplicates, spooled ${m.spooled}, replayed ${m.replayed}, failed attempts ${m.failed}`,
    );
  });
});
