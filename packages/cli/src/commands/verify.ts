/**
 * `custos verify [--from --to] [--chain N…] [--checkpoints DIR] [--against-topic] [--no-witness | --witness-dir DIR]
 * [--no-read-model] [--json]`: checks the stored decisions against their hash chains, signed
 * checkpoints and heads, and the witness kept outside ClickHouse (the witness topic by default, or a
 * witness directory), and when asked against exported checkpoint files and the decisions topic;
 * names every modified, deleted,
 * inserted or reordered record and every forged checkpoint; then compares the subject report's read
 * model with the decisions, naming every row that differs. Exit code 0 when clean, 1 when something is wrong,
 * 2 on bad options. `--event ID` proves one decision's inclusion; `--consistency [FROM..TO]` that one
 * signed head extends another.
 */
import type { KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Writable } from 'node:stream';
import { createLogger, logColors } from '@custos/config';
import { kafkaDeps } from '@custos/kafka';
import { readWitnessTopic, topicReference } from '@custos/sink';
import {
  type ConsistencyProof,
  ConsistencyUnavailable,
  checkConsistency,
  checkInclusionProof,
  createStore,
  formatReport,
  ProofUnavailable,
  payloadHash,
  proveConsistency,
  proveInclusion,
  type ReferenceSource,
  readCheckpointFiles,
  readWitnessDir,
  type Store,
  storeOptionsFromEnv,
  trustedCheckpointKeys,
  verifyRange,
  type WitnessLog,
} from '@custos/store';
import type { Command } from 'commander';
import { loadCliEnv } from '../env.js';
import { type Progress, progress } from '../progress.js';
import { type ReadRecordOptions, readRecordOptions, recordCliRead } from '../record-read.js';

export interface VerifyCliOptions {
  from?: string | undefined;
  to?: string | undefined;
  chain?: string[] | undefined;
  checkpoints?: string | undefined;
  againstTopic?: boolean | undefined;
  json?: boolean | undefined;
  maxFindings?: string | undefined;
  /** commander's `--no-read-model` */
  readModel?: boolean | undefined;
  /** commander's `--no-witness` */
  witness?: boolean | undefined;
  witnessDir?: string | undefined;
  /** prove one decision's inclusion instead of verifying a range */
  event?: string | undefined;
  /** `FROM..TO` (head payload SHA-256s, either may be left out), or true: prove and check a consistency proof */
  consistency?: string | boolean | undefined;
  /** check a consistency proof saved earlier (JSON of the API's or of `--consistency --json`), offline */
  consistencyFile?: string | undefined;
}

export interface VerifyDeps {
  store: Store;
  trusted: KeyObject[];
  retentionDays?: number | undefined;
  reference?: ReferenceSource | undefined;
  witness?: WitnessLog | undefined;
  stdout: Pick<Writable, 'write'>;
  stderr: Pick<Writable, 'write'>;
  now?: number;
  /** told how far the chains have been checked */
  progress?: Progress | undefined;
}

function date(name: string, v: string | undefined): Date | undefined | string {
  if (v === undefined) return undefined;
  const d = new Date(/^\d{4}-\d{2}-\d{2}$/.test(v) ? `${v}T00:00:00Z` : v);
  return Number.isNaN(d.getTime()) ? `--${name} must be an ISO-8601 date or time, not ${JSON.stringify(v)}` : d;
}

/**
 * `--event ID`: the decision's inclusion proof (the row, its Merkle audit path and the signed
 * checkpoint), checked here as an auditor would check it offline. 0 proven; 1 missing or tampered;
 * 2 not provable yet (not checkpointed) or bad input.
 */
export async function runProveEvent(o: VerifyCliOptions, deps: VerifyDeps): Promise<number> {
  const id = o.event as string;
  try {
    const proof = await proveInclusion(deps.store, id, deps.trusted);
    const check = checkInclusionProof(proof, deps.trusted);
    if (o.json)
      deps.stdout.write(`${JSON.stringify({ ok: check.ok, ...(check.ok ? {} : { reason: check.reason }), proof }, null, 2)}\n`);
    else if (check.ok) {
      deps.stdout.write(
        `OK: decision ${proof.eventId} is seq ${proof.seq} of chain ${proof.chain}, leaf ${proof.leafIndex} of ${proof.treeSize} ` +
          `under the tree head ${check.checkpoint.merkleRoot} signed by key ${check.checkpoint.keyId} (checkpoint of seq ${check.checkpoint.prevSeq + 1}…${check.checkpoint.lastSeq}, created ${check.checkpoint.createdAt}); audit path of ${proof.path.length} hashes\n`,
      );
    } else deps.stdout.write(`FAILED: decision ${id}: ${check.reason}\n`);
    return check.ok ? 0 : 1;
  } catch (err) {
    if (!(err instanceof ProofUnavailable)) throw err;
    const code = err.reason === 'not_found' || err.reason === 'tampered' ? 1 : 2;
    (code === 1 ? deps.stdout : deps.stderr).write(`${code === 1 ? 'FAILED' : 'custos verify'}: ${err.message}\n`);
    return code;
  }
}

/**
 * `--consistency [FROM..TO]`: the proof that head TO extends head FROM (default: the newest head and
 * the one before it), checked as an auditor would check it offline; `--consistency-file FILE` checks
 * a saved one. 0 consistent; 1 not (history rewritten between them); 2 no such heads or bad input.
 */
export async function runConsistency(o: VerifyCliOptions, deps: VerifyDeps): Promise<number> {
  let proof: ConsistencyProof;
  if (o.consistencyFile) {
    try {
      const j = JSON.parse(readFileSync(o.consistencyFile, 'utf8')) as { proof?: ConsistencyProof } & ConsistencyProof;
      proof = j.proof ?? j;
    } catch (err) {
      deps.stderr.write(`custos verify: --consistency-file: ${err instanceof Error ? err.message : String(err)}\n`);
      return 2;
    }
  } else {
    const [from, to] = typeof o.consistency === 'string' ? o.consistency.split('..') : [];
    try {
      proof = await proveConsistency(deps.store, deps.trusted, { from: from || undefined, to: to || undefined });
    } catch (err) {
      if (!(err instanceof ConsistencyUnavailable)) throw err;
      deps.stderr.write(`custos verify: ${err.message}\n`);
      return 2;
    }
  }
  const check = checkConsistency(proof, deps.trusted);
  if (o.json) deps.stdout.write(`${JSON.stringify({ ...check, proof }, null, 2)}\n`);
  else if (check.ok) {
    const a = payloadHash(proof.from.payload).slice(0, 16);
    const b = payloadHash(proof.to.payload).slice(0, 16);
    deps.stdout.write(
      `OK: head ${b}… extends head ${a}… on ${check.chains.length} chain(s) (${check.chains
        .map((c) => `${c.chain}: seq ${c.fromSeq}→${c.toSeq} over ${c.checkpoints} checkpoint(s)`)
        .join(', ')})${check.notInLater.length ? `; chains ${check.notInLater.join(', ')} only in the earlier head` : ''}\n`,
    );
  } else deps.stdout.write(`FAILED: ${check.reason}\n`);
  return check.ok ? 0 : 1;
}

export async function runVerify(o: VerifyCliOptions, deps: VerifyDeps): Promise<number> {
  if (o.consistency !== undefined || o.consistencyFile !== undefined) {
    if (deps.trusted.length === 0) {
      deps.stderr.write(
        'custos verify: no trusted checkpoint key: set CHECKPOINT_PUBLIC_KEY (PEM or file) or CHECKPOINT_PRIVATE_KEY\n',
      );
      return 2;
    }
    return runConsistency(o, deps);
  }
  if (o.event !== undefined) {
    if (deps.trusted.length === 0) {
      deps.stderr.write(
        'custos verify: no trusted checkpoint key: set CHECKPOINT_PUBLIC_KEY (PEM or file) or CHECKPOINT_PRIVATE_KEY\n',
      );
      return 2;
    }
    return runProveEvent(o, deps);
  }
  const from = date('from', o.from);
  const to = date('to', o.to);
  const chains = o.chain?.map(Number);
  const maxFindings = o.maxFindings === undefined ? 1000 : Number(o.maxFindings);
  const problems = [
    typeof from === 'string' ? from : '',
    typeof to === 'string' ? to : '',
    chains?.some((c) => !Number.isInteger(c) || c < 0) ? '--chain must be partition numbers' : '',
    !Number.isInteger(maxFindings) || maxFindings < 1 ? '--max-findings must be a positive integer' : '',
    deps.trusted.length === 0
      ? 'no trusted checkpoint key: set CHECKPOINT_PUBLIC_KEY (PEM or file) or CHECKPOINT_PRIVATE_KEY'
      : '',
  ].filter(Boolean);
  if (problems.length > 0) {
    for (const p of problems) deps.stderr.write(`custos verify: ${p}\n`);
    return 2;
  }
  const report = await verifyRange(deps.store, {
    from: from as Date | undefined,
    to: to as Date | undefined,
    chains,
    trusted: deps.trusted,
    exported: o.checkpoints ? readCheckpointFiles(o.checkpoints) : undefined,
    reference: deps.reference,
    witness: deps.witness,
    retentionDays: deps.retentionDays,
    maxFindings,
    readModel: o.readModel !== false,
    ...(deps.now ? { now: deps.now } : {}),
    ...(deps.progress ? { onProgress: (checked: number, total: number) => deps.progress?.update(checked, total) } : {}),
  });
  deps.progress?.done();
  deps.stdout.write(o.json ? `${JSON.stringify(report, null, 2)}\n` : `${formatReport(report)}\n`);
  return report.ok ? 0 : 1;
}

export function registerVerify(program: Command): void {
  const cmd = program
    .command('verify')
    .description('check stored decisions against their hash chains and signed checkpoints; name every tampered record')
    .option('--from <time>', 'verify checkpoint segments reaching into this time or later (ISO-8601)')
    .option('--to <time>', '…and before this time')
    .option('--chain <partition...>', 'only these chains (partitions of the decisions topic)')
    .option('--checkpoints <dir>', 'also check against checkpoint files exported earlier (custos checkpoint export)')
    .option('--against-topic', 'also compare with the decisions topic: finds the newest rows deleted and which fields changed')
    .option(
      '--no-read-model',
      "skip comparing the subject report's read model with the decisions (a full pass over both in the range)",
    )
    .option(
      '--no-witness',
      'do not read the witness (checks only what ClickHouse holds: deletions of the newest rows together with their checkpoints go unseen)',
    )
    .option('--witness-dir <dir>', 'read the witness from this directory (WITNESS_DIR) instead of the witness topic')
    .option(
      '--event <eventId>',
      "prove one decision's inclusion under a signed checkpoint (Merkle audit path) and check the proof",
    )
    .option(
      '--consistency [from..to]',
      'prove that head TO extends head FROM (payload SHA-256s or their first digits; default: the newest head and the one before) and check the proof',
    )
    .option(
      '--consistency-file <file>',
      'check a consistency proof saved earlier (from the API or --consistency --json), offline',
    )
    .option('--json', 'print the report as JSON')
    .option('--max-findings <n>', 'list at most this many findings (counts stay exact)', '1000');
  readRecordOptions(cmd).action(async (o: VerifyCliOptions & ReadRecordOptions) => {
    const env = loadCliEnv();
    const cfg = env;
    const store = createStore({ ...storeOptionsFromEnv(env), maxExecutionTimeS: 3600 });
    const witnessDir = o.witnessDir ?? cfg.WITNESS_DIR;
    const single = o.event !== undefined || o.consistency !== undefined || o.consistencyFile !== undefined;
    const fromTopic = o.witness !== false && !o.witnessDir && !single;
    const depsLogger = createLogger('verify', env.LOG_LEVEL, env.LOG_FORMAT, logColors(env));
    const deps = o.againstTopic || fromTopic ? { logger: depsLogger, ...kafkaDeps(env, 'verify', depsLogger) } : undefined;
    let witness: WitnessLog | undefined;
    if (o.witness !== false && !single) {
      try {
        witness = fromTopic && deps ? await readWitnessTopic(deps.kafka, deps.topics) : readWitnessDir(witnessDir as string);
      } catch (err) {
        process.stderr.write(
          `custos verify: cannot read the witness (${err instanceof Error ? err.message : String(err)}); ` +
            'without it deletions of the newest rows together with their checkpoints go unseen. ' +
            'Use --witness-dir DIR for a witness directory, or --no-witness to verify against ClickHouse alone\n',
        );
        await store.close();
        process.exitCode = 2;
        return;
      }
    }
    const reference =
      o.againstTopic && deps
        ? await topicReference({ kafka: deps.kafka, codec: deps.codec, topics: deps.topics, sinkGroupId: env.SINK_GROUP_ID })
        : undefined;
    try {
      process.exitCode = await runVerify(o, {
        store,
        trusted: trustedCheckpointKeys(cfg),
        retentionDays: cfg.AUDIT_RETENTION_DAYS,
        reference,
        witness,
        stdout: process.stdout,
        stderr: process.stderr,
        progress: progress('verifying', { unit: 'rows' }),
      });
    } finally {
      await reference?.close();
      await store.close();
    }
    await recordCliRead(o, env, deps?.logger ?? createLogger('custos-verify', env.LOG_LEVEL), {
      command: 'verify',
      recordCount: 1,
      attributes: {
        ...(o.from ? { from: o.from } : {}),
        ...(o.to ? { to: o.to } : {}),
        ...(o.event ? { eventId: o.event } : {}),
        ...(o.chain ? { chains: o.chain.join(',') } : {}),
        exitCode: String(process.exitCode ?? 0),
      },
    });
  });
}
