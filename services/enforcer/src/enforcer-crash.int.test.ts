/**
 * Exactly once through a crash: the enforcer runs as its own process (services/enforcer/src/main.ts),
 * is SIGKILLed while a transaction is open in the middle of a stream of a few thousand events, and
 * is started again. Read committed, `decisions` then holds every valid eventId exactly once, while
 * read uncommitted shows the records of the transaction the kill left open (aborted on restart).
 * The second process is stopped with SIGTERM and must exit cleanly within its shutdown budget.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLogger } from '@custos/config';
import { AvroCodec, createKafka, ensureTopics } from '@custos/kafka';
import { topics as makeTopics } from '@custos/schemas';
import { infraEnv, pace, uniquePrefix, waitFor } from '@custos/test/support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countIds, type DecisionReader, eventProducer, makeEvent, readDecisions } from './test-support.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const TOTAL = 4000;
const INVALID = 20;
const ACTORS = ['s-asha', 's-vikram', 's-meera', 's-rohan', 's-priya', 's-arjun', 's-kavya', 's-dev', 's-neha', 's-ira'];

describe('enforcer process: SIGKILL mid-batch, restart', () => {
  const { brokers, registryUrl } = infraEnv();
  const prefix = uniquePrefix('enforcer-crash');
  const topics = makeTopics({ prefix, partitions: 3 });
  const logger = createLogger('enforcer-crash-test', 'warn');
  const kafka = createKafka({ brokers, clientId: 'enforcer-crash-test', logger });
  const codec = AvroCodec.connect(registryUrl);
  const children: ChildProcess[] = [];
  const readers: DecisionReader[] = [];
  let output = '';

  const env: NodeJS.ProcessEnv = {
    ...process.env,
    KAFKA_BROKERS: brokers.join(','),
    SCHEMA_REGISTRY_URL: registryUrl,
    TOPIC_PREFIX: prefix,
    TOPIC_PARTITIONS: '3',
    ENFORCER_GROUP_ID: `${prefix}enforcer`,
    ENFORCER_INSTANCE_ID: 'crash-0',
    POLICY_FILE: join(root, 'policies', 'example-org.json'),
    LOG_LEVEL: 'warn',
    SHUTDOWN_TIMEOUT_MS: '10000',
    ENFORCER_SESSION_TIMEOUT_MS: '6000',
    // Small batches, many transactions, each held open a moment: a kill lands inside one.
    ENFORCER_MAX_BYTES_PER_PARTITION: '16384',
    ENFORCER_FAULT_PAUSE_BEFORE_COMMIT_MS: '500',
  };

  function startEnforcer(name: string): ChildProcess {
    // node itself (not the tsx wrapper), so that the signal reaches the enforcer, not a launcher.
    const p = spawn(process.execPath, ['--import', 'tsx', 'services/enforcer/src/main.ts'], {
      cwd: root,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const keep = (chunk: Buffer) => {
      output = `${output}${chunk.toString().replace(/^/gm, `[${name}] `)}`.slice(-20_000);
    };
    p.stdout?.on('data', keep);
    p.stderr?.on('data', keep);
    children.push(p);
    return p;
  }
  const exited = (p: ChildProcess) =>
    new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
      if (p.exitCode !== null || p.signalCode !== null) resolve({ code: p.exitCode, signal: p.signalCode });
      else p.once('exit', (code, signal) => resolve({ code, signal }));
    });

  beforeAll(async () => {
    const admin = kafka.admin();
    await admin.connect();
    await ensureTopics(admin, Object.values(topics));
    await admin.disconnect();
  });

  afterAll(async () => {
    for (const p of children) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
    for (const r of readers) await r.stop();
  });

  it('decides every valid event exactly once', async () => {
    const committed = await readDecisions(kafka, codec, topics.decisions.name);
    const uncommitted = await readDecisions(kafka, codec, topics.decisions.name, { readUncommitted: true, decode: false });
    readers.push(committed, uncommitted);
    const producer = await eventProducer(kafka, codec, topics);
    const events = Array.from({ length: TOTAL }, (_, i) =>
      makeEvent({ actor: { id: ACTORS[i % ACTORS.length]!, type: 'staff' } }),
    );
    const expected = new Set(events.map((e) => e.eventId as string));

    // The stream: 100 events every 100 ms, a bad record now and then, while the enforcer works.
    const stream = (async () => {
      for (let i = 0; i < TOTAL; i += 100) {
        await producer.send(events.slice(i, i + 100));
        if (i % (TOTAL / INVALID) === 0) await producer.sendRaw('s-asha', Buffer.from('{"not":"avro"}'));
        await pace(100);
      }
    })();

    // Kill while it works. A kill between two transactions proves nothing, so this is repeated
    // until one provably landed inside an open transaction: with the process dead, the records
    // it sent stay visible to read-uncommitted but the last stable offset cannot pass them.
    let landed = false;
    for (let attempt = 1; attempt <= 4 && !landed; attempt++) {
      const before = committed.decisions.length;
      const p = startEnforcer(`run-${attempt}`);
      await waitFor(
        () => {
          if (p.exitCode !== null) throw new Error(`the enforcer exited with ${p.exitCode}`);
          return committed.decisions.length >= before + 100 && uncommitted.records > committed.records;
        },
        { what: 'committed decisions and an open transaction', timeoutMs: 90_000, everyMs: 10 },
      ).catch((err: unknown) => {
        throw new Error(`${String(err)}\n${output}`);
      });
      p.kill('SIGKILL');
      expect((await exited(p)).signal).toBe('SIGKILL');
      // Everything committed has been read: what read-uncommitted has beyond it sits in the open transaction.
      await waitFor(() => committed.caughtUp(), { what: 'the committed reader to reach the last stable offset' });
      landed = uncommitted.records > committed.records;
    }
    expect(landed).toBe(true);
    expect(committed.decisions.length).toBeLessThan(TOTAL);

    const last = startEnforcer('last');
    await stream;
    await producer.close();
    await waitFor(() => committed.decisions.length >= TOTAL, { what: 'every decision', timeoutMs: 120_000 }).catch(
      (err: unknown) => {
        throw new Error(`${String(err)} (have ${committed.decisions.length})\n${output}`);
      },
    );
    // a duplicate would sit before the end of the topic
    await waitFor(() => committed.caughtUp(), { what: 'the reader to reach the end of the decisions topic' });

    const counts = countIds(committed.decisions);
    const twice = [...counts].filter(([, n]) => n > 1);
    expect(twice).toEqual([]);
    expect(counts.size).toBe(TOTAL);
    expect([...counts.keys()].every((id) => expected.has(id))).toBe(true);
    // The killed transaction's records are in the log (aborted by the next owner), never read committed.
    expect(uncommitted.records).toBeGreaterThan(TOTAL);

    last.kill('SIGTERM');
    expect((await exited(last)).code).toBe(0);
  }, 240_000);
});
