/**
 * `custos report --period 2026-10 --format pdf|csv|json --out DIR`: writes the periodic
 * access-restriction report for a month or a quarter, with a `.sha256` checksum beside each file.
 * Generating it reads audit data, so the read is recorded through the SDK (as the API's are) unless
 * `--no-record` is given.
 */
import type { Writable } from 'node:stream';
import {
  type AuditRecorder,
  type Directory,
  FORMATS,
  type Format,
  loadDirectory,
  periodParam,
  writePeriodicReport,
} from '@custos/api';
import { loadEnv, openStore } from '@custos/runtime';
import type { Store } from '@custos/store';
import type { Command } from 'commander';

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
    ...(deps.now ? { now: deps.now } : {}),
  });
  for (const f of files) deps.stdout.write(`${f.sha256}  ${f.path}\n`);
  return 0;
}

export function registerReport(program: Command): void {
  program
    .command('report')
    .description('write the periodic access-restriction report for a month or quarter, with a .sha256 checksum per file')
    .requiredOption('--period <period>', 'a month YYYY-MM or a quarter YYYY-Qn')
    .option('--format <formats>', `one or more of ${FORMATS.join(', ')}, comma-separated`, 'pdf')
    .requiredOption('--out <dir>', 'directory to write to (created if missing)')
    .option('--tenant <id>', 'one tenant, or * for all', '*')
    .option(
      '--actor <staffId>',
      'the staff member the report is for (recorded as the reader)',
      process.env.API_REPORT_ACTOR ?? 's-ira',
    )
    .option(
      '--purpose <purpose>',
      'the purpose of the read, a purpose of the policy bundle',
      process.env.API_REPORT_PURPOSE ?? 'legal.compliance',
    )
    .option('--no-record', 'do not record the read on the audit trail (only where Kafka is unreachable)')
    .action(async (o: ReportOptions) => {
      const env = loadEnv();
      const { createLogger } = await import('@custos/config');
      const logger = createLogger('custos-report', env.LOG_LEVEL);
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
        process.exitCode = await runReport(o, {
          store,
          directory: loadDirectory(env.POLICY_FILE),
          recorder,
          stdout: process.stdout,
          stderr: process.stderr,
        });
      } finally {
        await close();
        await store.close();
      }
    });
}
