/**
 * The API on real ClickHouse (chDB, or a server when CLICKHOUSE_URL is set) with a known audit trail:
 * every route's answers, the report formats, the audit records of the reads, and a fuzz test over
 * every route that must never yield a 5xx or a query error.
 */
import { createHash } from 'node:crypto';
import { createStore, migrate, type Store } from '@custos/store';
import { infraEnv, testStore } from '@custos/test/support';
import fc from 'fast-check';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { contentHash } from './report/render.js';
import { ROUTES } from './routes.js';
import type { PeriodicReport, SubjectReport } from './schemas.js';
import {
  ACME_AUDITOR_KEY,
  fixtureDecisions,
  loadFixtures,
  SAMPLE_REQUESTS,
  startTestApi,
  TEST_KEYS,
  type TestServer,
} from './testing/index.js';

let store: Store;
let api: TestServer;
const errors: string[] = [];
const decisions = fixtureDecisions();

beforeAll(async () => {
  const { database, chdbPath } = testStore('api');
  store = createStore({ url: infraEnv().clickhouseUrl, database, chdbPath });
  await migrate(store);
  await loadFixtures(store);
  const logger = pino({ level: 'error' }, { write: (line: string) => errors.push(line) });
  api = await startTestApi({ store, logger, now: () => new Date('2026-11-15T00:00:00Z') });
});
afterAll(async () => {
  await api?.close();
  await store?.client.command({ query: `DROP DATABASE IF EXISTS ${store.database}` }).catch(() => {});
  await store?.close();
});

type Role = keyof typeof TEST_KEYS;
const headers = (role: Role, purpose = 'security') => ({ authorization: `Bearer ${TEST_KEYS[role].key}`, 'x-purpose': purpose });
async function getJson<T>(path: string, role: Role = 'admin', purpose = 'security'): Promise<T> {
  const res = await fetch(`${api.url}${path}`, { headers: headers(role, purpose) });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`${path}: ${res.status} ${text}`);
  return JSON.parse(text) as T;
}

const OCT = 'from=2026-10-01T00:00:00Z&to=2026-11-01T00:00:00Z';
const inOct = decisions.filter((d) => d.event.occurredAt >= '2026-10-01' && d.event.occurredAt < '2026-11-01');
const withCode = (code: string) => inOct.filter((d) => d.reasons.some((r) => r.code === code));

interface Page {
  items: { eventId: string; occurredAt: string; outcome: string; actor: { id: string; department: string } }[];
  nextCursor: string | null;
}

describe('accesses search', () => {
  it('pages through a range in a stable order without gaps or repeats', async () => {
    const seen: Page['items'] = [];
    let cursor: string | null = null;
    do {
      const page: Page = await getJson<Page>(`/v1/accesses?${OCT}&limit=7${cursor ? `&cursor=${cursor}` : ''}`);
      seen.push(...page.items);
      cursor = page.nextCursor;
    } while (cursor);
    expect(seen.map((i) => i.eventId).sort()).toEqual(inOct.map((d) => d.eventId).sort());
    const keys = seen.map((i) => `${i.occurredAt}|${i.eventId}`);
    expect(new Set(keys).size).toBe(keys.length);
    for (let i = 1; i < seen.length; i++)
      expect((seen[i - 1] as Page['items'][0]).occurredAt >= (seen[i] as Page['items'][0]).occurredAt).toBe(true);
  });

  const filters: [string, (d: (typeof decisions)[0]) => boolean][] = [
    ['tenantId=client-acme', (d) => d.event.tenantId === 'client-acme'],
    ['subjectId=cust-1001', (d) => d.event.subject.id === 'cust-1001'],
    ['actorId=s-dev', (d) => d.event.actor.id === 's-dev'],
    ['department=support', (d) => d.event.actor.id === 's-asha'],
    ['category=client.financial', (d) => d.event.categories.includes('client.financial')],
    ['action=share', (d) => d.event.action === 'share'],
    ['purpose=legal.compliance', (d) => d.event.purpose === 'legal.compliance'],
    ['outcome=flag', (d) => d.outcome === 'flag'],
    ['code=NO_AGREEMENT', (d) => d.reasons.some((r) => r.code === 'NO_AGREEMENT')],
    ['recipientId=a-kolkata-police', (d) => d.event.recipient?.id === 'a-kolkata-police'],
    [
      'tenantId=spera&outcome=deny&actorId=s-asha',
      (d) => d.event.tenantId === 'spera' && d.outcome === 'deny' && d.event.actor.id === 's-asha',
    ],
    ['department=nobody', () => false],
  ];
  for (const [q, pred] of filters) {
    it(`filters by ${q}`, async () => {
      const page = await getJson<Page>(`/v1/accesses?${OCT}&limit=500&${q}`);
      expect(page.items.map((i) => i.eventId).sort()).toEqual(
        inOct
          .filter(pred)
          .map((d) => d.eventId)
          .sort(),
      );
    });
  }

  it('joins the department from the staff directory', async () => {
    const page = await getJson<Page>(`/v1/accesses?${OCT}&actorId=s-dev`);
    expect(page.items.every((i) => i.actor.department === 'privacy')).toBe(true);
  });

  it('keeps a credential to its tenants', async () => {
    const res = await fetch(`${api.url}/v1/accesses?${OCT}&limit=500`, {
      headers: { authorization: `Bearer ${ACME_AUDITOR_KEY}`, 'x-purpose': 'security' },
    });
    const page = (await res.json()) as { items: { tenantId: string }[] };
    expect(page.items.length).toBe(inOct.filter((d) => d.event.tenantId === 'client-acme').length);
    expect(new Set(page.items.map((i) => i.tenantId))).toEqual(new Set(['client-acme']));
  });
});

describe('subject access report', () => {
  it('says what was accessed, by whom, for which purposes and with whom it was shared', async () => {
    const r = await getJson<SubjectReport>('/v1/subjects/cust-1001/report?tenantId=spera', 'privacy_officer', 'rights.request');
    const all = decisions.filter((d) => d.event.subject.id === 'cust-1001');
    expect(r.summary.total).toBe(all.length);
    expect(r.summary).toMatchObject({ deny: 2, flag: 1, allow: all.length - 3 });
    expect(r.accessedBy.map((a) => a.actor.id).sort()).toEqual(['p-postbird', 's-asha', 's-dev', 's-priya']);
    const shared = Object.fromEntries(r.sharedWith.map((s) => [s.party.id, s]));
    expect(Object.keys(shared).sort()).toEqual(['a-kolkata-police', 'p-helpdeskly', 'p-postbird', 't-adnexus']);
    expect(shared['p-helpdeskly']).toMatchObject({ how: ['share'], agreements: ['AG-HELPDESKLY-2024'] });
    expect(shared['p-postbird']).toMatchObject({ how: ['processing'], agreements: ['AG-POSTBIRD-2024'] });
    expect(shared['t-adnexus']).toMatchObject({ party: { type: 'third_party' }, agreements: [] });
    expect(r.disclosures).toEqual([
      expect.objectContaining({
        legalBasis: 'court-order:KOL-2026-0042',
        authority: expect.objectContaining({ name: 'Kolkata Police Cyber Cell' }),
      }),
    ]);
    expect(r.purposes.find((p) => p.purpose === 'service.support')?.description).toBe('providing customer support');
    expect(r.contentSha256).toBe(contentHash(r as unknown as Record<string, unknown>));
  });

  it('subject-facing: leaves out disclosures to authorities and names staff by department', async () => {
    const r = await getJson<SubjectReport>(
      '/v1/subjects/cust-1001/report?tenantId=spera&variant=subject',
      'privacy_officer',
      'rights.request',
    );
    const all = decisions.filter((d) => d.event.subject.id === 'cust-1001' && d.event.action !== 'disclose');
    expect(r.summary.total).toBe(all.length);
    expect(r.disclosures).toBeUndefined();
    expect(r.sharedWith.map((s) => s.party.id)).not.toContain('a-kolkata-police');
    expect(JSON.stringify(r)).not.toContain('a-kolkata-police');
    expect(JSON.stringify(r)).not.toContain('s-asha');
    expect(r.accessedBy.map((a) => a.actor.name)).toContain('Spera Digital staff');
  });

  it('comes as CSV and PDF with the SHA-256 of the body', async () => {
    for (const [format, type] of [
      ['csv', 'text/csv'],
      ['pdf', 'application/pdf'],
    ] as const) {
      const res = await fetch(`${api.url}/v1/subjects/cust-1001/report?tenantId=spera&format=${format}`, {
        headers: headers('privacy_officer', 'rights.request'),
      });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toContain(type);
      expect(res.headers.get('content-disposition')).toMatch(new RegExp(`subject-report-spera-cust-1001-full\\.${format}`));
      const body = Buffer.from(await res.arrayBuffer());
      expect(res.headers.get('x-content-sha256')).toBe(createHash('sha256').update(body).digest('hex'));
      if (format === 'pdf') expect(body.subarray(0, 5).toString()).toBe('%PDF-');
      else expect(body.toString()).toMatch(/# shared with\n[^#]*Helpdeskly/);
    }
  });

  it('is empty, not an error, for an unknown subject', async () => {
    const r = await getJson<SubjectReport>('/v1/subjects/nobody/report?tenantId=spera', 'privacy_officer', 'rights.request');
    expect(r.summary.total).toBe(0);
    expect(r.accesses).toEqual([]);
  });
});

describe('summaries', () => {
  it('actor activity', async () => {
    const a = await getJson<{
      totals: { total: number; deny: number; distinctSubjects: number };
      byCode: { code: string }[];
      actor: { department: string };
    }>(`/v1/actors/s-asha/activity?${OCT}`);
    const mine = inOct.filter((d) => d.event.actor.id === 's-asha');
    expect(a.totals.total).toBe(mine.length);
    expect(a.totals.deny).toBe(mine.filter((d) => d.outcome === 'deny').length);
    expect(a.actor.department).toBe('support');
    expect(a.byCode.map((c) => c.code).sort()).toEqual([...new Set(mine.flatMap((d) => d.reasons.map((r) => r.code)))].sort());
  });

  it('violations by code, department, actor and bucket', async () => {
    const v = await getJson<{
      totals: { total: number; deny: number; flag: number };
      byCode: { code: string; count: number }[];
      byDepartment: { department: string; deny: number }[];
      buckets: { start: string; total: number }[];
    }>(`/v1/violations/summary?${OCT}&bucket=day`);
    expect(v.totals.total).toBe(inOct.length);
    expect(v.totals.deny).toBe(inOct.filter((d) => d.outcome === 'deny').length);
    expect(v.byCode.find((c) => c.code === 'NO_AGREEMENT')?.count).toBe(withCode('NO_AGREEMENT').length);
    expect(v.byCode.find((c) => c.code === 'RECIPIENT_TYPE_MISMATCH')).toMatchObject({ outcome: 'note' });
    expect(v.byDepartment.find((d) => d.department === 'support')?.deny).toBe(
      inOct.filter((d) => d.event.actor.id === 's-asha' && d.outcome === 'deny').length,
    );
    expect(v.buckets.reduce((s, b) => s + b.total, 0)).toBe(inOct.length);
    expect(v.buckets[0]?.start).toBe('2026-10-02T00:00:00Z');
  });

  it('sharing by agreement and party', async () => {
    const s = await getJson<{
      byAgreement: { agreementId: string | null; party: { id: string } }[];
      byParty: { party: { id: string }; actions: string[] }[];
    }>(`/v1/sharing?${OCT}`, 'auditor');
    const pairs = s.byAgreement.map((a) => `${a.party.id}:${a.agreementId ?? '-'}`).sort();
    expect(pairs).toEqual(
      [
        'a-kolkata-police:-',
        'a-kolkata-police:-',
        'p-helpdeskly:AG-HELPDESKLY-2024',
        'p-ledgerpay:-',
        'p-postbird:AG-POSTBIRD-2024',
        't-adnexus:-',
      ].filter((x, i, a) => a.indexOf(x) === i),
    );
    expect(s.byParty.find((p) => p.party.id === 'p-postbird')?.actions).toEqual(['processing']);
  });

  it('disclosures with their legal basis', async () => {
    const d = await getJson<{
      items: { legalBasis: string; outcome: string }[];
      byAuthority: { lawful: number; withoutBasis: number }[];
    }>(`/v1/disclosures?${OCT}`, 'auditor', 'legal.compliance');
    // every disclose, and every access with a party the bundle calls an authority
    const disc = inOct.filter((x) => x.event.action === 'disclose' || x.event.recipient?.id === 'a-kolkata-police');
    expect(d.items).toHaveLength(disc.length);
    expect(d.items.map((i) => [i.legalBasis, i.outcome])).toContainEqual(['court-order:KOL-2026-0042', 'flag']);
    const police = disc.filter((x) => x.event.recipient?.id === 'a-kolkata-police');
    expect(d.byAuthority).toContainEqual(
      expect.objectContaining({
        authority: expect.objectContaining({ id: 'a-kolkata-police' }),
        lawful: police.filter((x) => x.reasons.some((r) => r.code === 'LEGAL_DISCLOSURE')).length,
        total: police.length,
      }),
    );
  });

  it('integrity verification says when the store offers none', async () => {
    const v = await getJson<{ verification: { status: string } }>(`/v1/integrity/verify?${OCT}`, 'auditor');
    expect(v.verification.status).toBe('unavailable');
  });
});

describe('periodic access-restriction report', () => {
  it('covers the month: totals, rules with examples, actors, sharing, disclosures, retention, bulk, integrity', async () => {
    const r = await getJson<PeriodicReport>('/v1/reports/periodic?period=2026-10', 'auditor', 'legal.compliance');
    expect(r.period).toEqual({ label: '2026-10', from: '2026-10-01T00:00:00.000Z', to: '2026-11-01T00:00:00.000Z' });
    expect(r.totals.total).toBe(inOct.length);
    const rule = Object.fromEntries(r.rules.map((x) => [x.code, x]));
    expect(rule.NO_AGREEMENT?.count).toBe(withCode('NO_AGREEMENT').length);
    expect(rule.NO_AGREEMENT?.examples).toHaveLength(Math.min(3, withCode('NO_AGREEMENT').length));
    expect(rule.LEGAL_DISCLOSURE?.outcome).toBe('flag');
    const denials = (id: string) => inOct.filter((d) => d.event.actor.id === id && d.outcome === 'deny').length;
    expect(r.topActors[0]).toMatchObject({ actorId: 's-dev', deny: denials('s-dev') });
    expect(r.topActors.find((a) => a.actorId === 's-asha')).toMatchObject({ deny: denials('s-asha') });
    expect(r.retention).toEqual({ retentionExpired: 1, subjectErased: 1, promotionalOptOut: 0 });
    expect(r.bulkAccess).toEqual({ events: 1, actors: [{ actorId: 's-arjun', name: 'Arjun Mehta', events: 1 }] });
    expect(r.disclosures.total).toBe(
      inOct.filter((x) => x.event.action === 'disclose' || x.event.recipient?.id === 'a-kolkata-police').length,
    );
    expect(r.integrity.verification.status).toBe('unavailable');
    expect(r.contentSha256).toBe(contentHash(r as unknown as Record<string, unknown>));
  });

  it('a quarter, and a tenant-scoped credential sees its tenant only', async () => {
    const q = await getJson<PeriodicReport>('/v1/reports/periodic?period=2026-Q3', 'auditor', 'legal.compliance');
    expect(q.totals.total).toBe(decisions.filter((d) => d.event.occurredAt.startsWith('2026-09')).length);
    const res = await fetch(`${api.url}/v1/reports/periodic?period=2026-10`, {
      headers: { authorization: `Bearer ${ACME_AUDITOR_KEY}`, 'x-purpose': 'security' },
    });
    const r = (await res.json()) as PeriodicReport;
    expect(r.tenants).toEqual(['client-acme']);
    expect(r.totals.total).toBe(inOct.filter((d) => d.event.tenantId === 'client-acme').length);
  });

  it('comes as CSV and PDF', async () => {
    for (const format of ['csv', 'pdf']) {
      const res = await fetch(`${api.url}/v1/reports/periodic?period=2026-10&format=${format}`, {
        headers: headers('auditor', 'legal.compliance'),
      });
      expect(res.status).toBe(200);
      const body = Buffer.from(await res.arrayBuffer());
      expect(res.headers.get('x-content-sha256')).toBe(createHash('sha256').update(body).digest('hex'));
      if (format === 'csv') expect(body.toString()).toContain('# rules');
      else expect(body.length).toBeGreaterThan(2000);
    }
  });
});

describe('watching the watchers', () => {
  it('records every read with the staff member, the stated purpose and what was queried', async () => {
    const before = api.recorder.events.length;
    await getJson(`/v1/accesses?${OCT}&subjectId=cust-1001&tenantId=spera`, 'admin', 'security');
    await getJson('/v1/reports/periodic?period=2026-10', 'auditor', 'legal.compliance');
    const [search, report] = api.recorder.events.slice(before);
    expect(search).toMatchObject({
      tenantId: 'spera',
      actor: { id: 's-kavya', type: 'staff' },
      subject: { id: 'cust-1001', type: 'customer' },
      categories: ['audit.trail'],
      action: 'read',
      purpose: 'security',
      attributes: { route: 'searchAccesses', from: '2026-10-01T00:00:00.000Z', to: '2026-11-01T00:00:00.000Z' },
    });
    expect(search?.recordCount).toBe(
      decisions.filter((d) => d.event.subject.id === 'cust-1001' && d.event.occurredAt.startsWith('2026-10')).length,
    );
    expect(report).toMatchObject({
      tenantId: '*',
      actor: { id: 's-ira' },
      subject: { id: '*' },
      purpose: 'legal.compliance',
      attributes: { period: '2026-10' },
    });
  });
});

describe('fuzzing every route', () => {
  const junk = fc.oneof(
    fc.string({ maxLength: 40 }),
    fc.string({ unit: 'binary', maxLength: 20 }),
    fc.integer().map(String),
    fc.double().map(String),
    fc.constantFrom(
      '',
      ' ',
      '%',
      "'",
      '"',
      '\\',
      '{x:String}',
      "') OR 1=1 --",
      '[]',
      'null',
      '-1',
      '0',
      '1e309',
      'NaN',
      '9'.repeat(30),
    ),
    fc.date({ min: new Date(-1e14), max: new Date(1e14), noInvalidDate: true }).map((d) => d.toISOString()),
    fc.constantFrom(
      '1969-12-31T23:59:59Z',
      '2199-12-31T23:59:59Z',
      '2200-01-01T00:00:00Z',
      '0001-01-01T00:00:00Z',
      '2026-10-01T00:00:00+05:30',
      '2026-02-30T00:00:00Z',
    ),
    fc.constantFrom(
      'allow',
      'deny',
      'flag',
      'read',
      'share',
      'spera',
      'client-acme',
      'cust-1001',
      's-asha',
      'support',
      'NO_AGREEMENT',
      'full',
      'subject',
      'json',
      'csv',
      'pdf',
      'day',
      'hour',
      'week',
      'month',
    ),
    fc.constantFrom('2026-10', '2026-Q4', '1970-01', '2199-Q4', '2026-13', '2026-Q5'),
    fc.constantFrom(
      'WyIyMDI2LTEwLTIwIDEwOjAwOjAwLjAwMCIsIjAwMDAwMDAwLTAwMDAtNzAwMC04MDAwLTAwMDAwMDAwMDAxMCJd',
      'WyIyMDI2LTEzLTQ1IDk5Ojk5Ojk5IiwieCJd',
      'e30',
      'AAAA',
    ),
  );
  const keysOf = (r: (typeof ROUTES)[number]) => Object.keys((r.query as unknown as { shape: Record<string, unknown> }).shape);

  for (const r of ROUTES) {
    it(`${r.id} never answers 5xx nor logs a query error`, async () => {
      const keys = [...keysOf(r), 'extra'];
      await fc.assert(
        fc.asyncProperty(
          fc.dictionary(fc.constantFrom(...keys), junk, { maxKeys: 6 }),
          fc.oneof(fc.constantFrom('cust-1001', 's-asha'), fc.string({ minLength: 1, maxLength: 30 })),
          fc.constantFrom('security', 'legal.compliance', 'rights.request'),
          async (query, pathValue, purpose) => {
            const path = r.path.replace(/:(\w+)/g, () => encodeURIComponent(pathValue));
            const url = `${api.url}${path}?${new URLSearchParams(query).toString()}`;
            const before = errors.length;
            const res = await fetch(url, { headers: headers('admin', purpose) });
            await res.arrayBuffer();
            expect(res.status, `${url} → ${res.status}`).toBeLessThan(500);
            expect(errors.slice(before), url).toEqual([]);
          },
        ),
        { numRuns: 60 },
      );
    });
  }

  it('the sample requests all succeed', async () => {
    for (const url of Object.values(SAMPLE_REQUESTS)) {
      const res = await fetch(`${api.url}${url}`, { headers: headers('admin') });
      expect(res.status, url).toBe(200);
    }
  });
});

describe('a decision stored twice', () => {
  it('counts once in the subject report and the search', async () => {
    const { toRow } = await import('@custos/store');
    const { insertRows } = await import('./testing/index.js');
    // a byte-identical copy (same chain position), as a batch written twice would leave
    const i = decisions.findIndex((d) => d.event.subject.id === 'cust-1004');
    await insertRows(store, [{ ...toRow(decisions[i] as (typeof decisions)[0], 0, String(i)), chain_seq: i + 1 }]);
    const r = await getJson<SubjectReport>('/v1/subjects/cust-1004/report?tenantId=spera', 'privacy_officer', 'rights.request');
    expect(r.summary.total).toBe(1);
    expect(r.accesses).toHaveLength(1);
    const page = await getJson<Page>(`/v1/accesses?${OCT}&subjectId=cust-1004`);
    expect(page.items).toHaveLength(1);
  });
});

describe('integrity from the store', () => {
  it('lists checkpoints and verifies a range through the store; scoped credentials get the verdict only', async () => {
    const { generateKeyPairSync } = await import('node:crypto');
    const { storeIntegrity } = await import('./integrity.js');
    const q = { from: new Date('2026-10-01T00:00:00Z'), to: new Date('2026-11-01T00:00:00Z') };
    expect((await storeIntegrity(store, { trusted: [] }).verifyRange({ ...q, tenants: '*' })).status).toBe('unavailable');
    const { publicKey } = generateKeyPairSync('ed25519');
    const integrity = storeIntegrity(store, { trusted: [publicKey] });
    expect(await integrity.listCheckpoints({ ...q, tenants: '*' })).toEqual([]);
    const all = await integrity.verifyRange({ ...q, tenants: '*' });
    expect(['verified', 'failed']).toContain(all.status);
    expect(typeof all.rows).toBe('number');
    const scoped = await integrity.verifyRange({ ...q, tenants: ['client-acme'] });
    expect(scoped.findings).toBeUndefined();
  });
});
