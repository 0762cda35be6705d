/**
 * The judging worker thread: a LocalBatchJudge of its own (policy, subject state, bulk windows),
 * fed by WorkerBatchJudge over the thread's port. Messages are handled in arrival order, so a
 * policy or subject-state change posted before a batch applies to that batch.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { AvroCodec } from '@custos/kafka';
import { compileBundle, type PolicyBundle } from '@custos/policy';
import { accessEventAvro, decisionAvro, type SubjectStateChange } from '@custos/schemas';
import { BufferPool, DecisionEncoder } from '@custos/schemas/avro';
import { LocalBatchJudge } from './batch-judge.js';
import { AccessEventDecoder } from './decode.js';
import { PolicyJudge } from './judge.js';
import { type FromWorker, POOLED_BUFFERS, packOutput, type ToWorker, unpackValues, type WorkerInit } from './judge-pool.js';

const port = parentPort;
if (port === null) throw new Error('judge-worker-main runs as a worker thread');
const init = workerData as WorkerInit;
const codec = AvroCodec.connect(init.registryUrl);
const judge = new PolicyJudge(compileBundle(init.bundle as PolicyBundle, init.policyVersion));
judge.subjectState.load(init.subjectState);
// decision buffers the enforcer has sent and handed back
const arenas = new BufferPool(POOLED_BUFFERS);
const local = new LocalBatchJudge(
  judge,
  new AccessEventDecoder(codec, await codec.register(init.accessSubject, accessEventAvro)),
  new DecisionEncoder(await codec.register(init.decisionSubject, decisionAvro)),
  arenas,
);
const post = (m: FromWorker, transfer: ArrayBuffer[] = []) => port.postMessage(m, transfer);

// Handled one at a time, in order: a batch may await the registry for an unknown schema id.
let queue: Promise<void> = Promise.resolve();
port.on('message', (m: ToWorker) => {
  queue = queue.then(() => handle(m));
});

async function handle(m: ToWorker): Promise<void> {
  switch (m.t) {
    case 'batch': {
      for (const b of m.recycled) arenas.give(Buffer.from(b));
      try {
        const out = await local.judgeBatch({
          partition: m.partition,
          values: unpackValues(m.buf, m.lens),
          replayCount: m.replayCount,
          now: m.now,
          wantDecisions: m.wantDecisions,
        });
        const { message, transfer } = packOutput(m.id, out);
        // judged: nothing refers to the input bytes any more (decisions copied what they needed)
        if (message.t === 'result') {
          message.input = m.buf;
          transfer.push(m.buf);
        }
        post(message, transfer);
      } catch (err) {
        const e = err as { name?: string; message?: string; retriable?: boolean };
        post({
          t: 'error',
          id: m.id,
          name: e?.name ?? 'Error',
          message: e?.message ?? String(err),
          retriable: e?.retriable === true,
        });
      }
      return;
    }
    case 'drop':
      local.dropPartition(m.partition);
      return;
    case 'state':
      judge.applySubjectState(m.change as SubjectStateChange);
      return;
    case 'policy':
      judge.replace(compileBundle(m.bundle as PolicyBundle, m.policyVersion));
      return;
  }
}

post({ t: 'ready' });
