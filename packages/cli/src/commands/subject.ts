/**
 * `custos subject state add <subjectId> --tenant T --kind optout|optin|erasure|legal-hold|legal-hold-release [--reason R]`
 * sends one subject-state change through the SDK onto the `subject-state` topic (as
 * `POST /v1/subjects/:id/state` does) and records it on the audit trail (action `update`) unless
 * `--no-record`. It waits until Kafka has both; an undelivered one fails the command (exit 3).
 *
 * `custos subject state show <subjectId> [--tenant T] [--json]` prints the subject's current state and
 * full history from the store (as `GET /v1/subjects/:id/state`), recording the read like `report`'s.
 */
import type { Writable } from 'node:stream';
import { AuditDb, readSubjectState, type SubjectStateResponse, subjectStateBody } from '@custos/api';
import type { Logger } from '@custos/config';
import type { SubjectStateChange } from '@custos/schemas';
import { openStore, type Store } from '@custos/store';
import type { Command } from 'commander';
import { type CliEnv, loadCliEnv } from '../env.js';
import { type ReadRecordOptions, readRecordOptions, recordCliRead } from '../record-read.js';

export const KINDS: Readonly<Record<string, SubjectStateChange['change']>> = {
  optout: 'promotional_opt_out',
  optin: 'promotional_opt_in',
  erasure: 'erasure_completed',
  'legal-hold': 'legal_hold_placed',
  'legal-hold-release': 'legal_hold_released',
};

interface Io {
  stdout: Pick<Writable, 'write'>;
  stderr: Pick<Writable, 'write'>;
}

export interface AddOptions extends ReadRecordOptions {
  /** `add` has defaults of its own (the author of a change, not a reader) */
  actor: string;
  purpose: string;
  tenant?: string | undefined;
  kind?: string | undefined;
  reason?: string | undefined;
  at?: string | undefined;
  json?: boolean | undefined;
}

export type ParsedChange = {
  tenantId: string;
  subjectId: string;
  change: SubjectStateChange['change'];
  occurredAt?: Date | undefined;
  reference?: string | undefined;
};

/** The change the options describe, or the messages saying what is wrong with them. */
export function parseAddOptions(
  subjectId: string,
  o: AddOptions,
): { ok: true; value: ParsedChange } | { ok: false; errors: string[] } {
  const errors: string[] = [];
  if (!o.tenant) errors.push('--tenant is required');
  const change = o.kind ? KINDS[o.kind] : undefined;
  if (!o.kind) errors.push(`--kind is required: one of ${Object.keys(KINDS).join(', ')}`);
  else if (!change) errors.push(`--kind must be one of ${Object.keys(KINDS).join(', ')} (got ${o.kind})`);
  if (!subjectId.trim()) errors.push('<subjectId> must not be blank');
  if (errors.length > 0) return { ok: false, errors };
  // The API's own validation of a change, so both refuse the same input.
  const r = subjectStateBody.safeParse({
    tenantId: o.tenant,
    change,
    ...(o.at !== undefined ? { occurredAt: o.at } : {}),
    ...(o.reason !== undefined ? { reference: o.reason } : {}),
  });
  if (!r.success) {
    const flag: Record<string, string> = { tenantId: '--tenant', occurredAt: '--at', reference: '--reason', change: '--kind' };
    return {
      ok: false,
      errors: r.error.issues.map((i) => `${flag[String(i.path[0])] ?? String(i.path[0])}: ${i.message}`),
    };
  }
  if (r.data.occurredAt && r.data.occurredAt.getTime() > Date.now() + 5 * 60_000)
    return { ok: false, errors: ['--at: must not be in the future'] };
  return {
    ok: true,
    value: {
      tenantId: r.data.tenantId,
      subjectId,
      change: r.data.change,
      occurredAt: r.data.occurredAt,
      reference: r.data.reference,
    },
  };
}

async function runAdd(subjectId: string, o: AddOptions, env: CliEnv, logger: Logger, io: Io): Promise<number> {
  const parsed = parseAddOptions(subjectId, o);
  if (!parsed.ok) {
    for (const e of parsed.errors) io.stderr.write(`custos subject state add: ${e}\n`);
    return 2;
  }
  const c = parsed.value;
  const { createAuditClient, uuidv7 } = await import('@custos/sdk');
  const client = createAuditClient({
    brokers: env.KAFKA_BROKERS,
    schemaRegistryUrl: env.SCHEMA_REGISTRY_URL,
    service: 'custos-subject-state',
    topicPrefix: env.TOPIC_PREFIX,
    spool: false,
    logger,
  });
  const change = {
    eventId: uuidv7(),
    occurredAt: (c.occurredAt ?? new Date()).toISOString(),
    tenantId: c.tenantId,
    subjectId: c.subjectId,
    change: c.change,
    reference: c.reference ?? null,
  };
  try {
    // Recorded first, as the API does: no change goes out without a record of who made it.
    if (o.record) {
      client.record({
        tenantId: c.tenantId,
        actor: { id: o.actor, type: 'staff' },
        subject: { id: c.subjectId, type: 'customer' },
        categories: ['audit.trail'],
        action: 'update',
        purpose: o.purpose,
        attributes: { command: 'subject state add', change: c.change, changeEventId: change.eventId },
      });
    } else {
      logger.warn('--no-record: this subject-state change is not recorded on the audit trail');
    }
    await client.recordSubjectState(change);
  } catch (err) {
    await client.close();
    io.stderr.write(`custos subject state add: ${err instanceof Error ? err.message : String(err)}\n`);
    return 2;
  }
  const r = await client.close();
  if (!r.delivered) {
    io.stderr.write('custos subject state add: the change could not be delivered to Kafka (unreachable?)\n');
    return 3;
  }
  io.stdout.write(
    o.json
      ? `${JSON.stringify(change)}\n`
      : `sent ${change.change} for ${change.tenantId}/${change.subjectId} (eventId ${change.eventId})\n`,
  );
  return 0;
}

/** Prints the state; exit 0. */
export async function runShow(
  subjectId: string,
  o: { tenant?: string | undefined; json?: boolean | undefined },
  deps: { store: Store; timeoutS?: number; now?: Date } & Io,
): Promise<{ code: number; state?: SubjectStateResponse }> {
  if (!subjectId.trim()) {
    deps.stderr.write('custos subject state show: <subjectId> must not be blank\n');
    return { code: 2 };
  }
  const state = await readSubjectState(
    new AuditDb(deps.store, { timeoutS: deps.timeoutS ?? 30, maxRows: 100_000 }),
    subjectId,
    o.tenant ? [o.tenant] : '*',
    deps.now ?? new Date(),
  );
  if (o.json) {
    deps.stdout.write(`${JSON.stringify(state, null, 2)}\n`);
    return { code: 0, state };
  }
  if (state.history.length === 0) deps.stdout.write(`${subjectId}: no subject-state change recorded\n`);
  for (const c of state.current) {
    const on = (['optedOut', 'erased', 'legalHold'] as const).filter((k) => c[k]).map((k) => `${k} since ${c.since[k]}`);
    deps.stdout.write(
      `${c.tenantId}/${subjectId}: ${on.length ? on.join(', ') : 'no opt-out, erasure or legal hold in force'}\n`,
    );
  }
  for (const h of state.history) {
    deps.stdout.write(`  ${h.occurredAt}  ${h.tenantId}  ${h.change}${h.reference ? `  (${h.reference})` : ''}  ${h.eventId}\n`);
  }
  return { code: 0, state };
}

export function registerSubject(program: Command): void {
  const state = program
    .command('subject')
    .description('data subjects: consent and rights state')
    .command('state')
    .description('opt-outs, erasures and legal holds of one subject');
  state
    .command('add <subjectId>')
    .description('send a subject-state change onto the subject-state topic (followed by the enforcer)')
    .option('--tenant <id>', 'the subject’s tenant (required)')
    .option('--kind <kind>', `one of ${Object.keys(KINDS).join(', ')} (required)`)
    .option('--reason <text>', 'why, or the request it answers (stored as the change’s reference)')
    .option('--at <time>', 'when the change took effect (ISO-8601 with a zone); default now')
    .option('--json', 'print the change sent as JSON')
    .option('--actor <staffId>', 'the staff member making the change (recorded as its author)', 's-dev')
    .option('--purpose <purpose>', 'the purpose of the change, a purpose of the policy bundle', 'rights.request')
    .option('--no-record', 'do not record the change on the audit trail')
    .action(async (subjectId: string, o: AddOptions) => {
      const env = loadCliEnv();
      const { createLogger } = await import('@custos/config');
      const logger = createLogger('custos-subject', env.LOG_LEVEL);
      process.exitCode = await runAdd(subjectId, o, env, logger, { stdout: process.stdout, stderr: process.stderr });
    });
  readRecordOptions(
    state
      .command('show <subjectId>')
      .description('print the subject’s current state and full history, from the store')
      .option('--tenant <id>', 'one tenant (default: every tenant)')
      .option('--json', 'print as JSON'),
  ).action(async (subjectId: string, o: ReadRecordOptions & { tenant?: string; json?: boolean }) => {
    const env = loadCliEnv();
    const { createLogger } = await import('@custos/config');
    const logger = createLogger('custos-subject', env.LOG_LEVEL);
    const store = await openStore(env, logger);
    try {
      const r = await runShow(subjectId, o, { store, stdout: process.stdout, stderr: process.stderr });
      process.exitCode = r.code;
      if (r.state) {
        await recordCliRead(o, env, logger, {
          command: 'subject state show',
          tenantId: o.tenant,
          subjectId,
          recordCount: r.state.history.length,
          attributes: {},
        });
      }
    } finally {
      await store.close();
    }
  });
}
