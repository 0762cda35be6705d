/**
 * Test child: the sink as main.ts runs it, but the process SIGKILLs itself right after its
 * `killAfter`-th insert — the rows are in ClickHouse, the offsets not committed. Used by
 * kill.int.test.ts; not part of the service.
 */
import { parseEnv } from '@custos/config';
import { buildDeps, loadEnv, openStore } from '@custos/runtime';
import { sinkEnvSchema, sinkOptionsFromEnv } from '../options.js';
import { Sink } from '../sink.js';

const killAfter = Number(process.argv[2] ?? '3');
const env = loadEnv();
const deps = buildDeps(env, 'sink-kill-child');
const store = await openStore(env, deps.logger);
let inserts = 0;
const sink = new Sink({
  ...deps,
  store,
  groupId: env.SINK_GROUP_ID,
  maxBatchRows: env.SINK_MAX_BATCH_ROWS,
  ...sinkOptionsFromEnv(parseEnv(sinkEnvSchema), deps.logger),
  hooks: {
    afterInsert: () => {
      inserts += 1;
      if (inserts >= killAfter) {
        process.stdout.write(`killing after insert ${inserts}\n`);
        process.kill(process.pid, 'SIGKILL');
      }
    },
  },
});
await sink.start();
