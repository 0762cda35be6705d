/**
 * Policy replay: what would a candidate bundle have decided over a stored window of history?
 * Reads the stored events (read-only: production decisions are never touched), re-judges them in
 * event-time order with the candidate, and diffs the outcomes. Bulk windows are warmed with the
 * events of the window length before `from`, so counts at the start of the range are right.
 */
import type { Evaluator, Judgement, SubjectStateView } from '@custos/policy';
import { type AccessEvent, parseAccessEvent } from '@custos/schemas';
import { type DecisionContent, type Store, settingsClause } from '@custos/store';
import type { Progress } from './progress.js';

export interface ReplayOptions {
  store: Store;
  from: Date;
  to: Date;
  tenantId?: string | undefined;
  candidate: Evaluator;
  subjectState: SubjectStateView;
  /** most examples kept per outcome change (and for reason-only changes per outcome) */
  examplesPerTransition?: number;
  /** told the count of stored decisions read now and then */
  progress?: Progress | undefined;
}

export interface Change {
  eventId: string;
  occurredAt: string;
  actorId: string;
  department: string;
  before: { outcome: string; codes: string[]; policyVersion: string };
  after: { outcome: string; codes: string[] };
}

export interface ReplayReport {
  from: string;
  to: string;
  candidateVersion: string;
  replayed: number;
  /** rows whose stored event does not pass today's contract (should be 0) */
  unreadable: number;
  changedOutcome: number;
  changedCodesOnly: number;
  /** outcome changes, e.g. "allow→deny": 12 */
  transitions: Record<string, number>;
  /** per code: how many more (+) or fewer (−) decisions carry it */
  codes: Record<string, { added: number; removed: number }>;
  /** outcome changes per actor and per department */
  byActor: { actorId: string; department: string; changed: number }[];
  byDepartment: { department: string; changed: number }[];
  examples: Change[];
}

/** The stored columns replay reads: the event and the decision's outcome and codes. */
type Row = Omit<DecisionContent, 'decided_at' | 'reason_messages' | 'basis'>;

const iso = (ch: string) => `${ch.replace(' ', 'T')}Z`;

function toEvent(r: Row): unknown {
  return {
    eventId: r.event_id,
    occurredAt: iso(r.occurred_at),
    tenantId: r.tenant_id,
    actor: { id: r.actor_id, type: r.actor_type },
    subject: { id: r.subject_id, type: r.subject_type },
    categories: r.categories,
    ...(r.fields.length > 0 ? { fields: r.fields } : {}),
    action: r.action,
    purpose: r.purpose,
    ...(r.recipient_id ? { recipient: { id: r.recipient_id, type: r.recipient_type } } : {}),
    ...(r.legal_basis ? { legalBasis: r.legal_basis } : {}),
    ...(r.data_collected_at ? { dataCollectedAt: iso(r.data_collected_at) } : {}),
    recordCount: r.record_count,
    source: {
      service: r.source_service,
      ...(r.source_request_id ? { requestId: r.source_request_id } : {}),
      ...(r.source_trace_id ? { traceId: r.source_trace_id } : {}),
      ...(r.source_ip ? { ip: r.source_ip } : {}),
    },
    ...(Object.keys(r.attributes).length > 0 ? { attributes: r.attributes } : {}),
  };
}

async function* rows(store: Store, from: Date, to: Date, tenantId: string | undefined): AsyncGenerator<Row> {
  const rs = await store.client.query({
    // One row per event (re-deliveries collapse), in arrival order: an actor's events are on one
    // partition, in the order the enforcer judged them, and BULK_ACCESS counts what arrived before.
    query: `SELECT event_id, tenant_id, occurred_at, outcome, codes, policy_version, actor_id, actor_type, subject_id,
                   subject_type, categories, fields, action, purpose, recipient_id, recipient_type, legal_basis,
                   data_collected_at, record_count, source_service, source_request_id, source_trace_id, source_ip, attributes
            FROM ${store.table('decisions')} FINAL
            WHERE occurred_at >= {from:DateTime64(3, 'UTC')} AND occurred_at < {to:DateTime64(3, 'UTC')}
              AND ({tenant:String} = '' OR tenant_id = {tenant:String})
            ORDER BY kafka_partition, kafka_offset
            LIMIT 1 BY event_id
            ${settingsClause({ max_execution_time: 600 })}`,
    query_params: { from: from.getTime() / 1000, to: to.getTime() / 1000, tenant: tenantId ?? '' },
    format: 'JSONEachRow',
  });
  for await (const batch of rs.stream<Row>()) {
    for (const r of batch) yield r.json();
  }
}

export async function replay(opts: ReplayOptions): Promise<ReplayReport> {
  const { candidate, store } = opts;
  const keep = opts.examplesPerTransition ?? 5;
  const department = new Map(candidate.bundle.staff.map((s) => [s.id, s.department ?? '']));
  const deptOf = (actorId: string) => department.get(actorId) ?? '(not in directory)';
  const bulk = candidate.createBulkWindow();
  const report: ReplayReport = {
    from: opts.from.toISOString(),
    to: opts.to.toISOString(),
    candidateVersion: candidate.policyVersion,
    replayed: 0,
    unreadable: 0,
    changedOutcome: 0,
    changedCodesOnly: 0,
    transitions: {},
    codes: {},
    byActor: [],
    byDepartment: [],
    examples: [],
  };
  // Events of the window before `from` are counted for BULK_ACCESS but not judged again; all in one
  // pass in arrival order, as the enforcer saw them.
  const fromMs = opts.from.getTime();
  const warmFrom = new Date(fromMs - bulk.windowMs);
  const actors = new Map<string, number>();
  const perTransition = new Map<string, number>();
  let read = 0;
  for await (const r of rows(store, warmFrom, opts.to, opts.tenantId)) {
    if ((++read & 4095) === 0) opts.progress?.update(read);
    const p = parseAccessEvent(toEvent(r));
    if (Date.parse(iso(r.occurred_at)) < fromMs) {
      if (p.ok) candidate.observe(p.value, bulk);
      continue;
    }
    if (!p.ok) {
      report.unreadable++;
      continue;
    }
    const event: AccessEvent = p.value;
    const j: Judgement = candidate.evaluate(event, { subjectState: opts.subjectState, bulk });
    report.replayed++;
    const beforeCodes = [...r.codes].sort();
    const afterCodes: string[] = j.reasons.map((x) => x.code).sort();
    const sameCodes = beforeCodes.join() === afterCodes.join();
    if (j.outcome === r.outcome && sameCodes) continue;
    if (j.outcome !== r.outcome) report.changedOutcome++;
    else report.changedCodesOnly++;
    const tally = (c: string) => {
      report.codes[c] ??= { added: 0, removed: 0 };
      return report.codes[c];
    };
    for (const c of afterCodes) if (!beforeCodes.includes(c)) tally(c).added++;
    for (const c of beforeCodes) if (!afterCodes.includes(c)) tally(c).removed++;
    const outcomeChanged = j.outcome !== r.outcome;
    const t = outcomeChanged ? `${r.outcome}→${j.outcome}` : `${r.outcome}, other reasons`;
    if (outcomeChanged) {
      report.transitions[t] = (report.transitions[t] ?? 0) + 1;
      actors.set(r.actor_id, (actors.get(r.actor_id) ?? 0) + 1);
    }
    const shown = perTransition.get(t) ?? 0;
    if (shown < keep) {
      perTransition.set(t, shown + 1);
      report.examples.push({
        eventId: r.event_id,
        occurredAt: event.occurredAt,
        actorId: r.actor_id,
        department: deptOf(r.actor_id),
        before: { outcome: r.outcome, codes: beforeCodes, policyVersion: r.policy_version },
        after: { outcome: j.outcome, codes: afterCodes },
      });
    }
  }
  opts.progress?.done(read);
  report.byActor = [...actors]
    .map(([actorId, changed]) => ({ actorId, department: deptOf(actorId), changed }))
    .sort((a, b) => b.changed - a.changed || a.actorId.localeCompare(b.actorId));
  const depts = new Map<string, number>();
  for (const a of report.byActor) depts.set(a.department, (depts.get(a.department) ?? 0) + a.changed);
  report.byDepartment = [...depts].map(([d, changed]) => ({ department: d, changed })).sort((a, b) => b.changed - a.changed);
  return report;
}

export function formatReplay(r: ReplayReport): string {
  const lines = [
    `Replay ${r.from} → ${r.to} under ${r.candidateVersion}`,
    `  ${r.replayed} decisions re-judged; ${r.changedOutcome} change outcome, ${r.changedCodesOnly} change only their reasons${r.unreadable ? `; ${r.unreadable} stored rows unreadable` : ''}`,
  ];
  const section = (title: string, entries: string[]) => {
    if (entries.length === 0) return;
    lines.push('', title, ...entries.map((e) => `  ${e}`));
  };
  section(
    'Outcome changes:',
    Object.entries(r.transitions)
      .sort((a, b) => b[1] - a[1])
      .map(([t, n]) => `${t.padEnd(14)} ${n}`),
  );
  section(
    'By code (+ now fires, − no longer fires):',
    Object.entries(r.codes)
      .sort()
      .map(([c, v]) => `${c.padEnd(32)} +${v.added} −${v.removed}`),
  );
  section(
    'By department:',
    r.byDepartment.map((d) => `${d.department.padEnd(20)} ${d.changed}`),
  );
  section(
    'By actor:',
    r.byActor.slice(0, 20).map((a) => `${a.actorId.padEnd(16)} ${a.department.padEnd(18)} ${a.changed}`),
  );
  section(
    'Examples:',
    r.examples.map(
      (e) =>
        `${e.eventId} ${e.occurredAt} ${e.actorId}: ${e.before.outcome} [${e.before.codes.join(', ')}] → ${e.after.outcome} [${e.after.codes.join(', ')}]`,
    ),
  );
  return `${lines.join('\n')}\n`;
}
