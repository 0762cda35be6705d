/**
 * `custos report --period 2026-10 --format pdf|csv|json --out DIR`: writes the periodic
 * access-restriction report for a month or a quarter, with a `.sha256` checksum beside each file and,
 * when a signing key is configured (REPORT_PRIVATE_KEY, else CHECKPOINT_PRIVATE_KEY), a `.sig.json`
 * Ed25519 signature over its SHA-256 and the checkpoints and head it rests on — made by the same
 * code as the API's signed reports. Its integrity section is the API's (checkpoints of the period and
 * the chain's verification). Generating it reads audit data, so the read is recorded through the SDK
 * (as the API's are) unless `--no-record` is given.
 *
 * `custos report verify FILE --public-key KEY`: checks a report against its signature file offline.
 */
import type { KeyObject } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import type { Writable } from 'node:stream';
import {
  type AuditRecorder,
  type Directory,
  FORMATS,
  type Format,
  type IntegrityProvider,
  loadDirectory,
  periodParam,
  reportSigner,
  storeIntegrity,
  writePeriodicReport,
} from '@custos/api';
import {
  checkpointSigningKey,
  checkReport,
  loadPublicKeys,
  openStore,
  reportSigningKey,
  type Store,
  trustedCheckpointKeys,
  trustedReportKeys,
} from '@custos/store';
import type { Command } from 'commander';
import { loadCliEnv } from '../env.js';
import { ACTOR_DEFAULT, PURPOSE_DEFAULT, type ReadRecordOptions, readerOf } from '../record-read.js';

export interface ReportOptions {
  period: string;
  format: string;
  out: string;
  tenant: string;
  actor: string;
  purpose: string;
  record: boolean;
}

export interface ReportDeps {
  store: Store;
  directory: Directory;
  integrity?: IntegrityProvider | undefined;
  /** signs each file (a `.sig.json` beside it) */
  signingKey?: KeyObject | undefined;
  /** the checkpoint keys a signed report's checkpoints must verify under (default: the signing key) */
  trusted?: readonly KeyObject[] | undefined;
  recorder?: AuditRecorder | undefined;
  stdout: Pick<Writable, 'write'>;
  stderr: Pick<Writable, 'write'>;
  now?: Date;
}

/** Exit code 0 with one line per written file (path and SHA-256), 2 on bad options. */
export async function runReport(o: ReportOptions, deps: ReportDeps): Promise<number> {
  const period = periodParam.safeParse(o.period);
  if (!period.success) {
    deps.stderr.write(`custos report: --period ${period.error.issues[0]?.message ?? 'is invalid'}\n`);
    return 2;
  }
  const formats = o.format.split(',').map((f) => f.trim());
  const bad = formats.filter((f) => !(FORMATS as readonly string[]).includes(f));
  if (bad.length > 0 || formats.length === 0) {
    deps.stderr.write(
      `custos report: --format must be one or more of ${FORMATS.join(', ')} (got ${bad.join(', ') || 'nothing'})\n`,
    );
    return 2;
  }
  const files = await writePeriodicReport({
    store: deps.store,
    directory: deps.directory,
    recorder: deps.recorder,
    period: period.data,
    formats: formats as Format[],
    outDir: o.out,
    tenant: o.tenant,
    actor: o.actor,
    purpose: o.purpose,
    trigger: 'cli',
    integrity: deps.integrity,
    // the same signer as the API's: the report key over the checkpoints of the period
    sign: deps.signingKey ? reportSigner(deps.store, deps.trusted ?? [deps.signingKey], deps.signingKey) : undefined,
    ...(deps.now ? { now: deps.now } : {}),
  });
  for (const f of files) {
    deps.stdout.write(`${f.sha256}  ${f.path}\n`);
    if (f.signature) deps.stdout.write(`signed by key ${f.signature.keyId}: ${f.signature.path}\n`);
  }
  if (!files.some((f) => f.signature))
    deps.stderr.write(
      'custos report: no signing key (REPORT_PRIVATE_KEY or CHECKPOINT_PRIVATE_KEY): the reports are not signed\n',
    );
  return 0;
}

/** `custos report verify FILE --public-key KEY`: 0 genuine and unchanged, 1 not, 2 bad input. */
export function runReportVerify(
  file: string,
  o: { publicKey?: string | undefined; signature?: string | undefined; json?: boolean | undefined },
  deps: { stdout: Pick<Writable, 'write'>; stderr: Pick<Writable, 'write'>; trusted?: KeyObject[] },
): number {
  const sigPath = o.signature ?? `${file}.sig.json`;
  let trusted: KeyObject[];
  try {
    trusted = o.publicKey ? loadPublicKeys(o.publicKey) : (deps.trusted ?? []);
  } catch (err) {
    deps.stderr.write(`custos report verify: --public-key: ${err instanceof Error ? err.message : String(err)}\n`);
    return 2;
  }
  if (trusted.length === 0) {
    deps.stderr.write('custos report verify: give the public key (--public-key PEM-or-file, or CHECKPOINT_PUBLIC_KEY)\n');
    return 2;
  }
  for (const [what, path] of [
    ['report', file],
    ['signature file', sigPath],
  ] as const) {
    if (!existsSync(path)) {
      deps.stderr.write(`custos report verify: the ${what} ${path} does not exist\n`);
      return 2;
    }
  }
  let sig: { payload: string; signature: string };
  try {
    sig = JSON.parse(readFileSync(sigPath, 'utf8')) as { payload: string; signature: string };
    if (typeof sig.payload !== 'string' || typeof sig.signature !== 'string') throw new Error('no payload and signature');
  } catch (err) {
    deps.stdout.write(`FAILED: ${sigPath} is not a report signature (${err instanceof Error ? err.message : String(err)})\n`);
    return 1;
  }
  const r = checkReport(readFileSync(file), sig, trusted, file);
  if (o.json) deps.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
  else if (r.ok) {
    deps.stdout.write(
      `OK: ${file} is unchanged since key ${r.fields.keyId} signed it at ${r.fields.signedAt} (SHA-256 ${r.fields.sha256}); ` +
        `it rests on ${r.fields.checkpoints.length} checkpoint(s)${r.fields.head ? ` and head ${r.fields.head.slice(0, 16)}…` : ''}\n`,
    );
  } else deps.stdout.write(`FAILED: ${file}: ${r.reason}\n`);
  return r.ok ? 0 : 1;
}

export function registerReport(program: Command): void {
  const report = program
    .command('report')
    .description('write the periodic access-restriction report for a month or quarter, with a .sha256 checksum per file')
    .option('--period <period>', 'a month YYYY-MM or a quarter YYYY-Qn (required)')
    .option('--format <formats>', `one or more of ${FORMATS.join(', ')}, comma-separated`, 'pdf')
    .option('--out <dir>', 'directory to write to, created if missing (required)')
    .option('--tenant <id>', 'one tenant, or * for all', '*')
    .option('--actor <staffId>', `the staff member the report is for (recorded as the reader) ${ACTOR_DEFAULT}`)
    .option('--purpose <purpose>', `the purpose of the read, a purpose of the policy bundle ${PURPOSE_DEFAULT}`)
    .option('--no-record', 'do not record the read on the audit trail (only where Kafka is unreachable)')
    .action(async (o: Omit<ReportOptions, 'actor' | 'purpose'> & ReadRecordOptions) => {
      // Checked here, not by commander: `report verify` is a subcommand without them.
      const missing = (['period', 'out'] as const).filter((k) => !o[k]);
      if (missing.length > 0) {
        process.stderr.write(`custos report: ${missing.map((k) => `--${k}`).join(' and ')} required\n`);
        process.exitCode = 2;
        return;
      }
      const env = loadCliEnv();
      const sEnv = env;
      const { createLogger, logColors } = await import('@custos/config');
      const logger = createLogger('custos-report', env.LOG_LEVEL, env.LOG_FORMAT, logColors(env));
      const store = await openStore(env, logger);
      let close = async () => {};
      let recorder: AuditRecorder | undefined;
      if (o.record) {
        const { createAuditClient } = await import('@custos/sdk');
        const client = createAuditClient({
          brokers: env.KAFKA_BROKERS,
          schemaRegistryUrl: env.SCHEMA_REGISTRY_URL,
          service: 'custos-report',
          topicPrefix: env.TOPIC_PREFIX,
          logger,
        });
        recorder = client;
        close = async () => {
          await client.close();
        };
      } else {
        logger.warn('--no-record: this read of audit data is not recorded on the audit trail');
      }
      try {
        process.exitCode = await runReport(
          { ...o, ...readerOf(o, env) },
          {
            store,
            directory: loadDirectory(env.POLICY_FILE),
            integrity: storeIntegrity(store, { trusted: trustedCheckpointKeys(sEnv), retentionDays: sEnv.AUDIT_RETENTION_DAYS }),
            // the report key (the API's); where none is configured, the checkpoint key
            signingKey: reportSigningKey(sEnv) ?? checkpointSigningKey(sEnv),
            trusted: trustedCheckpointKeys(sEnv),
            recorder,
            stdout: process.stdout,
            stderr: process.stderr,
          },
        );
      } finally {
        await close();
        await store.close();
      }
    });
  report
    .command('verify <file>')
    .description('check a report against its signature file (<file>.sig.json) with the public key alone, offline')
    .option('--public-key <pem-or-file>', 'the Ed25519 public key(s) to trust (default CHECKPOINT_PUBLIC_KEY)')
    .option('--signature <file>', 'the signature file (default <file>.sig.json)')
    .option('--json', 'print the result as JSON')
    .action((file: string, o: { publicKey?: string; signature?: string; json?: boolean }) => {
      let trusted: KeyObject[] = [];
      if (!o.publicKey) {
        try {
          const e = loadCliEnv();
          trusted = [...trustedReportKeys(e), ...trustedCheckpointKeys(e)];
        } catch {
          trusted = [];
        }
      }
      process.exitCode = runReportVerify(file, o, { stdout: process.stdout, stderr: process.stderr, trusted });
    });
}
