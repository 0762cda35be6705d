/**
 * The periodic access-restriction report for a month or a quarter, for auditors: totals by outcome,
 * denials and flags by rule with examples, top actors by violations, sharing per agreement,
 * disclosures, retention and erasure breaches, bulk access, and the integrity proof for the period
 * (checkpoints covering it, the verification result, and the SHA-256 of the report's content).
 */
import { tenantsOf } from '../access.js';
import type { AuditDb } from '../db.js';
import type { Directory } from '../directory.js';
import type { IntegrityProvider } from '../integrity.js';
import { periodicData, type Scope } from '../queries.js';
import { type Format, type PeriodicReport, periodRange } from '../schemas.js';
import { PdfWriter, reportJson, sectionedCsv, sha256Hex, withContentHash } from './render.js';

export async function buildPeriodicReport(
  db: AuditDb,
  dir: Directory,
  integrity: IntegrityProvider,
  q: { period: string; scope: Scope; tenantId?: string | undefined; generatedAt: Date },
): Promise<PeriodicReport> {
  const range = periodRange(q.period);
  const tenants = q.tenantId ? [q.tenantId] : tenantsOf(q.scope);
  const [data, checkpoints, verification] = await Promise.all([
    periodicData(db, dir, q.scope, range, q.tenantId),
    integrity.listCheckpoints({ from: range.from, to: range.to, tenants }),
    integrity.verifyRange({ from: range.from, to: range.to, tenants }),
  ]);
  return withContentHash<PeriodicReport>({
    kind: 'access-restriction-report',
    organisation: dir.organisation,
    period: { label: range.label, from: range.from.toISOString(), to: range.to.toISOString() },
    tenants,
    generatedAt: q.generatedAt.toISOString(),
    ...data,
    integrity: { checkpoints, verification },
  });
}

const list = (xs: string[]) => xs.join('; ');

export function periodicReportCsv(r: PeriodicReport): string {
  return sectionedCsv(
    [
      ['report', 'Access-restriction report'],
      ['organisation', r.organisation],
      ['period', r.period.label],
      ['from', r.period.from],
      ['to', r.period.to],
      ['tenants', r.tenants === '*' ? '*' : r.tenants.join(' ')],
      ['generatedAt', r.generatedAt],
      ['policyVersions', list(r.policyVersions)],
      ['integrity', r.integrity.verification.status],
      ['contentSha256', r.contentSha256],
    ],
    [
      {
        title: 'totals',
        columns: ['total', 'allow', 'flag', 'deny'],
        rows: [[r.totals.total, r.totals.allow, r.totals.flag, r.totals.deny]],
      },
      {
        title: 'rules',
        columns: ['code', 'outcome', 'count', 'exampleEventIds'],
        rows: r.rules.map((x) => [x.code, x.outcome, x.count, list(x.examples.map((e) => e.eventId))]),
      },
      {
        title: 'rule examples',
        columns: ['code', 'eventId', 'occurredAt', 'tenantId', 'actorId', 'subjectId', 'action', 'purpose', 'recipientId'],
        rows: r.rules.flatMap((x) =>
          x.examples.map((e) => [
            x.code,
            e.eventId,
            e.occurredAt,
            e.tenantId,
            e.actorId,
            e.subjectId,
            e.action,
            e.purpose,
            e.recipientId,
          ]),
        ),
      },
      {
        title: 'top actors by violations',
        columns: ['actorId', 'name', 'department', 'deny', 'flag', 'total'],
        rows: r.topActors.map((a) => [a.actorId, a.name, a.department, a.deny, a.flag, a.total]),
      },
      {
        title: 'sharing per agreement',
        columns: ['agreementId', 'partyId', 'partyName', 'partyType', 'allow', 'flag', 'deny', 'total', 'distinctSubjects'],
        rows: r.sharing.map((s) => [
          s.agreementId ?? '(none)',
          s.party.id,
          s.party.name,
          s.party.type,
          s.allow,
          s.flag,
          s.deny,
          s.total,
          s.distinctSubjects,
        ]),
      },
      {
        title: 'disclosures by authority',
        columns: ['authorityId', 'name', 'lawful', 'withoutBasis', 'total'],
        rows: r.disclosures.byAuthority.map((a) => [a.authority.id, a.authority.name, a.lawful, a.withoutBasis, a.total]),
      },
      {
        title: 'disclosures',
        columns: ['eventId', 'occurredAt', 'tenantId', 'authority', 'legalBasis', 'actorId', 'subjectId', 'outcome', 'codes'],
        rows: r.disclosures.items.map((d) => [
          d.eventId,
          d.occurredAt,
          d.tenantId,
          d.authority.name,
          d.legalBasis,
          d.actor.id,
          d.subject.id,
          d.outcome,
          list(d.codes),
        ]),
      },
      {
        title: 'retention and erasure',
        columns: ['retentionExpired', 'subjectErased', 'promotionalOptOut'],
        rows: [[r.retention.retentionExpired, r.retention.subjectErased, r.retention.promotionalOptOut]],
      },
      {
        title: 'bulk access',
        columns: ['actorId', 'name', 'events'],
        rows: r.bulkAccess.actors.map((a) => [a.actorId, a.name, a.events]),
      },
      {
        title: 'integrity checkpoints',
        columns: ['id', 'from', 'to', 'detail'],
        rows: r.integrity.checkpoints.map((c) => [c.id, c.from, c.to, JSON.stringify(c)]),
      },
    ],
  );
}

export async function periodicReportPdf(r: PeriodicReport): Promise<Buffer> {
  const when = (s: string) => s.slice(0, 16).replace('T', ' ');
  const w = new PdfWriter(
    `Access-restriction report ${r.period.label}`,
    new Date(r.generatedAt),
    `Custos - ${r.period.label} - content SHA-256 ${r.contentSha256}`,
  );
  w.title(`Access-restriction report - ${r.period.label}`);
  w.para(
    `${r.organisation}. Every access to personal data in the period, as judged by the enforcer against the privacy policy.`,
    { color: '#444' },
  );
  w.heading('Scope');
  w.keyValues([
    ['Period', `${r.period.from} to ${r.period.to} (end exclusive)`],
    ['Tenants', r.tenants === '*' ? 'all' : r.tenants.join(', ')],
    ['Policy versions', r.policyVersions.join(', ') || '-'],
    ['Generated', r.generatedAt],
  ]);
  w.heading('Totals by outcome');
  const pct = (n: number) => (r.totals.total ? `${((100 * n) / r.totals.total).toFixed(2)} %` : '-');
  w.table(
    [
      { header: 'Outcome', width: 2 },
      { header: 'Decisions', width: 1, align: 'right' },
      { header: 'Share', width: 1, align: 'right' },
    ],
    [
      ['allowed', r.totals.allow, pct(r.totals.allow)],
      ['flagged', r.totals.flag, pct(r.totals.flag)],
      ['denied', r.totals.deny, pct(r.totals.deny)],
      ['total', r.totals.total, ''],
    ],
  );
  w.heading('Denials and flags by rule');
  w.table(
    [
      { header: 'Rule', width: 3 },
      { header: 'Outcome', width: 1 },
      { header: 'Count', width: 1, align: 'right' },
    ],
    r.rules.map((x) => [x.code, x.outcome, x.count]),
    'No denials or flags in this period.',
  );
  if (r.rules.length) {
    w.heading('Examples');
    w.table(
      [
        { header: 'Rule', width: 3 },
        { header: 'When', width: 2 },
        { header: 'Actor', width: 1.5 },
        { header: 'Subject', width: 1.8 },
        { header: 'Action', width: 1 },
        { header: 'Purpose', width: 2 },
      ],
      r.rules.flatMap((x) => x.examples.map((e) => [x.code, when(e.occurredAt), e.actorId, e.subjectId, e.action, e.purpose])),
    );
  }
  w.heading('Top actors by violations');
  w.table(
    [
      { header: 'Actor', width: 2 },
      { header: 'Name', width: 2.5 },
      { header: 'Department', width: 2 },
      { header: 'Denied', width: 1, align: 'right' },
      { header: 'Flagged', width: 1, align: 'right' },
      { header: 'Total', width: 1, align: 'right' },
    ],
    r.topActors.map((a) => [a.actorId, a.name, a.department, a.deny, a.flag, a.total]),
    'No violations in this period.',
  );
  w.heading('Sharing per agreement');
  w.table(
    [
      { header: 'Agreement', width: 2.5 },
      { header: 'Party', width: 2.5 },
      { header: 'Type', width: 1.5 },
      { header: 'Allowed', width: 1, align: 'right' },
      { header: 'Denied', width: 1, align: 'right' },
      { header: 'Subjects', width: 1, align: 'right' },
    ],
    r.sharing.map((s) => [s.agreementId ?? '(no agreement)', s.party.name, s.party.type, s.allow, s.deny, s.distinctSubjects]),
    'No sharing in this period.',
  );
  w.heading(`Disclosures to authorities (${r.disclosures.total})`);
  w.table(
    [
      { header: 'Authority', width: 3 },
      { header: 'Lawful', width: 1, align: 'right' },
      { header: 'Without legal basis', width: 1.5, align: 'right' },
    ],
    r.disclosures.byAuthority.map((a) => [a.authority.name, a.lawful, a.withoutBasis]),
    'No disclosures in this period.',
  );
  if (r.disclosures.items.length) {
    w.table(
      [
        { header: 'When', width: 2 },
        { header: 'Authority', width: 2.5 },
        { header: 'Legal basis', width: 3 },
        { header: 'Subject', width: 2 },
        { header: 'Outcome', width: 1 },
      ],
      r.disclosures.items.map((d) => [when(d.occurredAt), d.authority.name, d.legalBasis || 'MISSING', d.subject.id, d.outcome]),
    );
  }
  w.heading('Retention and erasure breaches');
  w.keyValues([
    ['Retention expired', r.retention.retentionExpired],
    ['Access after erasure', r.retention.subjectErased],
    ['Promotion after opt-out', r.retention.promotionalOptOut],
  ]);
  w.heading(`Bulk access (${r.bulkAccess.events} events)`);
  w.table(
    [
      { header: 'Actor', width: 2 },
      { header: 'Name', width: 3 },
      { header: 'Events', width: 1, align: 'right' },
    ],
    r.bulkAccess.actors.map((a) => [a.actorId, a.name, a.events]),
    'No bulk access in this period.',
  );
  w.heading('Integrity proof');
  const v = r.integrity.verification;
  w.keyValues([
    ['Verification', v.status + (v.detail ? ` - ${v.detail}` : '')],
    ['Checkpoints', r.integrity.checkpoints.length ? r.integrity.checkpoints.map((c) => c.id).join(', ') : 'none listed'],
    ['Content SHA-256', r.contentSha256],
  ]);
  w.para(
    'The content SHA-256 is computed over the canonical JSON of the report (sorted keys, no whitespace) without that field; the file itself comes with a .sha256 checksum.',
    {
      color: '#666',
      size: 8,
    },
  );
  return w.end();
}

export interface RenderedReport {
  body: Buffer;
  contentType: string;
  extension: Format;
  sha256: string;
}

export async function renderReport<R>(
  report: R,
  format: Format,
  csv: (r: R) => string,
  pdf: (r: R) => Promise<Buffer>,
): Promise<RenderedReport> {
  let body: Buffer;
  let contentType: string;
  if (format === 'json') {
    body = reportJson(report);
    contentType = 'application/json; charset=utf-8';
  } else if (format === 'csv') {
    body = Buffer.from(csv(report));
    contentType = 'text/csv; charset=utf-8';
  } else {
    body = await pdf(report);
    contentType = 'application/pdf';
  }
  return { body, contentType, extension: format, sha256: sha256Hex(body) };
}
