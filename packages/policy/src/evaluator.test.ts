import { parseAccessEvent, parseSubjectStateChange, type SubjectStateChange } from '@custos/schemas';
import { specFixtures } from '@custos/test/fixtures';
import { describe, expect, it } from 'vitest';
import { BulkWindow } from './bulk-window.js';
import type { PolicyBundle } from './bundle-schema.js';
import { compileBundle, type Judgement } from './evaluator.js';
import { SubjectStateStore } from './subject-state.js';
import { event, readNdjson, referenceBundle } from './test-helpers.js';

const bundle = referenceBundle();
const evaluator = compileBundle(bundle);

let changeNo = 0;
function change(
  subjectId: string,
  kind: SubjectStateChange['change'],
  occurredAt: string,
  tenantId = 'spera',
): SubjectStateChange {
  changeNo++;
  const r = parseSubjectStateChange({
    eventId: `00000000-0000-7000-9000-${String(changeNo).padStart(12, '0')}`,
    occurredAt,
    tenantId,
    subjectId,
    change: kind,
  });
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return r.value;
}

function judge(
  overrides: Record<string, unknown>,
  changes: SubjectStateChange[] = [],
  bulk = evaluator.createBulkWindow(),
): Judgement {
  const subjectState = new SubjectStateStore();
  for (const c of changes) subjectState.apply(c);
  return evaluator.evaluate(event(overrides), { subjectState, bulk });
}

const codes = (j: Judgement) => j.reasons.map((r) => r.code);

describe('the reference cases (test/fixtures/spec)', () => {
  it('reproduces expected.ndjson in outcome and codes', () => {
    const events = readNdjson(specFixtures.events);
    const expected = readNdjson(specFixtures.expected) as Array<{
      eventId: string;
      outcome: string;
      codes: string[];
    }>;
    const subjectState = new SubjectStateStore();
    for (const raw of readNdjson(specFixtures.state)) {
      const r = parseSubjectStateChange(raw);
      if (!r.ok) throw new Error(JSON.stringify(r.errors));
      subjectState.apply(r.value);
    }
    const bulk = evaluator.createBulkWindow();
    const got = events.map((raw) => {
      const r = parseAccessEvent(raw);
      if (!r.ok) return { eventId: (raw as { eventId: string }).eventId, outcome: 'invalid', codes: [] };
      const j = evaluator.evaluate(r.value, { subjectState, bulk });
      return { eventId: r.value.eventId, outcome: j.outcome, codes: codes(j) };
    });
    expect(got).toEqual(expected);
  });

  it('explains a missing grant by naming the grants the role does hold', () => {
    const j = judge({ categories: ['client.financial'] });
    expect(j.reasons[0]?.message).toBe(
      'Asha Rao (s-asha) holds no grant to read client.financial: support_agent grants G-SUP-1 cover personal.identity, personal.contact, client.customer',
    );
  });

  it('gives the version with a content hash', () => {
    expect(evaluator.policyVersion).toMatch(/^spera-2026\.11\.1\+sha256:[0-9a-f]{12}$/);
    expect(judge({}).policyVersion).toBe(evaluator.policyVersion);
  });
});

describe('basis', () => {
  it('lists the grant of an allowed read', () => {
    expect(judge({})).toMatchObject({ outcome: 'allow', reasons: [], basis: ['G-SUP-1'] });
  });
  it('lists grant and agreement of an allowed share', () => {
    const j = judge({
      action: 'share',
      categories: ['personal.contact', 'client.customer'],
      recipient: { id: 'p-helpdeskly', type: 'processor' },
    });
    expect(j).toMatchObject({ outcome: 'allow', basis: ['G-SUP-2', 'AG-HELPDESKLY-2024'] });
  });
  it('lists the agreement of a processor', () => {
    const j = judge({
      actor: { id: 'p-ledgerpay', type: 'processor' },
      categories: ['client.financial'],
      purpose: 'service.transactions',
    });
    expect(j).toMatchObject({ outcome: 'allow', basis: ['AG-LEDGERPAY-2023'] });
  });
  it('is empty when denied and kept when flagged', () => {
    expect(judge({ categories: ['client.financial'] }).basis).toEqual([]);
    expect(judge({ recordCount: 501 })).toMatchObject({ outcome: 'flag', basis: ['G-SUP-1'] });
  });
});

describe('role periods (whole UTC days)', () => {
  const vikram = (occurredAt: string, categories: string[], purpose: string) =>
    codes(judge({ actor: { id: 's-vikram', type: 'staff' }, occurredAt, categories, purpose }));

  it('holds a role through 23:59:59.999Z of its `to` day, not at 00:00 the next day', () => {
    expect(vikram('2026-06-30T23:59:59.999Z', ['personal.contact'], 'service.support')).toEqual([]);
    expect(vikram('2026-07-01T00:00:00.000Z', ['personal.contact'], 'service.support')).toEqual(['ROLE_NOT_AUTHORIZED']);
  });
  it('holds a role from 00:00:00Z of its `from` day', () => {
    expect(vikram('2026-06-30T23:59:59.999Z', ['client.transaction'], 'service.transactions')).toEqual(['ROLE_NOT_AUTHORIZED']);
    expect(vikram('2026-07-01T00:00:00.000Z', ['client.transaction'], 'service.transactions')).toEqual([]);
  });
  it('on the day of a role change, judges by the role held at that instant', () => {
    expect(vikram('2026-07-01T12:00:00Z', ['client.transaction'], 'service.transactions')).toEqual([]);
    expect(vikram('2026-07-01T12:00:00Z', ['personal.contact'], 'service.support')).toEqual(['ROLE_NOT_AUTHORIZED']);
    expect(vikram('2026-06-30T12:00:00Z', ['personal.contact'], 'service.support')).toEqual([]);
  });
  it('denies a leaver after the last day and says why', () => {
    const left = (occurredAt: string) => judge({ actor: { id: 's-left', type: 'staff' }, occurredAt });
    expect(codes(left('2025-03-31T23:59:59.999Z'))).toEqual([]);
    const j = left('2025-04-01T00:00:00.000Z');
    expect(codes(j)).toEqual(['ROLE_NOT_AUTHORIZED']);
    expect(j.reasons[0]?.message).toContain('holds no role on 2025-04-01');
    expect(j.reasons[0]?.message).toContain('support_agent 2022-01-01 to 2025-03-31');
  });
  it('denies staff with no roles', () => {
    expect(codes(judge({ actor: { id: 's-intern', type: 'staff' } }))).toEqual(['ROLE_NOT_AUTHORIZED']);
  });
});

describe('actors, categories, purposes, tenants', () => {
  it('denies unknown staff and non-processor parties acting as processors, without other actor rules', () => {
    expect(codes(judge({ actor: { id: 's-ghost', type: 'staff' }, recordCount: 9999 }))).toEqual(['UNKNOWN_ACTOR']);
    expect(codes(judge({ actor: { id: 't-adnexus', type: 'processor' } }))).toEqual(['UNKNOWN_ACTOR']);
    expect(codes(judge({ actor: { id: 'p-postbird', type: 'staff' } }))).toEqual(['UNKNOWN_ACTOR']);
    expect(codes(judge({ actor: { id: 's-asha', type: 'processor' } }))).toEqual(['UNKNOWN_ACTOR']);
  });
  it('denies an unknown category; "*" grants cover any category', () => {
    expect(codes(judge({ categories: ['personal.shoe_size'] }))).toEqual(['ROLE_NOT_AUTHORIZED', 'UNKNOWN_CATEGORY']);
    const dev = { actor: { id: 's-dev', type: 'staff' }, purpose: 'rights.request' };
    expect(codes(judge({ ...dev, categories: ['personal.shoe_size'] }))).toEqual(['UNKNOWN_CATEGORY']);
    expect(judge({ ...dev, categories: ['client.financial', 'audit.trail'] })).toMatchObject({
      outcome: 'allow',
      basis: ['G-DPO-1'],
    });
  });
  it('denies an unknown purpose (and no grant lists it)', () => {
    expect(codes(judge({ purpose: 'fun' }))).toEqual(['PURPOSE_NOT_PERMITTED', 'UNKNOWN_PURPOSE']);
  });
  it('denies prohibited purposes', () => {
    expect(codes(judge({ purpose: 'sale' }))).toEqual(['PROHIBITED_PURPOSE', 'PURPOSE_NOT_PERMITTED']);
  });
  it('checks tenants; "*" means every tenant', () => {
    expect(codes(judge({ tenantId: 'client-whatever' }))).toEqual([]);
    const priya = { actor: { id: 's-priya', type: 'staff' }, purpose: 'communication.notices' };
    expect(codes(judge({ ...priya, tenantId: 'spera' }))).toEqual([]);
    const j = judge({ ...priya, tenantId: 'client-acme' });
    expect(codes(j)).toEqual(['TENANT_NOT_ASSIGNED']);
    expect(j.reasons[0]?.message).toBe('Priya Nair (s-priya) is not assigned to tenant client-acme (assigned: spera)');
  });
  it('needs a grant for every category', () => {
    expect(codes(judge({ categories: ['personal.contact', 'client.financial'] }))).toEqual(['ROLE_NOT_AUTHORIZED']);
  });
  it('needs a single grant listing action, category and purpose', () => {
    const b: PolicyBundle = structuredClone(bundle);
    b.roles.support_agent = [
      { id: 'G-A', actions: ['read'], categories: ['personal.contact'], purposes: ['service.support'] },
      { id: 'G-B', actions: ['read'], categories: ['client.customer'], purposes: ['service.delivery'] },
      { id: 'G-C', actions: ['update'], categories: ['client.customer'], purposes: ['service.support'] },
    ];
    const ev = compileBundle(b);
    const run = (categories: string[]) =>
      ev.evaluate(event({ categories }), { subjectState: new SubjectStateStore(), bulk: ev.createBulkWindow() });
    expect(codes(run(['personal.contact', 'client.customer']))).toEqual(['PURPOSE_NOT_PERMITTED']);
    expect(run(['personal.contact', 'client.customer']).reasons[0]?.message).toBe(
      'Asha Rao (s-asha) may not read client.customer for service.support: support_agent grant G-B allows only service.delivery',
    );
    expect(codes(run(['personal.contact']))).toEqual([]);
  });
});

describe('agreements', () => {
  const arjunShare = (occurredAt: string) =>
    judge({
      actor: { id: 's-arjun', type: 'staff' },
      occurredAt,
      categories: ['usage.activity'],
      action: 'share',
      purpose: 'improvement.analytics',
      recipient: { id: 'p-metricly', type: 'processor' },
    });
  it('is in force through the end of its `to` day', () => {
    expect(arjunShare('2025-12-31T23:59:59.999Z')).toMatchObject({ outcome: 'allow', basis: ['G-ANA-1', 'AG-METRICLY-2025'] });
    const j = arjunShare('2026-01-01T00:00:00.000Z');
    expect(codes(j)).toEqual(['AGREEMENT_EXPIRED']);
    expect(j.reasons[0]?.message).toContain('AG-METRICLY-2025 is in force 2025-01-01 to 2025-12-31');
  });
  it('is in force from 00:00Z of its `from` day (processor acting)', () => {
    const metricly = (occurredAt: string) =>
      codes(
        judge({
          actor: { id: 'p-metricly', type: 'processor' },
          occurredAt,
          categories: ['usage.device'],
          purpose: 'improvement.analytics',
        }),
      );
    expect(metricly('2024-12-31T23:59:59.999Z')).toEqual(['AGREEMENT_EXPIRED']);
    expect(metricly('2025-01-01T00:00:00.000Z')).toEqual([]);
  });
  it('needs one agreement listing every category and the purpose', () => {
    const helpdesk = (categories: string[], purpose = 'service.support') =>
      codes(judge({ action: 'share', categories, purpose, recipient: { id: 'p-helpdeskly', type: 'processor' } }));
    expect(helpdesk(['personal.contact', 'client.customer'])).toEqual([]);
    expect(helpdesk(['personal.contact', 'client.financial'])).toEqual(['NO_AGREEMENT', 'ROLE_NOT_AUTHORIZED']);
    const shareBoth = () =>
      judge({
        action: 'share',
        categories: ['personal.contact', 'client.financial'],
        purpose: 'service.support',
        recipient: { id: 'p-helpdeskly', type: 'processor' },
      });
    const j = shareBoth();
    expect(j.reasons.find((r) => r.code === 'NO_AGREEMENT')?.message).toBe(
      'Sharing with Helpdeskly (p-helpdeskly, processor) needs an agreement covering personal.contact, client.financial for service.support; its agreements: AG-HELPDESKLY-2024 (personal.identity, personal.contact, client.customer for service.support, 2024-03-01 to 2027-02-28)',
    );
    // the agreements' text is made once per party: the same the second time
    expect(shareBoth().reasons).toEqual(j.reasons);
  });
  it('denies sharing with a third party or an unknown recipient', () => {
    const share = (id: string) => codes(judge({ action: 'share', recipient: { id, type: 'third_party' } }));
    expect(share('t-adnexus')).toEqual(['NO_AGREEMENT']);
    expect(share('p-nobody')).toEqual(['NO_AGREEMENT', 'UNKNOWN_RECIPIENT']);
  });
  it('checks recipients of exports; an export without recipient needs only the grant', () => {
    const kavya = { actor: { id: 's-kavya', type: 'staff' }, categories: ['audit.trail'], action: 'export', purpose: 'security' };
    expect(codes(judge(kavya))).toEqual([]);
    expect(codes(judge({ ...kavya, recipient: { id: 't-adnexus', type: 'third_party' } }))).toEqual(['NO_AGREEMENT']);
  });
  it('forbids processors to export, share or disclose', () => {
    const p = { actor: { id: 'p-postbird', type: 'processor' }, purpose: 'communication.notices' };
    expect(codes(judge({ ...p, action: 'export' }))).toEqual(['ROLE_NOT_AUTHORIZED']);
    expect(codes(judge({ ...p, action: 'share', recipient: { id: 'p-postbird', type: 'processor' } }))).toEqual([
      'ROLE_NOT_AUTHORIZED',
    ]);
    expect(codes(judge({ ...p, action: 'share', recipient: { id: 't-adnexus', type: 'third_party' } }))).toEqual([
      'NO_AGREEMENT',
      'ROLE_NOT_AUTHORIZED',
    ]);
    expect(
      codes(
        judge({
          ...p,
          action: 'disclose',
          purpose: 'legal.compliance',
          legalBasis: 'court-order:1',
          recipient: { id: 'a-kolkata-police', type: 'authority' },
        }),
      ),
    ).toEqual(['ROLE_NOT_AUTHORIZED']);
    expect(codes(judge({ ...p, action: 'delete' }))).toEqual([]);
  });
});

describe('disclosure', () => {
  const dev = {
    actor: { id: 's-dev', type: 'staff' },
    categories: ['personal.identity'],
    action: 'disclose',
    purpose: 'legal.compliance',
  };
  it('flags a lawful disclosure to an authority', () => {
    const j = judge({ ...dev, legalBasis: 'court-order:X', recipient: { id: 'a-kolkata-police', type: 'authority' } });
    expect(j).toMatchObject({ outcome: 'flag', basis: ['G-DPO-2'] });
    expect(codes(j)).toEqual(['LEGAL_DISCLOSURE']);
  });
  it('denies a blank legal basis', () => {
    expect(codes(judge({ ...dev, legalBasis: '   ', recipient: { id: 'a-kolkata-police', type: 'authority' } }))).toEqual([
      'DISCLOSURE_WITHOUT_LEGAL_BASIS',
    ]);
  });
  it('denies disclosure to a party that is not an authority, whatever type the event claims', () => {
    const j = judge({ ...dev, legalBasis: 'court-order:X', recipient: { id: 't-adnexus', type: 'authority' } });
    expect(codes(j)).toEqual(['DISCLOSURE_WITHOUT_LEGAL_BASIS', 'RECIPIENT_TYPE_MISMATCH']);
    expect(j.reasons[0]?.message).toContain('is a third_party, not an authority');
    expect(j.reasons[1]?.message).toContain('has type third_party in the policy, but the event claims authority');
    expect(codes(judge({ ...dev, legalBasis: 'x', recipient: { id: 'a-nobody', type: 'authority' } }))).toEqual([
      'DISCLOSURE_WITHOUT_LEGAL_BASIS',
      'UNKNOWN_RECIPIENT',
    ]);
  });
  it('does not flag when a deny fired', () => {
    expect(
      codes(
        judge({
          ...dev,
          actor: { id: 's-asha', type: 'staff' },
          legalBasis: 'x',
          recipient: { id: 'a-kolkata-police', type: 'authority' },
        }),
      ),
    ).toEqual(['ROLE_NOT_AUTHORIZED']);
  });
});

describe('retention', () => {
  // usage.network is kept 180 days: 2025-06-01 + 180 d = 2025-11-28T00:00:00.000Z
  const neha = (occurredAt: string, action = 'read') =>
    codes(
      judge({
        actor: { id: 's-neha', type: 'staff' },
        occurredAt,
        categories: ['usage.network'],
        purpose: 'service.delivery',
        action,
        dataCollectedAt: '2025-06-01T00:00:00Z',
      }),
    );
  it('fires only strictly after collected + days × 86 400 s', () => {
    expect(neha('2025-11-28T00:00:00.000Z')).toEqual([]);
    expect(neha('2025-11-28T00:00:00.001Z')).toEqual(['RETENTION_EXPIRED']);
  });
  it('never fires for delete', () => {
    expect(
      codes(
        judge({
          actor: { id: 's-dev', type: 'staff' },
          categories: ['usage.network'],
          action: 'delete',
          purpose: 'rights.request',
          dataCollectedAt: '2020-01-01T00:00:00Z',
        }),
      ),
    ).toEqual([]);
  });
  it('uses the shortest retention among the categories', () => {
    const j = judge({
      actor: { id: 's-dev', type: 'staff' },
      occurredAt: '2026-01-01T00:00:00Z',
      categories: ['usage.network', 'client.financial'],
      purpose: 'rights.request',
      dataCollectedAt: '2025-06-01T00:00:00Z',
    });
    expect(codes(j)).toEqual(['RETENTION_EXPIRED']);
    expect(j.reasons[0]?.message).toContain('usage.network is kept 180 days, until 2025-11-28T00:00:00.000Z');
  });
});

describe('subject state', () => {
  const priya = (occurredAt: string, changes: SubjectStateChange[]) =>
    codes(judge({ actor: { id: 's-priya', type: 'staff' }, occurredAt, purpose: 'communication.promotional' }, changes));
  it('honours an opt-out from its instant until a later opt-in', () => {
    const changes = [
      change('cust-1', 'promotional_opt_out', '2026-03-01T00:00:00Z'),
      change('cust-1', 'promotional_opt_in', '2026-03-10T00:00:00Z'),
    ];
    expect(priya('2026-02-28T23:59:59.999Z', changes)).toEqual([]);
    expect(priya('2026-03-01T00:00:00.000Z', changes)).toEqual(['PROMOTIONAL_OPT_OUT']);
    expect(priya('2026-03-09T23:59:59.999Z', changes)).toEqual(['PROMOTIONAL_OPT_OUT']);
    expect(priya('2026-03-10T00:00:00.000Z', changes)).toEqual([]);
  });
  it('applies only to the promotional purpose and the same tenant', () => {
    const changes = [change('cust-1', 'promotional_opt_out', '2026-03-01T00:00:00Z')];
    expect(codes(judge({ actor: { id: 's-priya', type: 'staff' }, purpose: 'communication.notices' }, changes))).toEqual([]);
    expect(
      priya('2026-03-02T00:00:00Z', [change('cust-1', 'promotional_opt_out', '2026-03-01T00:00:00Z', 'client-acme')]),
    ).toEqual([]);
  });
  it('breaks same-instant ties by arrival order', () => {
    const out = change('cust-1', 'promotional_opt_out', '2026-03-01T00:00:00Z');
    const back = change('cust-1', 'promotional_opt_in', '2026-03-01T00:00:00Z');
    expect(priya('2026-03-01T00:00:00Z', [out, back])).toEqual([]);
    expect(priya('2026-03-01T00:00:00Z', [back, out])).toEqual(['PROMOTIONAL_OPT_OUT']);
  });
  it('denies access from the instant of erasure, except delete', () => {
    const erased = [change('cust-1', 'erasure_completed', '2026-03-02T10:00:00Z')];
    expect(codes(judge({ occurredAt: '2026-03-02T09:59:59.999Z' }, erased))).toEqual([]);
    expect(codes(judge({ occurredAt: '2026-03-02T10:00:00.000Z' }, erased))).toEqual(['SUBJECT_ERASED']);
    const del = {
      actor: { id: 's-dev', type: 'staff' },
      action: 'delete',
      purpose: 'rights.request',
      occurredAt: '2026-03-03T00:00:00Z',
    };
    expect(codes(judge(del, erased))).toEqual([]);
  });
  it('lets legal.compliance through while a legal hold is in force', () => {
    const changes = [
      change('cust-1', 'legal_hold_placed', '2026-01-05T00:00:00Z'),
      change('cust-1', 'erasure_completed', '2026-01-10T00:00:00Z'),
      change('cust-1', 'legal_hold_released', '2026-02-01T00:00:00Z'),
    ];
    const dev = (occurredAt: string, purpose = 'legal.compliance') =>
      codes(judge({ actor: { id: 's-dev', type: 'staff' }, occurredAt, purpose }, changes));
    expect(dev('2026-01-31T23:59:59.999Z')).toEqual([]);
    expect(dev('2026-01-31T23:59:59.999Z', 'rights.request')).toEqual(['SUBJECT_ERASED']);
    expect(dev('2026-02-01T00:00:00.000Z')).toEqual(['SUBJECT_ERASED']);
    // a hold placed again later counts from its own instant
    const again = [...changes, change('cust-1', 'legal_hold_placed', '2026-03-01T00:00:00Z')];
    const j = (t: string) =>
      codes(judge({ actor: { id: 's-dev', type: 'staff' }, occurredAt: t, purpose: 'legal.compliance' }, again));
    expect(j('2026-02-28T23:59:59.999Z')).toEqual(['SUBJECT_ERASED']);
    expect(j('2026-03-01T00:00:00.000Z')).toEqual([]);
  });
  it('judges out-of-order events by the state at their own time', () => {
    const changes = [
      change('cust-1', 'promotional_opt_in', '2026-04-01T00:00:00Z'),
      change('cust-1', 'promotional_opt_out', '2026-03-01T00:00:00Z'),
    ];
    expect(priya('2026-03-15T00:00:00Z', changes)).toEqual(['PROMOTIONAL_OPT_OUT']);
    expect(priya('2026-04-15T00:00:00Z', changes)).toEqual([]);
  });
});

describe('bulk access', () => {
  const T = Date.parse('2026-03-02T10:00:00Z');
  const read = (bulk: BulkWindow, t: number, subject: string, extra: Record<string, unknown> = {}) =>
    judge({ occurredAt: new Date(t).toISOString(), subject: { id: subject, type: 'customer' }, ...extra }, [], bulk);

  it('flags more than recordsPerEvent records in one event: 500 no, 501 yes', () => {
    expect(codes(judge({ recordCount: 500 }))).toEqual([]);
    const j = judge({ recordCount: 501 });
    expect(codes(j)).toEqual(['BULK_ACCESS']);
    expect(j.reasons[0]?.message).toBe('Asha Rao (s-asha) touched 501 records in one event (limit 500)');
  });
  it('flags the 201st distinct subject in the window, not the 200th', () => {
    const bulk = evaluator.createBulkWindow();
    for (let i = 1; i < 200; i++) expect(read(bulk, T + i, `c-${i}`).outcome).toBe('allow');
    expect(read(bulk, T + 200, 'c-200').outcome).toBe('allow');
    expect(read(bulk, T + 201, 'c-1').outcome).toBe('allow'); // repeat subject: still 200
    const j = read(bulk, T + 202, 'c-201');
    expect(codes(j)).toEqual(['BULK_ACCESS']);
    expect(j.reasons[0]?.message).toBe(
      'Asha Rao (s-asha) touched more than 200 distinct subjects within 600 s up to 2026-03-02T10:00:00.202Z',
    );
    const both = read(bulk, T + 203, 'c-202', { recordCount: 501 });
    expect(both.reasons[0]?.message).toBe(
      'Asha Rao (s-asha) touched 501 records in one event (limit 500) and more than 200 distinct subjects within 600 s up to 2026-03-02T10:00:00.203Z',
    );
  });
  it('excludes t − w and includes t', () => {
    const run = (firstAt: number) => {
      const bulk = evaluator.createBulkWindow();
      read(bulk, firstAt, 'first');
      for (let i = 1; i < 200; i++) read(bulk, T - 1000 + i, `c-${i}`);
      return codes(read(bulk, T, 'last'));
    };
    expect(run(T - 600_000)).toEqual([]); // (t − w, t]: 199 + last = 200
    expect(run(T - 599_999)).toEqual(['BULK_ACCESS']); // 201
  });
  it('counts denied events too, and events of other actors not at all', () => {
    const bulk = evaluator.createBulkWindow();
    for (let i = 0; i < 200; i++) read(bulk, T + i, `c-${i}`, { categories: ['client.financial'] });
    expect(codes(read(bulk, T + 300, 'x', { actor: { id: 's-vikram', type: 'staff' } }))).toEqual([]);
    expect(codes(read(bulk, T + 301, 'y'))).toEqual(['BULK_ACCESS']);
  });
  it('counts subjects by tenant and id', () => {
    const bulk = evaluator.createBulkWindow();
    for (let i = 0; i < 100; i++) {
      read(bulk, T + i, `c-${i}`, { tenantId: 'spera' });
      read(bulk, T + i, `c-${i}`, { tenantId: 'client-acme' });
    }
    expect(codes(read(bulk, T + 500, 'c-0', { tenantId: 'client-globex' }))).toEqual(['BULK_ACCESS']);
  });
  it('never flags processors or unknown actors', () => {
    const p = {
      actor: { id: 'p-ledgerpay', type: 'processor' },
      categories: ['client.financial'],
      purpose: 'service.transactions',
      recordCount: 10_000,
    };
    expect(codes(judge(p))).toEqual([]);
  });
  it('refuses a window of another length than the policy', () => {
    expect(() => judge({}, [], new BulkWindow({ windowSeconds: 60 }))).toThrow(/bulk window is 60 s/);
  });
});

describe('recipient type: the bundle decides', () => {
  const dev = {
    actor: { id: 's-dev', type: 'staff' },
    categories: ['personal.identity'],
    action: 'disclose',
    purpose: 'legal.compliance',
    legalBasis: 'court-order:X',
  };
  it('a lawful disclosure to an authority the event calls a third party stays lawful, and the claim is noted', () => {
    const j = judge({ ...dev, recipient: { id: 'a-kolkata-police', type: 'third_party' } });
    expect(j.outcome).toBe('flag');
    expect(codes(j)).toEqual(['LEGAL_DISCLOSURE', 'RECIPIENT_TYPE_MISMATCH']);
    expect(j.reasons[1]?.message).toBe(
      'Recipient Kolkata Police Cyber Cell (a-kolkata-police) has type authority in the policy, but the event claims third_party; judged as authority',
    );
  });
  it('a note alone does not change an allowed share', () => {
    const j = judge({
      actor: { id: 's-asha', type: 'staff' },
      categories: ['personal.contact'],
      action: 'share',
      purpose: 'service.support',
      recipient: { id: 'p-helpdeskly', type: 'third_party' },
    });
    expect(j.outcome).toBe('allow');
    expect(codes(j)).toEqual(['RECIPIENT_TYPE_MISMATCH']);
    expect(j.basis.length).toBeGreaterThan(0);
  });
  it('an unknown recipient is not a mismatch', () => {
    expect(codes(judge({ ...dev, recipient: { id: 'a-nobody', type: 'authority' } }))).not.toContain('RECIPIENT_TYPE_MISMATCH');
  });
});
