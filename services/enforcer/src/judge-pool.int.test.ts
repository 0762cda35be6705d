/**
 * The judging worker reuses transferred buffers: input buffers come back with each result, and
 * decision buffers go back to the worker once the enforcer releases them. Reuse must never change
 * a decision: every batch judged on the worker, with buffers recycled in between, gives the same
 * decision bytes as the same batches judged on this thread (real registry: the worker registers
 * its schemas there).
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AvroCodec } from '@custos/kafka';
import { accessEventAvro, decisionAvro, toAvro } from '@custos/schemas';
import { DecisionEncoder } from '@custos/schemas/avro';
import { infraEnv, testTopics } from '@custos/test/support';
import { afterAll, describe, expect, it } from 'vitest';
import { LocalBatchJudge } from './batch-judge.js';
import { AccessEventDecoder } from './decode.js';
import { createPolicyJudge } from './judge.js';
import { WorkerBatchJudge } from './judge-pool.js';
import { makeEvent } from './test-support.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

describe('WorkerBatchJudge buffer reuse', () => {
  const { registryUrl } = infraEnv();
  const topics = testTopics('judge-pool');
  let worker: WorkerBatchJudge | undefined;
  afterAll(async () => worker?.close());

  it('gives the same decisions with recycled buffers as judging on this thread', async () => {
    const codec = AvroCodec.connect(registryUrl);
    const access = await codec.register(topics.accessEvents.subject, accessEventAvro);
    const decisions = await codec.register(topics.decisions.subject, decisionAvro);
    const judge = await createPolicyJudge(join(root, 'policies', 'example-org.json'));
    const local = new LocalBatchJudge(judge, new AccessEventDecoder(codec, access), new DecisionEncoder(decisions));
    let fatal: Error | undefined;
    worker = new WorkerBatchJudge(
      {
        registryUrl,
        accessSubject: topics.accessEvents.subject,
        decisionSubject: topics.decisions.subject,
        bundle: judge.bundle,
        policyVersion: judge.policyVersion,
        subjectState: judge.subjectState.snapshot(),
      },
      (err) => {
        fatal = err;
      },
    );
    await worker.ready;

    // Batches of varied sizes, so that a recycled buffer is sometimes too small (the arena grows)
    // and sometimes much larger than needed; some values invalid (no decision for them).
    const t0 = Date.parse('2026-11-20T10:00:00Z');
    let n = 0;
    const batch = (size: number) =>
      Array.from({ length: size }, () => {
        n++;
        if (n % 97 === 0) return Buffer.from('not an event');
        const e = makeEvent({
          occurredAt: new Date(t0 + n * 1000).toISOString(),
          actor: { id: n % 3 === 0 ? 's-ravi' : 's-asha', type: 'staff' },
          purpose: n % 11 === 0 ? 'marketing.promotions' : 'service.support',
          attributes: n % 5 === 0 ? { note: 'x'.repeat(n % 400) } : undefined,
        });
        if (e.attributes === undefined) delete e.attributes;
        return access.encode(toAvro(accessEventAvro, e));
      });
    const sizes = [300, 40, 1200, 5, 800, 2048, 10, 600, 1500, 64, 2048, 900];
    let previous: Buffer | undefined;
    for (const size of sizes) {
      const values = batch(size);
      const now = t0 + 10_000_000;
      const want = await local.judgeBatch({ partition: 0, values, replayCount: 0, now, wantDecisions: false });
      const got = await worker.judgeBatch({ partition: 0, values, replayCount: 0, now, wantDecisions: false });
      // that call took the previous batch's released buffer back to the worker: its views here are gone
      if (previous !== undefined) expect(previous.length).toBe(0);
      expect(got.decisionIndex).toEqual(want.decisionIndex);
      expect(got.decisions.length).toBe(want.decisions.length);
      for (let i = 0; i < want.decisions.length; i++) expect(got.decisions[i]!.equals(want.decisions[i]!)).toBe(true);
      expect(got.failures.map((f) => f.index)).toEqual(want.failures.map((f) => f.index));
      expect(got.release).toBeTypeOf('function');
      previous = got.decisions[0]!;
      expect(previous.length).toBeGreaterThan(0);
      got.release?.();
      got.release?.(); // at most once, however often called
    }
    expect(fatal).toBeUndefined();
  });
});
