/**
 * `custos verify --against-topic` as a real command: the real sink process stores decisions from a
 * real topic into chDB, then the CLI (`packages/cli/src/bin.ts`, a process of its own) checks the
 * stored trail against the chains, the signed checkpoints and the topic — clean first (exit 0), then
 * after the newest rows of a chain were deleted together with the checkpoints covering them, which
 * only the topic reveals (exit 1, the rows named). The test process never opens the chDB directory
 * itself (chDB binds one directory per process); children do.
 */
import { AvroCodec, createKafka } from '@custos/kafka';
import { accessEventAvro, fromAvro } from '@custos/schemas';
import { sinkProcessFixture } from '@custos/sink/testing';
import { waitFor } from '@custos/test/support';
import { describe, expect, it } from 'vitest';
import { finished, runScript } from '../testing/processes.js';

const N = 900;

describe('custos verify --against-topic (the command, against Kafka and chDB)', () => {
  it('exits 0 on a clean trail and 1 naming the newest rows deleted after the last checkpoint', async () => {
    const { topics, env, admin, committed } = await sinkProcessFixture('cli-verify', {
      n: N,
      publishBatch: 300,
      checkpointMaxRows: 100,
      maxBatchRows: 100,
    });
    try {
      const run = (script: string, args: string[] = []) => runScript(env, script, args);
      const finish = finished;
      // The topic alone (the witness, read by default, has a test of its own: tamper.int.test.ts)
      const verify = () => finish(run('packages/cli/src/bin.ts', ['verify', '--against-topic', '--no-witness']));

      // 1. The real sink stores everything and commits; then a clean stop (last checkpoint written).
      const sink = run('services/sink/src/main.ts');
      const sinkDone = finish(sink);
      await waitFor(async () => (await committed()) >= N, {
        what: `the sink to commit all ${N} offsets`,
        timeoutMs: 120_000,
        everyMs: 300,
      });
      expect(await committed()).toBe(N);
      sink.kill('SIGTERM');
      expect((await sinkDone).code).toBe(0);

      // 2. Clean: exit 0, every row accounted for, the topic among the sources.
      const clean = await verify();
      expect(clean.err).not.toMatch(/^custos/m); // (kafkajs may warn on stderr)
      expect(clean.code).toBe(0);
      expect(clean.out).toMatch(
        new RegExp(`^OK: ${N} rows in 3 chain\\(s\\), \\d+ genuine checkpoint\\(s\\); checked against .*topic`),
      );

      // 3. The two newest rows of a chain deleted, with the checkpoints that covered them.
      const del = await finish(run('packages/cli/src/testing/delete-newest-child.ts', ['2']));
      expect(del.code).toBe(0);
      const { chain, fromSeq, toSeq, offsets } = JSON.parse(del.out.trim()) as {
        chain: number;
        fromSeq: number;
        toSeq: number;
        offsets: string[];
      };
      expect(toSeq - fromSeq).toBe(1);
      expect(offsets).toHaveLength(2);

      // ClickHouse alone cannot tell (the chain, the remaining checkpoints and heads are consistent) …
      const alone = await finish(run('packages/cli/src/bin.ts', ['verify', '--no-witness']));
      expect(alone.code).toBe(0);
      // … the topic can: exit 1, both rows named as deleted, found by the topic.
      const tampered = await verify();
      expect(tampered.code).toBe(1);
      expect(tampered.out).toMatch(new RegExp(`^FAILED: ${N - 2} rows in 3 chain\\(s\\)`));
      const errors = tampered.out.split('\n').filter((l) => l.startsWith('  [error]'));
      expect(errors).toHaveLength(2);
      offsets.forEach((offset, i) => {
        expect(errors[i]).toMatch(/^ {2}\[error\] deleted \(topic\): .*newest rows was deleted/);
        expect(errors[i]).toMatch(new RegExp(`at offset ${offset} of partition ${chain}\\b`));
      });
      const json = await finish(run('packages/cli/src/bin.ts', ['verify', '--against-topic', '--no-witness', '--json']));
      expect(json.code).toBe(1);
      const report = JSON.parse(json.out) as {
        ok: boolean;
        findings: { kind: string; severity: string; detectedBy: string; chain: number; offset?: string }[];
      };
      expect(report.ok).toBe(false);
      expect(
        report.findings
          .filter((f) => f.severity === 'error')
          .map((f) => ({ kind: f.kind, detectedBy: f.detectedBy, chain: f.chain, offset: String(f.offset) })),
      ).toEqual(offsets.map((offset) => ({ kind: 'deleted', detectedBy: 'topic', chain, offset })));

      // 4. Each run was itself a read of audit data, recorded on the audit trail (four above);
      // --no-record runs without it, and says so.
      const unrecorded = await finish(run('packages/cli/src/bin.ts', ['verify', '--no-witness', '--no-record']));
      expect(unrecorded.code).toBe(0);
      expect(unrecorded.err).toMatch(/--no-record: this verify of audit data is not recorded/);
      const reads = await recordedReads(
        env.KAFKA_BROKERS as string,
        env.SCHEMA_REGISTRY_URL as string,
        topics.accessEvents.name,
        4,
      );
      expect(reads.map((e) => [e.source.service, e.action, e.categories, e.attributes?.command])).toEqual(
        Array.from({ length: 4 }, () => ['custos-verify', 'read', ['audit.trail'], 'verify']),
      );
    } finally {
      await admin.deleteTopics({ topics: Object.values(topics).map((t) => t.name) }).catch(() => undefined);
      await admin.disconnect();
    }
  }, 240_000);
});

/** The access events on `topic` from the beginning, until `n` were read (then a moment for more). */
async function recordedReads(brokers: string, registryUrl: string, topic: string, n: number) {
  const consumer = createKafka({ brokers: brokers.split(','), clientId: 'verify-reads' }).consumer({
    groupId: `${topic}-reads-${Date.now()}`,
  });
  const codec = AvroCodec.connect(registryUrl);
  const values: Buffer[] = [];
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  void consumer.run({
    eachMessage: async ({ message }) => {
      if (message.value) values.push(message.value);
    },
  });
  await waitFor(() => values.length >= n, { what: `${n} recorded reads on ${topic}`, timeoutMs: 60_000 });
  // the stop is the condition: the topic's end, by offsets, not a quiet period
  const admin = createKafka({ brokers: brokers.split(','), clientId: 'verify-reads-admin' }).admin();
  await admin.connect();
  const end = (await admin.fetchTopicOffsets(topic)).reduce((sum, p) => sum + Number(p.high), 0);
  await admin.disconnect();
  await waitFor(() => values.length >= end, { what: `the end of ${topic} (${end} records)` });
  await consumer.disconnect();
  const events = [];
  for (const v of values) {
    events.push(
      fromAvro<{ action: string; categories: string[]; source: { service: string }; attributes?: Record<string, string> }>(
        accessEventAvro,
        (await codec.decode(v)).value,
      ),
    );
  }
  return events;
}
