/**
 * Simulated traffic for `custos start --demo`: access events drawn from the policy bundle's own
 * directory, mostly what people's grants allow, with a few percent of the violations the rules
 * catch (wrong category, a leaver, an unknown actor, a prohibited purpose, another tenant, a
 * disclosure without legal basis, a share under an expired agreement).
 */
import { randomUUID } from 'node:crypto';
import type { Rng } from '@custos/store';

interface Grant {
  id: string;
  actions: string[];
  categories: string[];
  purposes: string[];
}
interface DemoBundle {
  categories: Record<string, unknown>;
  roles: Record<string, Grant[]>;
  staff: { id: string; tenants: string[]; roles: { role: string; from: string; to?: string | undefined }[] }[];
  agreements: { id: string; party: string; categories: string[]; purposes: string[]; from: string; to?: string }[];
  parties: { id: string; type: string }[];
  tenants?: string[] | undefined;
}

export interface DemoEvent {
  eventId: string;
  occurredAt: string;
  tenantId: string;
  actor: { id: string; type: 'staff' | 'processor' };
  subject: { id: string; type: 'customer' };
  categories: string[];
  action: 'read' | 'create' | 'update' | 'delete' | 'export' | 'share' | 'disclose';
  purpose: string;
  recipient?: { id: string; type: 'processor' | 'third_party' | 'authority' };
  legalBasis?: string;
  recordCount?: number;
  source: { service: string };
}

const pick = <T>(rng: Rng, xs: readonly T[]): T => xs[Math.floor(rng() * xs.length)] as T;

function poolOf(actorId: string): number {
  let h = 0;
  for (let i = 0; i < actorId.length; i++) h = (Math.imul(h, 31) + actorId.charCodeAt(i)) >>> 0;
  return h;
}

export function demoGenerator(bundle: DemoBundle, rng: Rng = Math.random, violationRate = 0.03): (now: Date) => DemoEvent {
  const today = (now: Date) => now.toISOString().slice(0, 10);
  const tenants = bundle.tenants ?? ['spera'];
  const allCategories = Object.keys(bundle.categories);
  const active = (now: Date) =>
    bundle.staff.flatMap((s) =>
      s.roles
        .filter((r) => r.from <= today(now) && (!r.to || r.to >= today(now)))
        .map((r) => ({ staff: s, grants: bundle.roles[r.role] ?? [] })),
    );

  const allowed = (now: Date): DemoEvent | undefined => {
    const who = pick(rng, active(now));
    const grant = pick(rng, who.grants);
    if (!who || !grant) return undefined;
    const action = pick(
      rng,
      grant.actions.filter((a) => a !== 'disclose' && a !== 'share' && a !== 'delete'),
    );
    if (!action) return undefined;
    const cats = grant.categories.includes('*') ? [pick(rng, allCategories)] : [pick(rng, grant.categories)];
    const tenantId = who.staff.tenants.includes('*') ? pick(rng, tenants) : pick(rng, who.staff.tenants);
    return base(now, tenantId, who.staff.id, cats, action as DemoEvent['action'], pick(rng, grant.purposes));
  };

  const base = (
    now: Date,
    tenantId: string,
    actorId: string,
    categories: string[],
    action: DemoEvent['action'],
    purpose: string,
  ): DemoEvent => ({
    eventId: randomUUID(),
    occurredAt: now.toISOString(),
    tenantId,
    actor: { id: actorId, type: 'staff' },
    // Each actor works with a pool of 60 subjects per tenant (≤ 180 across the three tenants), under
    // the bulk threshold of 200 distinct subjects per window, so BULK_ACCESS fires only for the
    // deliberate bulk read below.
    subject: { id: `cust-${1000 + (poolOf(actorId) % 100) * 60 + Math.floor(rng() * 60)}`, type: 'customer' },
    categories,
    action,
    purpose,
    source: { service: pick(rng, ['crm', 'billing-api', 'support-desk', 'analytics-etl']) },
  });

  const violations: ((now: Date) => DemoEvent)[] = [
    (now) => base(now, 'spera', 's-asha', ['client.financial'], 'read', 'service.support'),
    (now) => base(now, 'spera', 's-left', ['personal.contact'], 'read', 'service.support'),
    (now) => base(now, 'spera', 's-ghost', ['personal.contact'], 'read', 'service.support'),
    (now) => ({
      ...base(now, 'spera', 's-priya', ['personal.contact'], 'share', 'third_party_marketing'),
      recipient: { id: 't-adnexus', type: 'third_party' },
    }),
    (now) => base(now, 'client-globex', 's-meera', ['personal.contact'], 'read', 'service.accounts'),
    (now) => ({
      ...base(now, 'spera', 's-dev', ['personal.identity'], 'disclose', 'legal.compliance'),
      recipient: { id: 'a-kolkata-police', type: 'authority' },
    }),
    (now) => ({
      ...base(now, 'spera', 's-arjun', ['usage.activity'], 'share', 'improvement.analytics'),
      recipient: { id: 'p-metricly', type: 'processor' },
    }),
    (now) => ({ ...base(now, 'spera', 's-rohan', ['client.transaction'], 'read', 'service.transactions'), recordCount: 1200 }),
  ];

  return (now: Date) => {
    if (rng() < violationRate) return pick(rng, violations)(now);
    for (let i = 0; i < 10; i++) {
      const e = allowed(now);
      if (e) return e;
    }
    return pick(rng, violations)(now);
  };
}
