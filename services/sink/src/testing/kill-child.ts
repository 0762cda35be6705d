/**
 * Test child: the sink as main.ts runs it, but the process SIGKILLs itself right after its
 * `killAfter`-th insert — the rows are in ClickHouse, the offsets not committed. Used by
 * kill.int.test.ts; not part of the service.
 */
import { createLogger, parseEnv } from '@custos/config';
import { kafkaDeps } from '@custos/kafka';
import { openStore } from '@custos/store';
import { sinkEnvSchema, sinkOptionsFromEnv } from '../options.js';
import { Sink } from '../sink.js';

const killAfter = Number(process.argv[2] ?? '3');
const env = parseEnv(sinkEnvSchema);
const logger = createLogger('sink-kill-child', env.LOG_LEVEL, env.LOG_FORMAT);
const store = await openStore(env, logger);
let inserts = 0;
const sink = new Sink({
  ...kafkaDeps(env, 'sink-kill-child', logger),
  logger,
  store,
  ...sinkOptionsFromEnv(env, logger),
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
