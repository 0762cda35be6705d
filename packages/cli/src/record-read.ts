/**
 * The CLI's reads of audit data are recorded on the audit trail like the API's (`report`, `verify`,
 * `replay`): one access event per command, sent through the SDK, unless the operator says
 * `--no-record` (then a warning says the read went unrecorded). The command waits for Kafka to take
 * it; a record that could not be delivered fails the command (exit 3), so no read goes unrecorded
 * without a trace. No spool: a one-shot command has no later start to replay it.
 */
import type { CommonEnv, Logger } from '@custos/config';
import type { Command } from 'commander';
import type { CliEnv } from './env.js';

export interface ReadRecordOptions {
  record: boolean;
  /** default: the reader the environment names (ReaderDefaults) */
  actor?: string | undefined;
  purpose?: string | undefined;
}

/** Who reads when the options do not say: from the command's one parse of the environment (env.ts). */
export type ReaderDefaults = Pick<CliEnv, 'API_REPORT_ACTOR' | 'API_REPORT_PURPOSE'>;

/** The reader and purpose of a read: the options', else the environment's. */
export function readerOf(
  o: Pick<ReadRecordOptions, 'actor' | 'purpose'>,
  env: ReaderDefaults,
): { actor: string; purpose: string } {
  return { actor: o.actor ?? env.API_REPORT_ACTOR, purpose: o.purpose ?? env.API_REPORT_PURPOSE };
}

/** `--actor`, `--purpose` and `--no-record`, with the defaults `report` uses. */
export function readRecordOptions(cmd: Command): Command {
  return cmd
    .option('--actor <staffId>', `the staff member running the command (recorded as the reader) ${ACTOR_DEFAULT}`)
    .option('--purpose <purpose>', `the purpose of the read, a purpose of the policy bundle ${PURPOSE_DEFAULT}`)
    .option('--no-record', 'do not record the read on the audit trail (only where Kafka is unreachable)');
}

export const ACTOR_DEFAULT = '(default: API_REPORT_ACTOR, else s-ira)';
export const PURPOSE_DEFAULT = '(default: API_REPORT_PURPOSE, else legal.compliance)';

/** Records one read of audit data by a CLI command; resolves once it is delivered or spooled. */
export async function recordCliRead(
  o: ReadRecordOptions,
  env: CommonEnv & ReaderDefaults,
  logger: Logger,
  read: {
    command: string;
    tenantId?: string | undefined;
    /** the one subject read, when the command reads one */
    subjectId?: string | undefined;
    recordCount: number;
    attributes: Record<string, string>;
  },
): Promise<void> {
  if (!o.record) {
    logger.warn(`--no-record: this ${read.command} of audit data is not recorded on the audit trail`);
    return;
  }
  const { createAuditClient } = await import('@custos/sdk');
  const client = createAuditClient({
    brokers: env.KAFKA_BROKERS,
    schemaRegistryUrl: env.SCHEMA_REGISTRY_URL,
    service: `custos-${read.command}`,
    topicPrefix: env.TOPIC_PREFIX,
    spool: false,
    logger,
  });
  const reader = readerOf(o, env);
  client.record({
    tenantId: read.tenantId ?? '*',
    actor: { id: reader.actor, type: 'staff' },
    subject: { id: read.subjectId ?? '*', type: 'customer' },
    categories: ['audit.trail'],
    action: 'read',
    purpose: reader.purpose,
    recordCount: Math.max(1, read.recordCount),
    attributes: { command: read.command, ...read.attributes },
  });
  const r = await client.close();
  if (!r.delivered) {
    logger.error(
      `the record of this ${read.command} on the audit trail could not be delivered (Kafka unreachable?); use --no-record to run without it`,
    );
    if (!process.exitCode) process.exitCode = 3;
  }
}
