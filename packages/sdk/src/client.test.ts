/**
 * The client's logic against an in-process fake of the producer and the registry (unit level; the
 * integration tests use the real Kafka and registry).
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AvroCodec, Kafka } from '@custos/kafka';
import { accessEventAvro, fromAvro, subjectStateChangeAvro, ValidationError } from '@custos/schemas';
import { pace, waitFor } from '@custos/test/support';
import avro from 'avsc';
import fc from 'fast-check';
import { Registry } from 'prom-client';
import { afterAll, describe, expect, it } from 'vitest';
import { type AuditClientOptions, createAuditClient, QueueFullError } from './client.js';
import { silentLogger } from './logger.js';
import { exportMetrics } from './metrics.js';
import { type AccessEventAvro, type AccessEventInput, toAccessEventAvro } from './validate.js';

const accessType = avro.Type.forSchema(accessEventAvro as unknown as avro.Schema);
const stateType = avro.Type.forSchema(subjectStateChangeAvro as unknown as avro.Schema);

interface Sent {
  topic: string;
  key: string;
  value: Buffer;
}

class FakeKafka {
  up = true;
  sent: Sent[] = [];
  sends = 0;
  delayMs = 0;
  producer() {
    return {
      connect: async () => {
        if (!this.up) throw Object.assign(new Error('connect ECONNREFUSED'), { retriable: true });
      },
      disconnect: async () => {},
      sendBatch: async ({
        topicMessages,
      }: {
        topicMessages: { topic: string; messages: { key: Buffer; value: Buffer }[] }[];
      }) => {
        this.sends++;
        if (this.delayMs > 0) await pace(this.delayMs); // a slow broker
        if (!this.up) throw Object.assign(new Error('broker went away'), { retriable: true });
        for (const tm of topicMessages) {
          for (const m of tm.messages) this.sent.push({ topic: tm.topic, key: m.key.toString(), value: Buffer.from(m.value) });
        }
      },
    };
  }
  admin() {
    return {
      connect: async () => {},
      disconnect: async () => {},
      listTopics: async () => [],
      describeCluster: async () => ({ brokers: [{ nodeId: 1 }] }),
      describeConfigs: async () => ({ resources: [] }),
      createTopics: async () => true,
      fetchTopicMetadata: async ({ topics }: { topics: string[] }) => ({
        topics: topics.map((name) => ({ name, partitions: [{ partitionId: 0, leader: 1 }] })),
      }),
    };
  }
}

class FakeRegistry {
  up = true;
  registrations = 0;
  ids: Record<string, number> = {};
  async register(subject: string, _schema: object) {
    this.registrations++;
    if (!this.up) throw Object.assign(new Error('registry down'), { code: 'ECONNREFUSED' });
    this.ids[subject] ??= 100 + Object.keys(this.ids).length;
    return { id: this.ids[subject]! };
  }
}

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function setup(over: Partial<AuditClientOptions> = {}, kafka = new FakeKafka(), registry = new FakeRegistry()) {
  const dir = mkdtempSync(join(tmpdir(), 'custos-client-test-'));
  dirs.push(dir);
  const opts: AuditClientOptions = {
    brokers: ['fake:9092'],
    schemaRegistryUrl: 'http://fake-registry',
    service: 'svc',
    topicPrefix: 't.',
    spool: { dir },
    logger: silentLogger,
    kafka: kafka as unknown as Kafka,
    codec: registry as unknown as AvroCodec,
    lingerMs: 1,
    retry: { initialMs: 2, maxMs: 10 },
    closeTimeoutMs: 500,
    ...over,
  };
  return { kafka, registry, dir, opts, client: createAuditClient(opts) };
}

function event(i: number, actor = `a${i % 5}`): AccessEventInput {
  return {
    eventId: `0190b0a0-0000-7000-8000-${String(i).padStart(12, '0')}`,
    occurredAt: '2026-03-02T10:00:00Z',
    tenantId: 'spera',
    actor: { id: actor, type: 'staff' },
    subject: { id: `c${i}`, type: 'customer' },
    categories: ['personal.contact'],
    action: 'read',
    purpose: 'service.support',
  };
}

function decoded(s: Sent): { eventId: string; schemaId: number; [k: string]: unknown } {
  const schemaId = s.value.readUInt32BE(1);
  const type = s.topic.endsWith('subject-state') ? stateType : accessType;
  const schema = s.topic.endsWith('subject-state') ? subjectStateChangeAvro : accessEventAvro;
  return { ...fromAvro<{ eventId: string }>(schema, type.fromBuffer(s.value.subarray(5))), schemaId };
}

const ids = (k: FakeKafka) => k.sent.map((s) => decoded(s).eventId);
const expectedIds = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => event(from + i).eventId);

describe('audit client (fake Kafka and registry)', () => {
  it('delivers what it records, in order, keyed and framed with the registered schema id', async () => {
    const { client, kafka } = setup();
    for (let i = 0; i < 50; i++) client.record(event(i));
    client.recordSubjectState({ tenantId: 'spera', subjectId: 'c1', change: 'erasure_completed', reference: 'T-1' });
    const r = await client.flush();
    expect(r).toEqual({ delivered: true, unsent: 0 });
    expect(ids(kafka).slice(0, 50)).toEqual(expectedIds(0, 50));
    const first = kafka.sent[0]!;
    expect(first.topic).toBe('t.access-events');
    expect(first.key).toBe('a0');
    expect(first.value[0]).toBe(0);
    const d = decoded(first);
    expect(d).toMatchObject({ schemaId: 100, tenantId: 'spera', occurredAt: '2026-03-02T10:00:00.000Z', recordCount: 1 });
    expect(d.source).toEqual({ service: 'svc' });
    const state = kafka.sent[50]!;
    expect(state.topic).toBe('t.subject-state');
    expect(JSON.parse(state.key)).toEqual(['spera', 'c1', 'erasure']);
    expect(decoded(state)).toMatchObject({ change: 'erasure_completed', reference: 'T-1', schemaId: 101 });
    expect(client.metrics()).toMatchObject({ recorded: 51, sent: 51, failed: 0, unsent: 0, queuedEvents: 0, queuedBytes: 0 });
    await client.close();
  });

  it("runs the producer on the caller's thread with a `kafka` instance; asking for the sender thread then is an error", async () => {
    // every other test here relies on the first half: the fake Kafka sees the sends
    expect(() => setup({ senderThread: true })).toThrow(/senderThread` needs `brokers`/);
  });

  it('fills a UUIDv7 eventId and occurredAt when absent', async () => {
    const { client, kafka } = setup();
    const before = Date.now();
    const { eventId: _e, occurredAt: _o, ...rest } = event(0);
    client.record(rest);
    await client.flush();
    const d = decoded(kafka.sent[0]!) as unknown as { eventId: string; occurredAt: string };
    expect(d.eventId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(Date.parse(d.occurredAt)).toBeGreaterThanOrEqual(before);
    await client.close();
  });

  it('throws a ValidationError at once for an invalid event and counts it', async () => {
    const { client, kafka } = setup();
    expect(() => client.record({ ...event(0), actor: { id: '', type: 'robot' } } as unknown as AccessEventInput)).toThrow(
      /actor\.id: .*actor\.type: /,
    );
    expect(() => client.recordSubjectState({ tenantId: 'spera', subjectId: 'x', change: 'nope' as 'erasure_completed' })).toThrow(
      ValidationError,
    );
    expect(() => client.record({ ...event(1), attributes: { big: 'x'.repeat(1_000_000) } })).toThrow(/maxEventBytes/);
    await client.flush();
    expect(kafka.sent).toEqual([]);
    expect(client.metrics()).toMatchObject({ recorded: 0, invalid: 3 });
    await client.close();
  });

  it('frames the bytes and throws the errors of the zod path, whichever path an event takes', async () => {
    // record() validates and writes in one pass (writeAccessEvent, @custos/schemas/avro) and leaves anything
    // unusual to validate.ts; checked here against validate.ts alone, through the frames Kafka gets.
    const { client, kafka } = setup();
    const fields = [...accessEventAvro.fields.map((f) => f.name), 'extra'];
    const odd = [
      { ...event(1), attributes: JSON.parse('{"__proto__":"x","a":"b"}') as Record<string, string> },
      { ...event(2), tenantId: ' \ud800 ', categories: ['\u00a0x', 'é'.repeat(40)], purpose: 'x'.repeat(70) },
      {
        ...event(3),
        fields: undefined,
        recipient: undefined,
        legalBasis: undefined,
        source: { service: undefined, ip: '\udfff' },
      },
      { ...event(4), attributes: Object.assign(Object.create(null) as object, { k: 'v' }) as Record<string, string> },
      // keys (actor ids): non-ASCII, a lone surrogate, longer than the ASCII loop takes, padded
      event(5, 'ä-\ud83d\ude00'),
      event(6, 'x\ud800'),
      event(7, 'k'.repeat(65)),
      event(8, ' a '),
      event(9, 'ké€'),
    ];
    const inputs: unknown[] = [
      ...odd,
      ...fc.sample(
        fc
          .tuple(fc.nat(), fc.constantFrom(...fields), fc.anything({ withNullPrototype: true, withBoxedValues: true }))
          .filter(([, k, v]) => !((k === 'eventId' || k === 'occurredAt') && (v === undefined || v === null)))
          .map(([i, k, v]) => ({ ...event(i), [k]: v })),
        { numRuns: 2000, seed: 42 },
      ),
    ];
    const want: { key: string; value: Buffer }[] = [];
    for (const x of inputs) {
      let expected: AccessEventAvro | ValidationError;
      try {
        expected = toAccessEventAvro(x, 'svc', 0, () => 'unused');
      } catch (e) {
        expected = e as ValidationError;
      }
      let got: unknown;
      try {
        client.record(x as AccessEventInput);
      } catch (e) {
        got = e;
      }
      if (expected instanceof ValidationError) {
        expect(got).toBeInstanceOf(ValidationError);
        expect((got as ValidationError).message).toBe(expected.message);
      } else {
        expect(got).toBeUndefined();
        // (the fake keeps keys as decoded UTF-8, as Buffer.from's bytes of the id decode)
        want.push({ key: Buffer.from(expected.actor.id).toString(), value: accessType.toBuffer(expected) });
      }
    }
    expect(want.length).toBeGreaterThan(100);
    expect((await client.flush()).delivered).toBe(true);
    expect(kafka.sent.map((s) => ({ key: s.key, value: s.value.subarray(5) }))).toEqual(want);
    await client.close();
  });

  it('records before the registry answers: the values get the id once it does', async () => {
    const registry = new FakeRegistry();
    registry.up = false;
    const { client, kafka } = setup({}, new FakeKafka(), registry);
    for (let i = 0; i < 10; i++) client.record(event(i));
    // the client has asked the registry, been refused and asked again: the events had their chance to leave
    await waitFor(() => registry.registrations >= 2, { what: 'a second registration attempt', timeoutMs: 5000 });
    expect(kafka.sent).toEqual([]);
    registry.up = true;
    await client.flush();
    expect(kafka.sent.map((s) => decoded(s).schemaId)).toEqual(Array(10).fill(registry.ids['t.access-events-value']));
    await client.close();
  });

  it('keeps memory bounded while Kafka is down, spools, and delivers everything in order when it is back', async () => {
    const kafka = new FakeKafka();
    kafka.up = false;
    const { client, dir } = setup({ maxQueueBytes: 20_000 }, kafka);
    let maxQueued = 0;
    for (let i = 0; i < 3000; i++) {
      client.record(event(i));
      maxQueued = Math.max(maxQueued, client.metrics().queuedBytes);
      if (i % 100 === 99) await pace(3); // let the spool write
    }
    expect(maxQueued).toBeLessThanOrEqual(40_000);
    expect(client.metrics().spooled).toBeGreaterThan(2000);
    expect(client.metrics().failed).toBeGreaterThan(0);
    expect(readdirSync(dir).some((f) => f.endsWith('.seg'))).toBe(true);
    kafka.up = true;
    expect((await client.flush(10_000)).delivered).toBe(true);
    expect(ids(kafka)).toEqual(expectedIds(0, 3000));
    expect(client.metrics().replayed).toBeGreaterThan(2000);
    await client.close();
    expect(readdirSync(dir).filter((f) => f.endsWith('.seg'))).toEqual([]);
  });

  it('close() with Kafka down leaves everything in the spool; the next client replays it first, in order', async () => {
    const kafka = new FakeKafka();
    kafka.up = false;
    const a = setup({ closeTimeoutMs: 100 }, kafka);
    for (let i = 0; i < 500; i++) a.client.record(event(i));
    const r = await a.client.close();
    expect(r).toEqual({ delivered: false, unsent: 500 });
    expect(() => a.client.record(event(0))).toThrow(/closed/);
    // next start, Kafka back, the registry down: the ids cached in the spool are enough
    const kafka2 = new FakeKafka();
    const registry2 = new FakeRegistry();
    registry2.up = false;
    const b = createAuditClient({ ...a.opts, kafka: kafka2 as unknown as Kafka, codec: registry2 as unknown as AvroCodec });
    for (let i = 500; i < 600; i++) b.record(event(i));
    await waitFor(() => kafka2.sent.length >= 600, { what: '600 events sent', timeoutMs: 5000 });
    expect(ids(kafka2)).toEqual(expectedIds(0, 600));
    expect(kafka2.sent.every((s) => decoded(s).schemaId === 100)).toBe(true);
    expect(b.metrics()).toMatchObject({ replayed: 500, sent: 600, unsent: 0 });
    await b.close();
  });

  it("onQueueFull 'block': record() hands out a promise past the bound, resolved when there is room", async () => {
    const kafka = new FakeKafka();
    kafka.up = false;
    const { client } = setup({ maxQueueBytes: 5_000, onQueueFull: 'block' }, kafka);
    let waited: Promise<void> | undefined;
    let n = 0;
    while (waited === undefined) {
      const r = client.record(event(n++));
      if (r instanceof Promise) waited = r;
    }
    expect(client.metrics().spooled).toBe(0);
    let resolved = false;
    void waited.then(() => {
      resolved = true;
    });
    // a send has failed since: Kafka made no room
    const failed = client.metrics().failed;
    await waitFor(() => client.metrics().failed > failed, { what: 'a failed send', timeoutMs: 5000 });
    expect(resolved).toBe(false);
    kafka.up = true;
    await waitFor(() => resolved, { what: 'the promise to resolve', timeoutMs: 5000 });
    await client.flush();
    expect(ids(kafka)).toEqual(expectedIds(0, n));
    await client.close();
  });

  it('without a spool, refuses events (QueueFullError) rather than grow past twice the bound', async () => {
    const kafka = new FakeKafka();
    kafka.up = false;
    const { client } = setup({ maxQueueBytes: 5_000, spool: false }, kafka);
    let refused: unknown;
    for (let i = 0; i < 1000 && refused === undefined; i++) {
      try {
        void client.record(event(i));
      } catch (e) {
        refused = e;
      }
    }
    expect(refused).toBeInstanceOf(QueueFullError);
    expect(client.metrics().queuedBytes).toBeLessThanOrEqual(10_000 + 1_000);
    const r = await client.close();
    expect(r.delivered).toBe(false);
  });

  it('retries failed sends with backoff and counts the failures', async () => {
    const kafka = new FakeKafka();
    const { client } = setup({}, kafka);
    await client.start();
    kafka.up = false;
    for (let i = 0; i < 20; i++) client.record(event(i));
    await waitFor(() => client.metrics().failed >= 60, { what: '60 failed sends', timeoutMs: 5000 });
    kafka.up = true;
    await client.flush();
    expect(ids(kafka)).toEqual(expectedIds(0, 20));
    expect(client.metrics().failed).toBeGreaterThanOrEqual(20 * 3);
    await client.close();
  });

  it('fuzz: random valid and invalid input while Kafka flaps never crashes; what was accepted arrives, in order', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.oneof(
            { weight: 6, arbitrary: fc.integer({ min: 0, max: 1e9 }).map((i) => ({ ok: true as const, e: event(i) })) },
            { weight: 2, arbitrary: fc.anything().map((x) => ({ ok: false as const, e: x })) },
            { weight: 1, arbitrary: fc.constantFrom('down', 'up', 'tick') },
          ),
          { maxLength: 120 },
        ),
        async (steps) => {
          const kafka = new FakeKafka();
          const { client } = setup({ maxQueueBytes: 3_000 }, kafka);
          const accepted: string[] = [];
          for (const s of steps) {
            if (s === 'down') kafka.up = false;
            else if (s === 'up') kafka.up = true;
            else if (s === 'tick') await pace(2);
            else {
              try {
                client.record(s.e as AccessEventInput);
                accepted.push((s.e as { eventId: string }).eventId);
              } catch (err) {
                expect(err).toBeInstanceOf(ValidationError);
              }
            }
          }
          kafka.up = true;
          expect((await client.flush(10_000)).delivered).toBe(true);
          // de-duplicated (a failed batch may have been partly sent elsewhere; not with this fake)
          expect(ids(kafka)).toEqual(accepted);
          await client.close();
        },
      ),
      { numRuns: 40 },
    );
  });

  it('reuses arena chunks, pack buffers, key buffers, message objects and value copies without mixing events up', async () => {
    // ~40 arena chunks, more distinct keys than the key cache holds, values of many lengths, sends
    // that take a while (the fake copies the bytes at the end of a send) and an outage with eviction.
    const kafka = new FakeKafka();
    kafka.delayMs = 10;
    const { client } = setup({ maxQueueBytes: 2 * 1024 * 1024 }, kafka);
    const n = 60_000;
    const ev = (i: number) => ({
      ...event(i, `actor-${(i * 7919) % 5000}`),
      subject: { id: `c${'x'.repeat(i % 97)}${i}`, type: 'customer' as const },
    });
    for (let i = 0; i < n; i++) {
      if (i === 20_000) kafka.up = false;
      if (i === 35_000) kafka.up = true;
      client.record(ev(i));
      if (i % 1000 === 999) await pace(3);
    }
    expect((await client.flush(30_000)).delivered).toBe(true);
    expect(client.metrics().spooled).toBeGreaterThan(0);
    const seen = new Map<string, number>();
    for (const s of kafka.sent) {
      const d = decoded(s) as unknown as { eventId: string; actor: { id: string }; subject: { id: string } };
      const i = Number(d.eventId.slice(-12));
      expect(s.key).toBe(d.actor.id);
      expect(d.actor.id).toBe(ev(i).actor.id);
      expect(d.subject.id).toBe(ev(i).subject.id);
      if (!seen.has(d.eventId)) seen.set(d.eventId, seen.size);
    }
    // every event, first occurrences in recording order (a failed batch may be sent again)
    expect([...seen.keys()]).toEqual(expectedIds(0, n));
    await client.close();
  }, 60_000);

  it('exports its counters to prom-client', async () => {
    const { client } = setup();
    for (let i = 0; i < 3; i++) client.record(event(i));
    await client.flush();
    const registry = new Registry();
    const remove = exportMetrics(() => client.metrics(), { registry, labels: { service: 'svc' } });
    const text = await registry.metrics();
    expect(text).toContain('custos_sdk_sent_total{service="svc"} 3');
    expect(text).toContain('custos_sdk_recorded_total{service="svc"} 3');
    expect(text).toContain('custos_sdk_queued_bytes{service="svc"} 0');
    // scraped twice: counters are not added up twice
    expect(await registry.metrics()).toContain('custos_sdk_sent_total{service="svc"} 3');
    remove();
    expect(await registry.metrics()).toBe('\n');
    await client.close();
  });
});
