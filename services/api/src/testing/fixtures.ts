/**
 * A small, known audit trail for tests: October 2026 across three tenants, covering every section
 * of the reports (allowed reads, denials of each kind, a share under an agreement, processing by a
 * processor, a lawful disclosure and one without legal basis, bulk access, retention and erasure).
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compileBundle, parseBundleText, SubjectStateStore, toDecision } from '@custos/policy';
import { type Decision, parseAccessEvent } from '@custos/schemas';
import { type Store, toRow } from '@custos/store';

type Ev = Decision['event'];
const FLAGS = new Set(['LEGAL_DISCLOSURE', 'BULK_ACCESS']);

let seq = 0;
const uuid = (n: number) => `00000000-0000-7000-8000-${n.toString(16).padStart(12, '0')}`;

function decision(
  at: string,
  e: Omit<Ev, 'eventId' | 'occurredAt' | 'source'>,
  codes: string[] = [],
  basis: string[] = [],
): Decision {
  const eventId = uuid(++seq);
  const outcome = codes.some((c) => !FLAGS.has(c)) ? 'deny' : codes.length ? 'flag' : 'allow';
  return {
    eventId,
    decidedAt: new Date(Date.parse(at) + 1000).toISOString(),
    outcome,
    reasons: codes.map((code) => ({ code, message: `${code} (test)` })),
    basis,
    policyVersion: 'spera-2026.11.1+sha256:test',
    event: { eventId, occurredAt: at, source: { service: 'crm' }, recordCount: 1, ...e } as Ev,
  };
}

const staff = (id: string) => ({ id, type: 'staff' as const });
const cust = (id: string) => ({ id, type: 'customer' as const });

export function fixtureDecisions(): Decision[] {
  seq = 0;
  const d: Decision[] = [];
  const spera = (x: Omit<Ev, 'eventId' | 'occurredAt' | 'source' | 'tenantId'>) => ({ tenantId: 'spera', ...x });
  // cust-1001 (spera): the subject-report subject
  for (const day of ['02', '03', '04']) {
    d.push(
      decision(
        `2026-10-${day}T09:00:00.000Z`,
        spera({
          actor: staff('s-asha'),
          subject: cust('cust-1001'),
          categories: ['personal.contact'],
          action: 'read',
          purpose: 'service.support',
        }),
        [],
        ['G-SUP-1'],
      ),
    );
  }
  d.push(
    decision(
      '2026-10-05T09:00:00.000Z',
      spera({
        actor: staff('s-asha'),
        subject: cust('cust-1001'),
        categories: ['client.financial'],
        action: 'read',
        purpose: 'service.support',
      }),
      ['ROLE_NOT_AUTHORIZED'],
    ),
  );
  d.push(
    decision(
      '2026-10-06T09:00:00.000Z',
      spera({
        actor: staff('s-asha'),
        subject: cust('cust-1001'),
        categories: ['personal.contact'],
        action: 'share',
        purpose: 'service.support',
        recipient: { id: 'p-helpdeskly', type: 'processor' },
      }),
      [],
      ['G-SUP-2', 'AG-HELPDESKLY-2024'],
    ),
  );
  d.push(
    decision(
      '2026-10-07T09:00:00.000Z',
      spera({
        actor: { id: 'p-postbird', type: 'processor' },
        subject: cust('cust-1001'),
        categories: ['personal.contact'],
        action: 'read',
        purpose: 'communication.notices',
      }),
      [],
      ['AG-POSTBIRD-2024'],
    ),
  );
  d.push(
    decision(
      '2026-10-08T09:00:00.000Z',
      spera({
        actor: staff('s-dev'),
        subject: cust('cust-1001'),
        categories: ['personal.identity'],
        action: 'disclose',
        purpose: 'legal.compliance',
        recipient: { id: 'a-kolkata-police', type: 'authority' },
        legalBasis: 'court-order:KOL-2026-0042',
      }),
      ['LEGAL_DISCLOSURE'],
      ['G-DPO-2'],
    ),
  );
  d.push(
    decision(
      '2026-10-09T09:00:00.000Z',
      spera({
        actor: staff('s-priya'),
        subject: cust('cust-1001'),
        categories: ['personal.contact'],
        action: 'share',
        purpose: 'third_party_marketing',
        recipient: { id: 't-adnexus', type: 'third_party' },
      }),
      ['NO_AGREEMENT', 'PROHIBITED_PURPOSE', 'PURPOSE_NOT_PERMITTED'],
    ),
  );
  d.push(
    decision(
      '2026-10-10T09:00:00.000Z',
      spera({
        actor: staff('s-asha'),
        subject: cust('cust-1004'),
        categories: ['personal.contact'],
        action: 'read',
        purpose: 'service.support',
      }),
      ['SUBJECT_ERASED'],
    ),
  );
  d.push(
    decision(
      '2026-10-11T09:00:00.000Z',
      {
        ...spera({
          actor: staff('s-rohan'),
          subject: cust('cust-1002'),
          categories: ['client.financial'],
          action: 'read',
          purpose: 'service.transactions',
        }),
        dataCollectedAt: '2017-01-01T00:00:00.000Z',
      },
      ['RETENTION_EXPIRED'],
    ),
  );
  d.push(
    decision(
      '2026-10-12T09:00:00.000Z',
      {
        ...spera({
          actor: staff('s-arjun'),
          subject: { id: 'user-77', type: 'user' },
          categories: ['usage.activity'],
          action: 'read',
          purpose: 'improvement.analytics',
        }),
        recordCount: 900,
      },
      ['BULK_ACCESS'],
      ['G-ANA-1'],
    ),
  );
  // client-acme
  const acme = (x: Omit<Ev, 'eventId' | 'occurredAt' | 'source' | 'tenantId'>) => ({ tenantId: 'client-acme', ...x });
  d.push(
    decision(
      '2026-10-13T09:00:00.000Z',
      acme({
        actor: staff('s-meera'),
        subject: cust('acme-cust-9'),
        categories: ['personal.contact'],
        action: 'read',
        purpose: 'service.accounts',
      }),
      [],
      ['G-ACC-1'],
    ),
  );
  d.push(
    decision(
      '2026-10-14T09:00:00.000Z',
      acme({
        actor: { id: 'p-ledgerpay', type: 'processor' },
        subject: cust('acme-cust-9'),
        categories: ['personal.contact'],
        action: 'read',
        purpose: 'service.transactions',
      }),
      ['NO_AGREEMENT'],
    ),
  );
  d.push(
    decision(
      '2026-10-15T09:00:00.000Z',
      acme({
        actor: staff('s-dev'),
        subject: cust('acme-cust-9'),
        categories: ['personal.identity'],
        action: 'disclose',
        purpose: 'legal.compliance',
        recipient: { id: 'a-kolkata-police', type: 'authority' },
      }),
      ['DISCLOSURE_WITHOUT_LEGAL_BASIS'],
    ),
  );
  // client-globex
  d.push(
    decision(
      '2026-10-16T09:00:00.000Z',
      {
        tenantId: 'client-globex',
        actor: staff('s-vikram'),
        subject: cust('glx-1'),
        categories: ['client.transaction'],
        action: 'read',
        purpose: 'service.transactions',
      },
      [],
      ['G-BIL-1'],
    ),
  );
  d.push(...judgedDecisions());
  // September: outside the October report
  d.push(
    decision(
      '2026-09-20T09:00:00.000Z',
      spera({
        actor: staff('s-asha'),
        subject: cust('cust-1001'),
        categories: ['personal.contact'],
        action: 'read',
        purpose: 'service.support',
      }),
      [],
      ['G-SUP-1'],
    ),
  );
  // 60 ordinary reads on 20 October, some in the same millisecond (pagination must still be stable)
  for (let i = 0; i < 60; i++) {
    const at = new Date(Date.UTC(2026, 9, 20, 10, 0, Math.floor(i / 3))).toISOString();
    d.push(
      decision(
        at,
        spera({
          actor: staff('s-asha'),
          subject: cust(`cust-2${String(i).padStart(3, '0')}`),
          categories: ['personal.contact'],
          action: 'read',
          purpose: 'service.support',
        }),
        [],
        ['G-SUP-1'],
      ),
    );
  }
  return d;
}

const REPO_BUNDLE = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..', 'policies', 'example-org.json');

/** The subject whose accesses include every kind of sharing and disclosure, some with a recipient type the bundle contradicts. */
export const MIXED_SUBJECT = 'cust-1005';

/**
 * Accesses of every kind for one subject, judged by the real evaluator with the repository's bundle:
 * a lawful disclosure to the police that the event calls a third party (the only one the
 * subject-facing report leaves out), a denied disclosure to an ad exchange for `sale` that calls it an
 * authority, a share with the police (denied: no agreement), a share with a processor the event calls
 * an authority (allowed), an export to a third party, a disclosure without legal basis, a processor's
 * own processing and a plain read.
 */
export function judgedDecisions(): Decision[] {
  const r = parseBundleText(readFileSync(REPO_BUNDLE, 'utf8'));
  if (!r.ok) throw new Error('the repository bundle is invalid');
  const evaluator = compileBundle(r.value.bundle, r.value.policyVersion);
  const events: Omit<Ev, 'eventId' | 'occurredAt' | 'source' | 'tenantId' | 'subject'>[] = [
    {
      actor: staff('s-dev'),
      categories: ['personal.identity'],
      action: 'disclose',
      purpose: 'legal.compliance',
      recipient: { id: 'a-kolkata-police', type: 'third_party' },
      legalBasis: 'court-order:KOL-2026-0077',
      recordCount: 1,
    },
    {
      actor: staff('s-priya'),
      categories: ['personal.contact'],
      action: 'disclose',
      purpose: 'sale',
      recipient: { id: 't-adnexus', type: 'authority' },
      legalBasis: 'contract:ADX-1',
      recordCount: 1,
    },
    {
      actor: staff('s-dev'),
      categories: ['personal.identity'],
      action: 'share',
      purpose: 'legal.compliance',
      recipient: { id: 'a-kolkata-police', type: 'third_party' },
      recordCount: 1,
    },
    {
      actor: staff('s-asha'),
      categories: ['personal.contact'],
      action: 'share',
      purpose: 'service.support',
      recipient: { id: 'p-helpdeskly', type: 'authority' },
      recordCount: 1,
    },
    {
      actor: staff('s-dev'),
      categories: ['personal.contact'],
      action: 'export',
      purpose: 'rights.request',
      recipient: { id: 't-adnexus', type: 'third_party' },
      recordCount: 1,
    },
    {
      actor: staff('s-dev'),
      categories: ['personal.identity'],
      action: 'disclose',
      purpose: 'legal.compliance',
      recipient: { id: 'a-kolkata-police', type: 'authority' },
      recordCount: 1,
    },
    {
      actor: { id: 'p-postbird', type: 'processor' },
      categories: ['personal.contact'],
      action: 'read',
      purpose: 'communication.notices',
      recordCount: 1,
    },
    { actor: staff('s-asha'), categories: ['personal.contact'], action: 'read', purpose: 'service.support', recordCount: 1 },
  ];
  return events.map((e, i) => {
    const eventId = uuid(0xa000 + i);
    const at = new Date(Date.UTC(2026, 9, 22, 9, i)).toISOString();
    const parsed = parseAccessEvent({
      ...e,
      eventId,
      occurredAt: at,
      tenantId: 'spera',
      subject: cust(MIXED_SUBJECT),
      source: { service: 'crm' },
    });
    if (!parsed.ok) throw new Error(`fixture ${i}: ${JSON.stringify(parsed.errors)}`);
    const bulk = evaluator.createBulkWindow();
    const j = evaluator.evaluate(parsed.value, { subjectState: new SubjectStateStore(), bulk });
    return toDecision(parsed.value, j, new Date(Date.parse(at) + 1000));
  });
}

export async function loadFixtures(store: Store): Promise<Decision[]> {
  const ds = fixtureDecisions();
  await insertRows(
    store,
    ds.map((x, i) => toRow(x, 0, String(i))),
  );
  return ds;
}

/**
 * Inserts decision rows as they are, with placeholder chain columns (the API reads decisions; the
 * chain is the store's and the sink's business).
 */
export async function insertRows(store: Store, rows: object[]): Promise<void> {
  await store.client.insert({
    table: store.table('decisions'),
    values: rows.map((r, i) => ({ chain_seq: i + 1, chain_hash: '0'.repeat(64), ...r })),
    format: 'JSONEachRow',
    clickhouse_settings: { input_format_skip_unknown_fields: 1 },
  });
}
