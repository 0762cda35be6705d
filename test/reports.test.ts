/**
 * Reports that are right and access that is least-privilege, through the real pipeline: SDK →
 * Kafka (Avro via the registry) → enforcer process → decisions → sink+API process → ClickHouse →
 * the API. Seeded accesses of every kind for one subject (lawful and unlawful disclosures, shares
 * with processors, third parties and authorities, recipients whose claimed type the bundle
 * contradicts). The subject-facing report leaves out exactly the LEGAL_DISCLOSURE rows; the
 * mismatch is visible in the decision; a security analyst cannot reach disclosures through search;
 * a leaver's key is refused; an all-tenant read of the subject lands in the subject's own report.
 */
import { randomUUID } from 'node:crypto';
import { type AccessEventInput, createAuditClient, uuidv7 } from '@custos/sdk';
import { ProcessPipeline } from '@custos/test/pipeline';
import { waitFor } from '@custos/test/support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const KEYS = {
  admin: { id: 'r-admin', key: `adm-${randomUUID()}`, staffId: 's-kavya', role: 'admin', tenants: ['*'] },
  dpo: { id: 'r-dpo', key: `dpo-${randomUUID()}`, staffId: 's-dev', role: 'privacy_officer', tenants: ['*'] },
  analyst: { id: 'r-sec', key: `sec-${randomUUID()}`, staffId: 's-kavya', role: 'security_analyst', tenants: ['*'] },
  leaver: { id: 'r-left', key: `left-${randomUUID()}`, staffId: 's-left', role: 'auditor', tenants: ['*'] },
} as const;

interface Item {
  eventId: string;
  purpose: string;
  tenantId: string;
  outcome: string;
  reasons: { code: string; message: string }[];
  actor: { id: string };
  categories: string[];
  recipient?: { id: string; type: string; claimedType?: string };
}

describe('reports and access through real processes', () => {
  const pipeline = new ProcessPipeline({ label: 'reports', apiKeys: Object.values(KEYS) });
  const subjectId = `cust-${randomUUID().slice(0, 8)}`;
  const base = { tenantId: 'spera', subject: { id: subjectId, type: 'customer' as const } };
  const events: (AccessEventInput & { eventId: string })[] = [
    {
      ...base,
      eventId: uuidv7(),
      actor: { id: 's-dev', type: 'staff' },
      categories: ['personal.identity'],
      action: 'disclose',
      purpose: 'legal.compliance',
      recipient: { id: 'a-kolkata-police', type: 'third_party' },
      legalBasis: 'court-order:KOL-2026-0099',
    },
    {
      ...base,
      eventId: uuidv7(),
      actor: { id: 's-dev', type: 'staff' },
      categories: ['personal.identity'],
      action: 'disclose',
      purpose: 'legal.compliance',
      recipient: { id: 'a-kolkata-police', type: 'authority' },
      legalBasis: 'court-order:KOL-2026-0100',
    },
    {
      ...base,
      eventId: uuidv7(),
      actor: { id: 's-priya', type: 'staff' },
      categories: ['personal.contact'],
      action: 'disclose',
      purpose: 'sale',
      recipient: { id: 't-adnexus', type: 'authority' },
      legalBasis: 'contract:ADX-9',
    },
    {
      ...base,
      eventId: uuidv7(),
      actor: { id: 's-dev', type: 'staff' },
      categories: ['personal.identity'],
      action: 'share',
      purpose: 'legal.compliance',
      recipient: { id: 'a-kolkata-police', type: 'third_party' },
    },
    {
      ...base,
      eventId: uuidv7(),
      actor: { id: 's-asha', type: 'staff' },
      categories: ['personal.contact'],
      action: 'share',
      purpose: 'service.support',
      recipient: { id: 'p-helpdeskly', type: 'authority' },
    },
    {
      ...base,
      eventId: uuidv7(),
      actor: { id: 's-priya', type: 'staff' },
      categories: ['personal.contact'],
      action: 'share',
      purpose: 'communication.promotional',
      recipient: { id: 't-adnexus', type: 'third_party' },
    },
    {
      ...base,
      eventId: uuidv7(),
      actor: { id: 'p-postbird', type: 'processor' },
      categories: ['personal.contact'],
      action: 'read',
      purpose: 'communication.notices',
    },
    {
      ...base,
      eventId: uuidv7(),
      actor: { id: 's-asha', type: 'staff' },
      categories: ['personal.contact'],
      action: 'read',
      purpose: 'service.support',
    },
  ];

  const get = (key: keyof typeof KEYS, path: string, purpose = 'legal.compliance') =>
    fetch(`${pipeline.apiUrl}${path}`, { headers: { authorization: `Bearer ${KEYS[key].key}`, 'x-purpose': purpose } });

  beforeAll(async () => {
    await pipeline.up();
    const client = createAuditClient(pipeline.clientOptions('reports-e2e'));
    for (const e of events) client.record(e);
    expect(await client.close()).toMatchObject({ delivered: true, unsent: 0 });
  });

  afterAll(() => pipeline.down());

  it('every access is judged and stored, with the bundle’s recipient types and the contradicting claims visible', async () => {
    const items = await waitFor(
      async () => {
        const res = await get('admin', `/v1/accesses?tenantId=spera&subjectId=${subjectId}&limit=500`, 'security');
        if (!res.ok) throw new Error(`API answered ${res.status}: ${await res.text()}`);
        const body = (await res.json()) as { items: Item[] };
        return events.every((e) => body.items.some((i) => i.eventId === e.eventId)) ? body.items : undefined;
      },
      { what: 'the decisions in the API', timeoutMs: 120_000, everyMs: 500, retryErrors: true, detail: pipeline.logs },
    );
    const by = new Map(items.map((i) => [i.eventId, i]));
    const codes = (n: number) => by.get(events[n]?.eventId as string)?.reasons.map((r) => r.code);
    expect(by.get(events[0]?.eventId as string)?.outcome).toBe('flag');
    expect(codes(0)).toEqual(['LEGAL_DISCLOSURE', 'RECIPIENT_TYPE_MISMATCH']);
    expect(by.get(events[0]?.eventId as string)?.recipient).toMatchObject({ type: 'authority', claimedType: 'third_party' });
    expect(codes(1)).toEqual(['LEGAL_DISCLOSURE']);
    expect(by.get(events[2]?.eventId as string)?.outcome).toBe('deny');
    expect(codes(2)).toContain('DISCLOSURE_WITHOUT_LEGAL_BASIS');
    expect(codes(2)).toContain('RECIPIENT_TYPE_MISMATCH');
    expect(by.get(events[4]?.eventId as string)).toMatchObject({
      outcome: 'allow',
      recipient: { type: 'processor', claimedType: 'authority' },
    });
  });

  it('the subject-facing report leaves out exactly the lawful disclosures to authorities', async () => {
    const res = await get('dpo', `/v1/subjects/${subjectId}/report?tenantId=spera&variant=subject`, 'rights.request');
    expect(res.status).toBe(200);
    const r = (await res.json()) as { accesses: Item[]; sharedWith: { party: { id: string; type: string } }[] };
    const shown = new Set(r.accesses.map((a) => a.eventId));
    // the report's own audit trail entries (category audit.trail) may be there too; the seeded ones:
    const seeded = events.map((e) => e.eventId).filter((id) => shown.has(id));
    expect(seeded.sort()).toEqual(
      events
        .slice(2)
        .map((e) => e.eventId)
        .sort(),
    );
    expect(Object.fromEntries(r.sharedWith.map((s) => [s.party.id, s.party.type]))).toMatchObject({
      'a-kolkata-police': 'authority',
      'p-helpdeskly': 'processor',
      't-adnexus': 'third_party',
    });
  });

  it('a security analyst cannot reach disclosures or shares through search; a leaver is refused', async () => {
    const res = await get('analyst', `/v1/accesses?tenantId=spera&action=disclose`, 'security');
    expect(res.status).toBe(200);
    expect(((await res.json()) as { items: Item[] }).items).toEqual([]);
    expect((await get('analyst', `/v1/disclosures`, 'security')).status).toBe(403);
    expect((await get('analyst', `/v1/accesses?subjectId=${subjectId}`, 'security')).status).toBe(403);
    expect((await get('leaver', '/v1/accesses', 'legal.compliance')).status).toBe(401);
  });

  it('an all-tenant read of the subject shows in the subject’s own report', async () => {
    // the only read by s-kavya for legal.compliance: no tenantId, so it spans every tenant
    const res = await get('admin', `/v1/accesses?subjectId=${subjectId}`, 'legal.compliance');
    expect(res.status).toBe(200);
    const reqId = res.headers.get('x-request-id');
    await waitFor(
      async () => {
        const r = await get('dpo', `/v1/subjects/${subjectId}/report?tenantId=spera`, 'rights.request');
        const body = (await r.json()) as { accesses: Item[] };
        const reads = body.accesses.filter(
          (a) => a.categories.includes('audit.trail') && a.actor.id === 's-kavya' && a.purpose === 'legal.compliance',
        );
        return reads.length > 0 ? reads : undefined;
      },
      { what: 'the read in the subject report', timeoutMs: 120_000, everyMs: 500, retryErrors: true, detail: pipeline.logs },
    );
    expect(reqId).toMatch(/^[0-9a-f-]{36}$/);
  });
});
