/**
 * The realistic event mix of the policy and enforcer benches: lawful day-to-day work of the reference
 * bundle's staff and processors (`policies/example-org.json`), weighted by how often each happens, then
 * a few percent of violations of each kind; about one event a second overall (so that a person's
 * distinct subjects in the bulk window stay realistic), now and then a burst of 250 reads (a bulk
 * export in disguise), and subject-state changes (opt-outs, erasures, legal holds) for some subjects.
 * Deterministic for a seed. `pnpm bench:policy` prints the resulting outcome and code mix
 * (~95 % allow, ~2.6 % flag, ~2.7 % deny).
 */
import { seededRng } from '../packages/store/src/fixtures.js';
import type { AccessEvent, SubjectStateChange } from '../schemas/src/index.js';

interface Template {
  weight: number;
  actor: [string, 'staff' | 'processor'];
  tenants: string[];
  categories: string[][];
  action: AccessEvent['action'];
  purpose: string;
  recipient?: [string, 'processor' | 'third_party' | 'authority'];
  legalBasis?: string;
  collectedDaysAgo?: number;
  recordCount?: number;
}

const anyTenant = ['spera', 'client-acme', 'client-globex'];
// Lawful day-to-day work, then a few percent of violations of each kind.
const templates: Template[] = [
  {
    weight: 200,
    actor: ['s-asha', 'staff'],
    tenants: anyTenant,
    categories: [['personal.contact'], ['personal.identity', 'personal.contact'], ['client.customer']],
    action: 'read',
    purpose: 'service.support',
  },
  {
    weight: 60,
    actor: ['s-asha', 'staff'],
    tenants: anyTenant,
    categories: [['personal.contact']],
    action: 'update',
    purpose: 'service.support',
  },
  {
    weight: 30,
    actor: ['s-asha', 'staff'],
    tenants: anyTenant,
    categories: [['personal.contact', 'client.customer']],
    action: 'share',
    purpose: 'service.support',
    recipient: ['p-helpdeskly', 'processor'],
  },
  {
    weight: 150,
    actor: ['s-vikram', 'staff'],
    tenants: anyTenant,
    categories: [['personal.identity'], ['client.customer']],
    action: 'read',
    purpose: 'service.support',
  },
  {
    weight: 120,
    actor: ['s-meera', 'staff'],
    tenants: ['client-acme'],
    categories: [['personal.professional'], ['client.business'], ['personal.identity', 'personal.contact']],
    action: 'read',
    purpose: 'service.accounts',
    collectedDaysAgo: 400,
  },
  {
    weight: 150,
    actor: ['s-rohan', 'staff'],
    tenants: anyTenant,
    categories: [['client.transaction'], ['client.financial', 'personal.identity']],
    action: 'read',
    purpose: 'service.transactions',
  },
  {
    weight: 20,
    actor: ['s-rohan', 'staff'],
    tenants: anyTenant,
    categories: [['client.transaction']],
    action: 'share',
    purpose: 'service.transactions',
    recipient: ['p-ledgerpay', 'processor'],
  },
  {
    weight: 60,
    actor: ['s-priya', 'staff'],
    tenants: ['spera'],
    categories: [['personal.contact']],
    action: 'read',
    purpose: 'communication.notices',
  },
  {
    weight: 40,
    actor: ['s-priya', 'staff'],
    tenants: ['spera'],
    categories: [['personal.identity', 'personal.contact']],
    action: 'share',
    purpose: 'communication.promotional',
    recipient: ['p-postbird', 'processor'],
  },
  {
    weight: 80,
    actor: ['s-arjun', 'staff'],
    tenants: anyTenant,
    categories: [['usage.device'], ['usage.activity', 'usage.device']],
    action: 'read',
    purpose: 'improvement.analytics',
  },
  {
    weight: 60,
    actor: ['s-kavya', 'staff'],
    tenants: anyTenant,
    categories: [['usage.network'], ['audit.trail']],
    action: 'read',
    purpose: 'security',
    collectedDaysAgo: 30,
  },
  {
    weight: 10,
    actor: ['s-kavya', 'staff'],
    tenants: anyTenant,
    categories: [['audit.trail']],
    action: 'export',
    purpose: 'security',
  },
  {
    weight: 30,
    actor: ['s-dev', 'staff'],
    tenants: anyTenant,
    categories: [['personal.identity', 'personal.contact'], ['client.financial']],
    action: 'read',
    purpose: 'rights.request',
  },
  {
    weight: 10,
    actor: ['s-dev', 'staff'],
    tenants: anyTenant,
    categories: [['personal.contact']],
    action: 'delete',
    purpose: 'rights.request',
  },
  {
    weight: 60,
    actor: ['s-neha', 'staff'],
    tenants: anyTenant,
    categories: [['usage.device', 'usage.network']],
    action: 'read',
    purpose: 'service.delivery',
    collectedDaysAgo: 20,
  },
  {
    weight: 20,
    actor: ['s-ira', 'staff'],
    tenants: anyTenant,
    categories: [['audit.trail']],
    action: 'read',
    purpose: 'security',
  },
  {
    weight: 80,
    actor: ['p-ledgerpay', 'processor'],
    tenants: anyTenant,
    categories: [['client.financial'], ['client.transaction', 'personal.identity']],
    action: 'read',
    purpose: 'service.transactions',
  },
  {
    weight: 40,
    actor: ['p-postbird', 'processor'],
    tenants: ['spera'],
    categories: [['personal.contact']],
    action: 'read',
    purpose: 'communication.notices',
  },
  {
    weight: 30,
    actor: ['p-helpdeskly', 'processor'],
    tenants: anyTenant,
    categories: [['client.customer']],
    action: 'update',
    purpose: 'service.support',
  },
  // violations, roughly 4 % together
  {
    weight: 6,
    actor: ['s-asha', 'staff'],
    tenants: anyTenant,
    categories: [['client.financial']],
    action: 'read',
    purpose: 'service.support',
  },
  {
    weight: 4,
    actor: ['s-asha', 'staff'],
    tenants: anyTenant,
    categories: [['personal.contact']],
    action: 'read',
    purpose: 'communication.promotional',
  },
  {
    weight: 4,
    actor: ['s-meera', 'staff'],
    tenants: ['client-globex'],
    categories: [['personal.contact']],
    action: 'read',
    purpose: 'service.accounts',
  },
  {
    weight: 3,
    actor: ['s-left', 'staff'],
    tenants: anyTenant,
    categories: [['personal.contact']],
    action: 'read',
    purpose: 'service.support',
  },
  {
    weight: 2,
    actor: ['s-ghost', 'staff'],
    tenants: anyTenant,
    categories: [['personal.contact']],
    action: 'read',
    purpose: 'service.support',
  },
  {
    weight: 3,
    actor: ['s-priya', 'staff'],
    tenants: ['spera'],
    categories: [['personal.contact']],
    action: 'share',
    purpose: 'third_party_marketing',
    recipient: ['t-adnexus', 'third_party'],
  },
  {
    weight: 3,
    actor: ['s-arjun', 'staff'],
    tenants: anyTenant,
    categories: [['usage.activity']],
    action: 'share',
    purpose: 'improvement.analytics',
    recipient: ['p-metricly', 'processor'],
  },
  {
    weight: 3,
    actor: ['p-ledgerpay', 'processor'],
    tenants: anyTenant,
    categories: [['personal.contact']],
    action: 'read',
    purpose: 'service.transactions',
  },
  {
    weight: 3,
    actor: ['s-neha', 'staff'],
    tenants: anyTenant,
    categories: [['usage.network']],
    action: 'read',
    purpose: 'service.delivery',
    collectedDaysAgo: 400,
  },
  {
    weight: 1,
    actor: ['s-dev', 'staff'],
    tenants: ['spera'],
    categories: [['personal.identity']],
    action: 'disclose',
    purpose: 'legal.compliance',
    recipient: ['a-kolkata-police', 'authority'],
    legalBasis: 'court-order:KOL-2026-0042',
  },
  {
    weight: 1,
    actor: ['s-dev', 'staff'],
    tenants: ['spera'],
    categories: [['personal.identity']],
    action: 'disclose',
    purpose: 'legal.compliance',
    recipient: ['a-kolkata-police', 'authority'],
  },
  {
    weight: 2,
    actor: ['s-rohan', 'staff'],
    tenants: anyTenant,
    categories: [['client.transaction']],
    action: 'read',
    purpose: 'service.transactions',
    recordCount: 1200,
  },
];
const totalWeight = templates.reduce((n, t) => n + t.weight, 0);
const SUBJECTS = 50_000;
const MIX_START = Date.parse('2026-03-02T00:00:00Z');
const STATE_KINDS = ['promotional_opt_out', 'promotional_opt_in', 'erasure_completed', 'legal_hold_placed'] as const;

/** The mix as a stream: next() gives the events in order (time moving forward), stateChange(i) the changes. */
export class EventMix {
  readonly rand: () => number;
  private t: number;
  private burst = 0;
  private i = 0;

  constructor(
    seed = 20261128,
    private readonly start = MIX_START,
  ) {
    this.rand = seededRng(seed); // deterministic (mulberry32), so that runs are comparable
    this.t = start;
  }

  pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.rand() * xs.length)]!;
  }

  private template(): Template {
    let r = this.rand() * totalWeight;
    for (const t of templates) {
      r -= t.weight;
      if (r < 0) return t;
    }
    return templates[0]!;
  }

  next(): AccessEvent {
    const rand = this.rand;
    // About one event a second overall; now and then a burst of 250 reads (a bulk export in disguise).
    if (this.burst === 0 && rand() < 0.00005) this.burst = 250;
    let tpl = this.template();
    if (this.burst > 0) {
      this.burst--;
      tpl = templates[0]!;
      this.t += 50;
    } else this.t += Math.floor(rand() * 2000);
    const t = this.t;
    const e: AccessEvent = {
      eventId: `00000000-0000-7000-8000-${String(this.i++).padStart(12, '0')}`,
      occurredAt: new Date(t).toISOString(),
      tenantId: this.pick(tpl.tenants),
      actor: { id: tpl.actor[0], type: tpl.actor[1] },
      subject: { id: `cust-${Math.floor(rand() * SUBJECTS)}`, type: 'customer' },
      categories: this.pick(tpl.categories),
      action: tpl.action,
      purpose: tpl.purpose,
      recordCount: tpl.recordCount ?? 1,
      source: { service: 'bench' },
    };
    if (tpl.recipient) e.recipient = { id: tpl.recipient[0], type: tpl.recipient[1] };
    if (tpl.legalBasis) e.legalBasis = tpl.legalBasis;
    if (tpl.collectedDaysAgo !== undefined) e.dataCollectedAt = new Date(t - tpl.collectedDaysAgo * 86_400_000).toISOString();
    return e;
  }

  /** The i-th subject-state change: within the mix's first day. */
  stateChange(i: number): SubjectStateChange {
    return {
      eventId: `00000000-0000-7000-9000-${String(i).padStart(12, '0')}`,
      occurredAt: new Date(this.start + Math.floor(this.rand() * 86_400_000)).toISOString(),
      tenantId: this.pick(anyTenant),
      subjectId: `cust-${Math.floor(this.rand() * SUBJECTS)}`,
      change: this.pick(STATE_KINDS),
    };
  }
}
