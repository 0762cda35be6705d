/**
 * `custos replay --from T1 --to T2 --policy CANDIDATE`: re-judges stored history under a candidate
 * bundle and prints what would change. Read-only; production decisions are not touched.
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { createLogger, logColors } from '@custos/config';
import { kafkaDeps, readTable } from '@custos/kafka';
import { compileBundle, loadBundle, SubjectStateStore } from '@custos/policy';
import { fromAvro, parseSubjectStateChange, subjectStateChangeAvro } from '@custos/schemas';
import { openStore } from '@custos/store';
import type { Command } from 'commander';
import { loadCliEnv } from '../env.js';
import { progress } from '../progress.js';
import { type ReadRecordOptions, readRecordOptions, recordCliRead } from '../record-read.js';
import { formatReplay, replay } from '../replay.js';

interface ReplayCliOptions {
  from: string;
  to: string;
  policy: string;
  tenant?: string;
  state?: string;
  json?: boolean;
  examples: string;
}

function time(name: string, v: string): Date {
  const d = new Date(v);
  if (Number.isNaN(d.getTime())) throw new Error(`--${name} must be an ISO-8601 time or date, got ${JSON.stringify(v)}`);
  return d;
}

async function stateFromFile(path: string, into: SubjectStateStore): Promise<void> {
  let n = 0;
  for await (const line of createInterface({ input: createReadStream(path), crlfDelay: Number.POSITIVE_INFINITY })) {
    n++;
    if (!line.trim()) continue;
    const p = parseSubjectStateChange(JSON.parse(line));
    if (!p.ok) throw new Error(`${path}:${n}: ${p.errors.map((e) => `${e.path}: ${e.message}`).join('; ')}`);
    into.apply(p.value);
  }
}

export function registerReplay(program: Command): void {
  const cmd = program
    .command('replay')
    .description('re-judge stored decisions of a time window under a candidate policy bundle and show what would change')
    .requiredOption('--from <time>', 'start of the window (inclusive), ISO-8601')
    .requiredOption('--to <time>', 'end of the window (exclusive), ISO-8601')
    .requiredOption('--policy <file>', 'the candidate policy bundle')
    .option('--tenant <id>', 'only this tenant')
    .option('--state <file>', 'subject-state changes (NDJSON) instead of reading the subject-state topic')
    .option('--examples <n>', 'examples shown per outcome change', '5')
    .option('--json', 'print the diff as JSON');
  readRecordOptions(cmd).action(async (o: ReplayCliOptions & ReadRecordOptions) => {
    const from = time('from', o.from);
    const to = time('to', o.to);
    if (to <= from) throw new Error('--to must be after --from');
    const examples = Number(o.examples);
    if (!Number.isInteger(examples) || examples < 0) throw new Error('--examples must be a whole number');
    const loaded = await loadBundle(o.policy);
    const candidate = compileBundle(loaded.bundle, loaded.policyVersion);
    const env = loadCliEnv();
    const logger = createLogger('replay', env.LOG_LEVEL, env.LOG_FORMAT, logColors(env));
    const deps = { logger, ...kafkaDeps(env, 'replay', logger) };
    const subjectState = new SubjectStateStore();
    if (o.state) await stateFromFile(o.state, subjectState);
    else {
      const schema = await deps.codec.register(deps.topics.subjectState.subject, subjectStateChangeAvro);
      const table = await readTable(deps.kafka, deps.topics.subjectState.name, async (m) => {
        const p = parseSubjectStateChange(fromAvro(subjectStateChangeAvro, (await deps.codec.decode(m.value, schema)).value));
        if (p.ok) subjectState.apply(p.value);
      });
      await table.caughtUp;
      await table.stop();
    }
    const store = await openStore(env, deps.logger);
    let replayed = 0;
    try {
      const report = await replay({
        store,
        from,
        to,
        tenantId: o.tenant,
        candidate,
        subjectState,
        examplesPerTransition: examples,
        progress: progress('replaying', { unit: 'decisions read' }),
      });
      process.stdout.write(o.json ? `${JSON.stringify(report, null, 2)}\n` : formatReplay(report));
      replayed = report.replayed;
    } finally {
      await store.close();
    }
    await recordCliRead(o, env, deps.logger, {
      command: 'replay',
      tenantId: o.tenant,
      recordCount: replayed,
      attributes: { from: o.from, to: o.to, candidate: candidate.policyVersion },
    });
  });
}
