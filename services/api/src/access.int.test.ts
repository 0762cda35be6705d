/**
 * Roles restrict data, not only views: every role against every route and every search filter, on
 * real ClickHouse with seeded accesses of every kind (plain reads, processors' processing, shares
 * with processors, third parties and authorities, lawful and unlawful disclosures, recipients whose
 * claimed type the bundle contradicts). A role sees exactly the rows and fields ROLE_DATA gives it,
 * wherever it looks; a filter that amounts to a view it may not open is refused.
 */
import { createStore, migrate, type Store } from '@custos/store';
import { infraEnv, testStore } from '@custos/test/support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROLE_DATA, type RowKind, rowKind } from './access.js';
import { loadDirectory } from './app.js';
import { partiesOfType } from './directory.js';
import { ROLES, type Role } from './roles.js';
import { ROUTES } from './routes.js';
import type { SubjectReport } from './schemas.js';
import {
  fixtureDecisions,
  loadFixtures,
  MIXED_SUBJECT,
  SAMPLE_REQUESTS,
  startTestApi,
  TEST_KEYS,
  type TestServer,
} from './testing/index.js';

let store: Store;
let api: TestServer;
const dir = loadDirectory();
const authorities = partiesOfType(dir, 'authority');
const decisions = fixtureDecisions();
type D = (typeof decisions)[number];
const kindOf = (d: D): RowKind =>
  rowKind({ action: d.event.action, recipient_id: d.event.recipient?.id ?? '', actor_type: d.event.actor.type }, authorities);
const OCT = 'from=2026-10-01T00:00:00Z&to=2026-11-01T00:00:00Z';
const inOct = decisions.filter((d) => d.event.occurredAt >= '2026-10-01' && d.event.occurredAt < '2026-11-01');

beforeAll(async () => {
  const { database, chdbPath } = testStore('access');
  store = createStore({ url: infraEnv().clickhouseUrl, database, chdbPath });
  await migrate(store);
  await loadFixtures(store);
  api = await startTestApi({ store, now: () => new Date('2026-11-15T00:00:00Z') });
});
afterAll(async () => {
  await api?.close();
  await store?.client.command({ query: `DROP DATABASE IF EXISTS ${store.database}` }).catch(() => {});
  await store?.close();
});

async function get(role: Role, path: string, purpose = 'legal.compliance'): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${api.url}${path}`, {
    headers: { authorization: `Bearer ${TEST_KEYS[role].key}`, 'x-purpose': purpose },
  });
  const text = await res.text();
  return { status: res.status, body: text.startsWith('{') ? JSON.parse(text) : text };
}

/** Every `eventId` anywhere in a JSON answer. */
function eventIds(body: unknown, out = new Set<string>()): Set<string> {
  if (Array.isArray(body)) for (const x of body) eventIds(x, out);
  else if (body && typeof body === 'object') {
    for (const [k, v] of Object.entries(body)) {
      if (k === 'eventId' && typeof v === 'string') out.add(v);
      else eventIds(v, out);
    }
  }
  return out;
}

const byId = new Map(decisions.map((d) => [d.eventId, d]));

describe('the seeded rows', () => {
  it('hold every kind of row and a recipient type the bundle contradicts', () => {
    expect(new Set(inOct.map(kindOf))).toEqual(new Set(['access', 'sharing', 'disclosure']));
    expect(inOct.some((d) => d.reasons.some((r) => r.code === 'RECIPIENT_TYPE_MISMATCH'))).toBe(true);
    expect(inOct.some((d) => d.reasons.some((r) => r.code === 'LEGAL_DISCLOSURE'))).toBe(true);
    expect(inOct.some((d) => d.event.action === 'disclose' && d.outcome === 'deny')).toBe(true);
  });
});

describe('role × route', () => {
  for (const role of ROLES) {
    for (const r of ROUTES) {
      const path = SAMPLE_REQUESTS[r.id] as string;
      it(`${role} on ${r.id}: ${r.roles.includes(role) ? 'only the rows and fields of its kinds' : '403'}`, async () => {
        const { status, body } = await get(role, path);
        if (!r.roles.includes(role)) {
          expect(status).toBe(403);
          return;
        }
        expect(status, JSON.stringify(body)).toBe(200);
        for (const id of eventIds(body)) {
          const d = byId.get(id);
          if (!d) continue; // ids of other fixtures' shapes (none expected)
          expect(ROLE_DATA[role].rows, `${id} (${kindOf(d)}) in ${r.id}`).toContain(kindOf(d));
        }
        if (!ROLE_DATA[role].fields.includes('legalBasis')) expect(JSON.stringify(body)).not.toContain('"legalBasis"');
        if (!ROLE_DATA[role].fields.includes('recipient')) expect(JSON.stringify(body)).not.toContain('"recipient"');
      });
    }
  }

  it('the violations totals count only the rows a role may see', async () => {
    for (const role of ROLES) {
      const { body } = await get(role, `/v1/violations/summary?${OCT}`);
      const want = inOct.filter((d) => ROLE_DATA[role].rows.includes(kindOf(d))).length;
      expect((body as { totals: { total: number } }).totals.total, role).toBe(want);
    }
  });
});

describe('role × search filter', () => {
  type Filter = [string, (d: D) => boolean, 'byActor' | 'bySubject' | undefined];
  const filters: Filter[] = [
    ['', () => true, undefined],
    ['tenantId=spera', (d) => d.event.tenantId === 'spera', undefined],
    [`subjectId=${MIXED_SUBJECT}`, (d) => d.event.subject.id === MIXED_SUBJECT, 'bySubject'],
    ['actorId=s-dev', (d) => d.event.actor.id === 's-dev', 'byActor'],
    ['department=privacy', (d) => dir.department(d.event.actor.id) === 'privacy', 'byActor'],
    ['category=personal.identity', (d) => d.event.categories.includes('personal.identity'), undefined],
    ...(['read', 'share', 'export', 'disclose'] as const).map(
      (a): Filter => [`action=${a}`, (d) => d.event.action === a, undefined],
    ),
    ['purpose=legal.compliance', (d) => d.event.purpose === 'legal.compliance', undefined],
    ...(['allow', 'flag', 'deny'] as const).map((o): Filter => [`outcome=${o}`, (d) => d.outcome === o, undefined]),
    ...(['LEGAL_DISCLOSURE', 'DISCLOSURE_WITHOUT_LEGAL_BASIS', 'RECIPIENT_TYPE_MISMATCH', 'NO_AGREEMENT'] as const).map(
      (c): Filter => [`code=${c}`, (d) => d.reasons.some((r) => r.code === c), undefined],
    ),
    ['recipientId=a-kolkata-police', (d) => d.event.recipient?.id === 'a-kolkata-police', undefined],
    ['recipientId=p-helpdeskly', (d) => d.event.recipient?.id === 'p-helpdeskly', undefined],
    ...(['processor', 'third_party', 'authority'] as const).map(
      (t): Filter => [
        `recipientType=${t}`,
        (d) => !!d.event.recipient && dir.parties.get(d.event.recipient.id)?.type === t,
        undefined,
      ],
    ),
  ];
  for (const role of ROLES) {
    for (const [filter, match, selection] of filters) {
      const allowed = selection === undefined || ROLE_DATA[role].select.includes(selection);
      it(`${role} /v1/accesses?${filter || '(none)'}: ${allowed ? 'the matching rows of its kinds' : '403'}`, async () => {
        const { status, body } = await get(role, `/v1/accesses?${OCT}&limit=500${filter ? `&${filter}` : ''}`);
        if (!allowed) {
          expect(status).toBe(403);
          expect(JSON.stringify(body)).toContain(filter.split('=')[0] as string);
          return;
        }
        expect(status, JSON.stringify(body)).toBe(200);
        const want = inOct.filter((d) => match(d) && ROLE_DATA[role].rows.includes(kindOf(d))).map((d) => d.eventId);
        const items = (body as { items: { eventId: string }[] }).items;
        expect(items.map((i) => i.eventId).sort()).toEqual(want.sort());
      });
    }
  }
});

describe('the bundle decides a recipient type', () => {
  it('search shows the bundle’s type and the claimed one beside it', async () => {
    const { body } = await get('admin', `/v1/accesses?${OCT}&subjectId=${MIXED_SUBJECT}&limit=500`);
    const items = (body as { items: { recipient?: { id: string; type: string; claimedType?: string } }[] }).items;
    const police = items.filter((i) => i.recipient?.id === 'a-kolkata-police');
    expect(police.length).toBeGreaterThan(0);
    for (const i of police) expect(i.recipient?.type).toBe('authority');
    expect(police.some((i) => i.recipient?.claimedType === 'third_party')).toBe(true);
    const helpdesk = items.find((i) => i.recipient?.id === 'p-helpdeskly');
    expect(helpdesk?.recipient).toMatchObject({ type: 'processor', claimedType: 'authority' });
  });

  it('the subject-facing report leaves out exactly the LEGAL_DISCLOSURE rows', async () => {
    const mine = decisions.filter((d) => d.event.subject.id === MIXED_SUBJECT);
    const { status, body } = await get(
      'privacy_officer',
      `/v1/subjects/${MIXED_SUBJECT}/report?tenantId=spera&variant=subject`,
      'rights.request',
    );
    expect(status).toBe(200);
    const r = body as SubjectReport;
    const want = mine.filter((d) => !d.reasons.some((x) => x.code === 'LEGAL_DISCLOSURE')).map((d) => d.eventId);
    expect(r.accesses.map((a) => a.eventId).sort()).toEqual(want.sort());
    expect(r.summary.total).toBe(want.length);
    // the denied disclosure to the ad exchange (for sale) is shown, as what the bundle says it is
    const adx = mine.find((d) => d.event.action === 'disclose' && d.event.recipient?.id === 't-adnexus') as D;
    expect(r.accesses.map((a) => a.eventId)).toContain(adx.eventId);
    const shared = Object.fromEntries(r.sharedWith.map((s) => [s.party.id, s.party.type]));
    expect(shared).toMatchObject({ 'a-kolkata-police': 'authority', 'p-helpdeskly': 'processor', 't-adnexus': 'third_party' });
  });

  it('the full report lists every disclosure and share with an authority, typed by the bundle', async () => {
    const { body } = await get('privacy_officer', `/v1/subjects/${MIXED_SUBJECT}/report?tenantId=spera`, 'rights.request');
    const r = body as SubjectReport;
    const want = decisions
      .filter((d) => d.event.subject.id === MIXED_SUBJECT && kindOf(d) === 'disclosure')
      .map((d) => d.eventId);
    expect((r.disclosures ?? []).map((x) => x.eventId).sort()).toEqual(want.sort());
    expect(r.accesses).toHaveLength(decisions.filter((d) => d.event.subject.id === MIXED_SUBJECT).length);
  });
});

describe('query limits', () => {
  it('a query that would read or hold too much is a 422, not a 500', async () => {
    const { AuditDb } = await import('./db.js');
    const { searchAccesses } = await import('./queries.js');
    const range = { from: new Date('2026-01-01T00:00:00Z'), to: new Date('2027-01-01T00:00:00Z') };
    for (const limits of [{ maxBytesRead: 1 }, { maxMemoryBytes: 1 }]) {
      const db = new AuditDb(store, { timeoutS: 30, maxRows: 1000, ...limits });
      await expect(searchAccesses(db, dir, '*', range, { limit: 10 })).rejects.toMatchObject({ status: 422 });
    }
  });
});

describe('the watchers are watched', () => {
  const headers = (extra: Record<string, string> = {}) => ({
    authorization: `Bearer ${TEST_KEYS.admin.key}`,
    'x-purpose': 'security',
    ...extra,
  });

  it('the server’s request id, the client’s kept beside it; many-subject reads with their count and filter', async () => {
    const before = api.recorder.events.length;
    const res = await fetch(`${api.url}/v1/accesses?${OCT}&limit=500&outcome=deny`, {
      headers: headers({ 'x-request-id': 'client-chosen-1' }),
    });
    expect(res.status).toBe(200);
    const page = (await res.json()) as { items: { tenantId: string; subject: { id: string } }[] };
    const id = res.headers.get('x-request-id');
    expect(id).not.toBe('client-chosen-1');
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    const [e] = api.recorder.events.slice(before);
    expect(e?.source?.requestId).toBe(id);
    expect(e?.attributes).toMatchObject({
      clientRequestId: 'client-chosen-1',
      filters: 'outcome=deny',
      subjects: String(new Set(page.items.map((i) => `${i.tenantId}/${i.subject.id}`)).size),
    });
    expect(e?.subject.id).toBe('*');
  });

  it('an all-tenant read of one subject is recorded under each tenant it touched', async () => {
    const { toRow } = await import('@custos/store');
    const { insertRows } = await import('./testing/index.js');
    const d = decisions.find((x) => x.event.subject.id === MIXED_SUBJECT && x.event.action === 'read') as D;
    const elsewhere = {
      ...d,
      eventId: '00000000-0000-7000-8000-00000000beef',
      event: { ...d.event, eventId: '00000000-0000-7000-8000-00000000beef', tenantId: 'client-acme' },
    };
    await insertRows(store, [toRow(elsewhere, 0, '9999')]);
    const before = api.recorder.events.length;
    const res = await fetch(`${api.url}/v1/accesses?${OCT}&subjectId=${MIXED_SUBJECT}`, { headers: headers() });
    expect(res.status).toBe(200);
    const recorded = api.recorder.events.slice(before);
    expect(recorded.map((e) => e.tenantId)).toEqual(['client-acme', 'spera']);
    for (const e of recorded) expect(e.subject).toEqual({ id: MIXED_SUBJECT, type: 'customer' });
    // a subject no tenant holds touched nothing: recorded under the credential's scope
    const before2 = api.recorder.events.length;
    await fetch(`${api.url}/v1/accesses?${OCT}&subjectId=nobody-at-all`, { headers: headers() });
    expect(api.recorder.events.slice(before2).map((e) => e.tenantId)).toEqual(['*']);
  });
});
