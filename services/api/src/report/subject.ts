/**
 * The subject access report (DPDP Act §11): what of one person's data was accessed, by whom, for
 * which purposes, and every processor or third party it was shared with. The subject-facing variant
 * leaves out lawful disclosures to authorities (§11(2)) and names staff by department only.
 */
import { type Directory, partyType } from '../directory.js';
import type { SubjectData } from '../queries.js';
import type { AccessItem, Range, SubjectReport } from '../schemas.js';
import { PdfWriter, sectionedCsv, withContentHash } from './render.js';

const isoCh = (s: string) => `${s.replace(' ', 'T')}Z`;
// (localeCompare is this collator's compare; the collator is made once, and each entry's text once)
const collator = new Intl.Collator();
/** By count, most first; equal counts by the entry's JSON text. */
function sortedCount<T extends { count: number }>(m: Map<string, T>): T[] {
  const text = new Map<T, string>();
  const textOf = (x: T) => {
    let t = text.get(x);
    if (t === undefined) {
      t = JSON.stringify(x);
      text.set(x, t);
    }
    return t;
  };
  return [...m.values()].sort((a, b) => b.count - a.count || collator.compare(textOf(a), textOf(b)));
}

function staffLabel(dir: Directory, department: string) {
  return { id: undefined, type: 'staff', name: `${dir.organisation} staff`, department };
}

/** The subject-facing form of one access: staff by department, no internal reasons or grant ids. */
function forSubject(a: AccessItem, dir: Directory): AccessItem {
  const actor =
    a.actor.type === 'staff'
      ? { department: a.actor.department, id: 'staff', name: `${dir.organisation} staff`, type: 'staff' }
      : a.actor;
  return { ...a, actor, basis: [], reasons: a.reasons.map((r) => ({ code: r.code, message: '' })) };
}

export function buildSubjectReport(
  dir: Directory,
  data: SubjectData,
  q: { tenantId: string; subjectId: string; range: Range; variant: 'full' | 'subject'; generatedAt: Date },
): SubjectReport {
  const summary = { allow: 0, flag: 0, deny: 0, total: 0, firstAccess: null as string | null, lastAccess: null as string | null };
  const categories = new Map<string, { category: string; count: number }>();
  const purposes = new Map<string, { purpose: string; description: string; count: number }>();
  type By = SubjectReport['accessedBy'][number] & { _a: Set<string>; _p: Set<string>; _c: Set<string> };
  const accessedBy = new Map<string, By>();
  type Shared = SubjectReport['sharedWith'][number] & { _h: Set<string>; _g: Set<string>; _c: Set<string>; _p: Set<string> };
  const shared = new Map<string, Shared>();
  const types = new Set<string>();
  const versions = new Set<string>();

  for (const g of data.groups) {
    const n = Number(g.n);
    const first = isoCh(g.first);
    const last = isoCh(g.last);
    summary[g.outcome] += n;
    summary.total += n;
    if (!summary.firstAccess || first < summary.firstAccess) summary.firstAccess = first;
    if (!summary.lastAccess || last > summary.lastAccess) summary.lastAccess = last;
    types.add(g.subject_type);
    versions.add(g.policy_version);
    for (const c of g.categories) {
      const e = categories.get(c) ?? { category: c, count: 0 };
      e.count += n;
      categories.set(c, e);
    }
    const p = purposes.get(g.purpose) ?? { purpose: g.purpose, description: dir.purposes.get(g.purpose) ?? '', count: 0 };
    p.count += n;
    purposes.set(g.purpose, p);

    const isStaff = g.actor_type === 'staff';
    const department = dir.department(g.actor_id);
    const key = q.variant === 'subject' && isStaff ? `dept:${department}` : `${g.actor_type}:${g.actor_id}`;
    const actor =
      q.variant === 'subject' && isStaff
        ? staffLabel(dir, department)
        : { id: g.actor_id, type: g.actor_type, name: dir.actorName(g.actor_id), department };
    const by = accessedBy.get(key) ?? {
      actor,
      count: 0,
      actions: [],
      purposes: [],
      categories: [],
      lastAt: last,
      _a: new Set(),
      _p: new Set(),
      _c: new Set(),
    };
    by.count += n;
    by._a.add(g.action);
    by._p.add(g.purpose);
    for (const c of g.categories) by._c.add(c);
    if (last > by.lastAt) by.lastAt = last;
    accessedBy.set(key, by);

    // Shared with: a recipient of a share, export or disclosure; or a processor that accessed the data itself.
    const partyId = g.recipient_id || (g.actor_type === 'processor' ? g.actor_id : '');
    if (partyId) {
      const how = g.recipient_id ? g.action : 'processing';
      // the bundle says what a party is; an id that is no party is `unknown`, whatever the event claimed
      const type = partyType(dir, partyId);
      const s = shared.get(partyId) ?? {
        party: { id: partyId, name: dir.actorName(partyId), type },
        count: 0,
        how: [],
        agreements: [],
        categories: [],
        purposes: [],
        firstAt: first,
        lastAt: last,
        _h: new Set(),
        _g: new Set(),
        _c: new Set(),
        _p: new Set(),
      };
      s.count += n;
      s._h.add(how);
      for (const b of g.basis) if (dir.agreements.has(b)) s._g.add(b);
      for (const c of g.categories) s._c.add(c);
      s._p.add(g.purpose);
      if (first < s.firstAt) s.firstAt = first;
      if (last > s.lastAt) s.lastAt = last;
      shared.set(partyId, s);
    }
  }

  const sorted = (s: Set<string>) => [...s].sort();
  const report: Omit<SubjectReport, 'contentSha256'> = {
    kind: 'subject-access-report',
    variant: q.variant,
    organisation: dir.organisation,
    subject: { id: q.subjectId, tenantId: q.tenantId, types: sorted(types) },
    range: { from: q.range.from.toISOString(), to: q.range.to.toISOString() },
    generatedAt: q.generatedAt.toISOString(),
    policyVersions: sorted(versions),
    // nested objects with their keys in sorted order (see accessFromRow)
    summary: {
      allow: summary.allow,
      deny: summary.deny,
      firstAccess: summary.firstAccess,
      flag: summary.flag,
      lastAccess: summary.lastAccess,
      total: summary.total,
    },
    categories: sortedCount(categories),
    purposes: sortedCount(purposes).map((p) => ({ count: p.count, description: p.description, purpose: p.purpose })),
    accessedBy: sortedCount(accessedBy).map((b) => ({
      actions: sorted(b._a),
      actor: { department: b.actor.department, id: b.actor.id, name: b.actor.name, type: b.actor.type },
      categories: sorted(b._c),
      count: b.count,
      lastAt: b.lastAt,
      purposes: sorted(b._p),
    })),
    sharedWith: sortedCount(shared).map((s) => ({
      agreements: sorted(s._g),
      categories: sorted(s._c),
      count: s.count,
      firstAt: s.firstAt,
      how: sorted(s._h),
      lastAt: s.lastAt,
      party: { id: s.party.id, name: s.party.name, type: s.party.type },
      purposes: sorted(s._p),
    })),
    accesses: q.variant === 'subject' ? data.accesses.map((a) => forSubject(a, dir)) : data.accesses,
    accessesTruncated: data.accessesTruncated,
  };
  if (q.variant === 'full') {
    report.disclosures = (data.disclosures ?? []).map((a) => ({
      authority: { id: a.recipient?.id ?? '', name: a.recipient?.name ?? '', type: a.recipient?.type ?? '' },
      categories: a.categories,
      eventId: a.eventId,
      legalBasis: a.legalBasis ?? '',
      occurredAt: a.occurredAt,
      outcome: a.outcome,
    }));
  }
  return withContentHash<SubjectReport>(report);
}

const list = (xs: string[]) => xs.join('; ');

export function subjectReportCsv(r: SubjectReport): string {
  return sectionedCsv(
    [
      ['report', r.variant === 'subject' ? 'Subject access report (for the data principal)' : 'Subject access report'],
      ['organisation', r.organisation],
      ['tenant', r.subject.tenantId],
      ['subject', r.subject.id],
      ['from', r.range.from],
      ['to', r.range.to],
      ['generatedAt', r.generatedAt],
      ['contentSha256', r.contentSha256],
    ],
    [
      {
        title: 'summary',
        columns: ['total', 'allow', 'flag', 'deny', 'firstAccess', 'lastAccess'],
        rows: [[r.summary.total, r.summary.allow, r.summary.flag, r.summary.deny, r.summary.firstAccess, r.summary.lastAccess]],
      },
      { title: 'categories', columns: ['category', 'count'], rows: r.categories.map((c) => [c.category, c.count]) },
      {
        title: 'purposes',
        columns: ['purpose', 'description', 'count'],
        rows: r.purposes.map((p) => [p.purpose, p.description, p.count]),
      },
      {
        title: 'accessed by',
        columns: ['actorId', 'actorType', 'name', 'department', 'count', 'actions', 'purposes', 'categories', 'lastAt'],
        rows: r.accessedBy.map((a) => [
          a.actor.id ?? '',
          a.actor.type,
          a.actor.name,
          a.actor.department,
          a.count,
          list(a.actions),
          list(a.purposes),
          list(a.categories),
          a.lastAt,
        ]),
      },
      {
        title: 'shared with',
        columns: ['partyId', 'name', 'type', 'how', 'agreements', 'categories', 'purposes', 'count', 'firstAt', 'lastAt'],
        rows: r.sharedWith.map((s) => [
          s.party.id,
          s.party.name,
          s.party.type,
          list(s.how),
          list(s.agreements),
          list(s.categories),
          list(s.purposes),
          s.count,
          s.firstAt,
          s.lastAt,
        ]),
      },
      ...(r.disclosures
        ? [
            {
              title: 'disclosures to authorities',
              columns: ['eventId', 'occurredAt', 'authority', 'legalBasis', 'categories', 'outcome'],
              rows: r.disclosures.map((d) => [
                d.eventId,
                d.occurredAt,
                d.authority.name,
                d.legalBasis,
                list(d.categories),
                d.outcome,
              ]),
            },
          ]
        : []),
      {
        title: r.accessesTruncated ? `accesses (most recent ${r.accesses.length})` : 'accesses',
        columns: [
          'eventId',
          'occurredAt',
          'actor',
          'department',
          'action',
          'categories',
          'purpose',
          'recipient',
          'outcome',
          'codes',
        ],
        rows: r.accesses.map((a) => [
          a.eventId,
          a.occurredAt,
          a.actor.name,
          a.actor.department,
          a.action,
          list(a.categories),
          a.purpose,
          a.recipient?.name ?? '',
          a.outcome,
          list(a.reasons.map((x) => x.code)),
        ]),
      },
    ],
  );
}

export async function subjectReportPdf(r: SubjectReport): Promise<Buffer> {
  const day = (s: string | null) => (s ? s.slice(0, 16).replace('T', ' ') : '-');
  const w = new PdfWriter(
    `Subject access report - ${r.subject.id}`,
    new Date(r.generatedAt),
    `Custos - content SHA-256 ${r.contentSha256}`,
  );
  w.title(r.variant === 'subject' ? 'Your personal data: access report' : 'Subject access report');
  w.para(
    r.variant === 'subject'
      ? `${r.organisation} - a summary of who accessed your personal data, for which purposes, and with whom it was shared (Digital Personal Data Protection Act, 2023, s. 11).`
      : `${r.organisation} - internal report; includes disclosures to authorities, which the subject-facing report leaves out (s. 11(2)).`,
    { color: '#444' },
  );
  w.heading('Subject');
  w.keyValues([
    ['Tenant', r.subject.tenantId],
    ['Subject', `${r.subject.id} (${r.subject.types.join(', ') || 'no records'})`],
    ['Period', `${r.range.from} to ${r.range.to}`],
    ['Generated', r.generatedAt],
    ['Accesses', `${r.summary.total} (allowed ${r.summary.allow}, flagged ${r.summary.flag}, denied ${r.summary.deny})`],
    ['First / last access', `${day(r.summary.firstAccess)} / ${day(r.summary.lastAccess)}`],
  ]);
  w.heading('What was accessed');
  w.table(
    [
      { header: 'Category', width: 3 },
      { header: 'Accesses', width: 1, align: 'right' },
    ],
    r.categories.map((c) => [c.category, c.count]),
    'No accesses in this period.',
  );
  w.heading('For which purposes');
  w.table(
    [
      { header: 'Purpose', width: 2 },
      { header: 'Description', width: 4 },
      { header: 'Accesses', width: 1, align: 'right' },
    ],
    r.purposes.map((p) => [p.purpose, p.description, p.count]),
    'No accesses in this period.',
  );
  w.heading('By whom');
  w.table(
    [
      { header: 'Who', width: 3 },
      { header: 'Department', width: 2 },
      { header: 'Actions', width: 2 },
      { header: 'Purposes', width: 3 },
      { header: 'Accesses', width: 1, align: 'right' },
      { header: 'Last', width: 2 },
    ],
    r.accessedBy.map((a) => [
      a.actor.id ? `${a.actor.name} (${a.actor.id})` : a.actor.name,
      a.actor.department,
      a.actions.join(', '),
      a.purposes.join(', '),
      a.count,
      day(a.lastAt),
    ]),
    'Nobody accessed this data in this period.',
  );
  w.heading('Shared with processors and third parties');
  w.table(
    [
      { header: 'Party', width: 3 },
      { header: 'Type', width: 2 },
      { header: 'How', width: 2 },
      { header: 'Agreement', width: 3 },
      { header: 'Times', width: 1, align: 'right' },
      { header: 'Last', width: 2 },
    ],
    r.sharedWith.map((s) => [
      s.party.name,
      s.party.type,
      s.how.join(', '),
      s.agreements.join(', ') || 'none',
      s.count,
      day(s.lastAt),
    ]),
    'Not shared with anyone in this period.',
  );
  if (r.disclosures) {
    w.heading('Disclosures to authorities');
    w.table(
      [
        { header: 'When', width: 2 },
        { header: 'Authority', width: 3 },
        { header: 'Legal basis', width: 3 },
        { header: 'Outcome', width: 1 },
      ],
      r.disclosures.map((d) => [day(d.occurredAt), d.authority.name, d.legalBasis || 'MISSING', d.outcome]),
      'No disclosures in this period.',
    );
  }
  w.heading(r.accessesTruncated ? `Accesses (most recent ${r.accesses.length})` : 'Accesses');
  w.table(
    [
      { header: 'When', width: 2.2 },
      { header: 'Who', width: 2.5 },
      { header: 'Action', width: 1 },
      { header: 'Categories', width: 2.5 },
      { header: 'Purpose', width: 2 },
      { header: 'Outcome', width: 1 },
    ],
    r.accesses.map((a) => [day(a.occurredAt), a.actor.name, a.action, a.categories.join(', '), a.purpose, a.outcome]),
    'No accesses in this period.',
  );
  w.heading('Integrity');
  w.para(`SHA-256 of this report's content (canonical JSON, see the JSON form): ${r.contentSha256}`);
  return w.end();
}
