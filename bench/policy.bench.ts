/**
 * Decisions per second of the compiled policy evaluator on one core, against a naive evaluator that
 * scans the bundle's arrays for every event. Both get the same subject state and bulk window modules,
 * so the figure isolates rule evaluation. Run: pnpm bench:policy
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  compileBundle,
  type Evaluator,
  naiveEvaluate,
  type PolicyBundle,
  parseBundleText,
  SubjectStateStore,
} from '../packages/policy/src/index.js';

type AccessEvent = Parameters<Evaluator['evaluate']>[0];

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const EVENTS = 200_000;
const REPS = 7;

// Deterministic, so that runs are comparable.
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const rand = rng(20261128);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;

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
function template(): Template {
  let r = rand() * totalWeight;
  for (const t of templates) {
    r -= t.weight;
    if (r < 0) return t;
  }
  return templates[0]!;
}

const SUBJECTS = 50_000;
const START = Date.parse('2026-03-02T00:00:00Z');

function generate(): { events: AccessEvent[]; state: SubjectStateStore } {
  const events: AccessEvent[] = [];
  let t = START;
  let burst = 0;
  for (let i = 0; i < EVENTS; i++) {
    // About one event a second overall; now and then a burst of 250 reads (a bulk export in disguise).
    if (burst === 0 && rand() < 0.00005) burst = 250;
    let tpl = template();
    if (burst > 0) {
      burst--;
      tpl = templates[0]!;
      t += 50;
    } else t += Math.floor(rand() * 2000);
    const e: AccessEvent = {
      eventId: `00000000-0000-7000-8000-${String(i).padStart(12, '0')}`,
      occurredAt: new Date(t).toISOString(),
      tenantId: pick(tpl.tenants),
      actor: { id: tpl.actor[0], type: tpl.actor[1] },
      subject: { id: `cust-${Math.floor(rand() * SUBJECTS)}`, type: 'customer' },
      categories: pick(tpl.categories),
      action: tpl.action,
      purpose: tpl.purpose,
      recordCount: tpl.recordCount ?? 1,
      source: { service: 'bench' },
    };
    if (tpl.recipient) e.recipient = { id: tpl.recipient[0], type: tpl.recipient[1] };
    if (tpl.legalBasis) e.legalBasis = tpl.legalBasis;
    if (tpl.collectedDaysAgo !== undefined) e.dataCollectedAt = new Date(t - tpl.collectedDaysAgo * 86_400_000).toISOString();
    events.push(e);
  }
  const state = new SubjectStateStore();
  const kinds = ['promotional_opt_out', 'promotional_opt_in', 'erasure_completed', 'legal_hold_placed'] as const;
  for (let i = 0; i < 2_000; i++) {
    state.apply({
      eventId: `00000000-0000-7000-9000-${String(i).padStart(12, '0')}`,
      occurredAt: new Date(START + Math.floor(rand() * 86_400_000)).toISOString(),
      tenantId: pick(anyTenant),
      subjectId: `cust-${Math.floor(rand() * SUBJECTS)}`,
      change: pick(kinds),
    });
  }
  return { events, state };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

const loaded = parseBundleText(readFileSync(resolve(root, 'policies/example-org.json'), 'utf8'));
if (!loaded.ok) throw new Error(`policies/example-org.json is invalid: ${JSON.stringify(loaded.issues)}`);
const bundle: PolicyBundle = loaded.value.bundle;
const evaluator = compileBundle(bundle, loaded.value.policyVersion);
const { events, state } = generate();

type Run = (e: AccessEvent, ctx: Parameters<Evaluator['evaluate']>[1]) => { outcome: string; reasons: Array<{ code: string }> };
const compiled: Run = (e, ctx) => evaluator.evaluate(e, ctx);
const naive: Run = (e, ctx) => naiveEvaluate(bundle, e, ctx, loaded.value.policyVersion);

function pass(run: Run): { perSecond: number; outcomes: Record<string, number>; codes: string[] } {
  const ctx = { subjectState: state, bulk: evaluator.createBulkWindow() };
  const outcomes: Record<string, number> = { allow: 0, flag: 0, deny: 0 };
  const codes: string[] = new Array(events.length);
  const start = process.hrtime.bigint();
  for (let i = 0; i < events.length; i++) {
    const j = run(events[i]!, ctx);
    outcomes[j.outcome]!++;
    codes[i] = j.reasons.length === 0 ? j.outcome : `${j.outcome}:${j.reasons.map((r) => r.code).join(',')}`;
  }
  const ns = Number(process.hrtime.bigint() - start);
  return { perSecond: events.length / (ns / 1e9), outcomes, codes };
}

// Warm-up, and a check that both evaluators agree on every event of the mix.
const a = pass(compiled);
const b = pass(naive);
const mismatches = a.codes.filter((c, i) => c !== b.codes[i]).length;
if (mismatches > 0) throw new Error(`compiled and naive evaluators disagree on ${mismatches} events`);
const codeCounts = new Map<string, number>();
for (const c of a.codes)
  for (const code of c.split(':')[1]?.split(',') ?? []) codeCounts.set(code, (codeCounts.get(code) ?? 0) + 1);

const compiledRuns: number[] = [];
const naiveRuns: number[] = [];
for (let r = 0; r < REPS; r++) {
  compiledRuns.push(pass(compiled).perSecond);
  naiveRuns.push(pass(naive).perSecond);
}
const value = Math.round(median(compiledRuns));
const peer = Math.round(median(naiveRuns));
const ratio = Math.round((value / peer) * 100) / 100;

const pct = (n: number) => `${((n / events.length) * 100).toFixed(1)} %`;
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
console.log(
  `policy bench: ${fmt(events.length)} events on ${loaded.value.policyVersion}, one core, median of ${REPS} runs after a warm-up`,
);
console.log(
  `mix: allow ${pct(a.outcomes.allow!)}, flag ${pct(a.outcomes.flag!)}, deny ${pct(a.outcomes.deny!)}; codes ${[...codeCounts].map(([c, n]) => `${c} ${n}`).join(', ')}`,
);
console.log('compiled and naive agree on every event\n');
console.log('| evaluator | decisions/s (median) | min | max |');
console.log('|---|---:|---:|---:|');
console.log(
  `| compiled (policy.decisions_per_s) | ${fmt(value)} | ${fmt(Math.min(...compiledRuns))} | ${fmt(Math.max(...compiledRuns))} |`,
);
console.log(`| naive (naive.decisions_per_s) | ${fmt(peer)} | ${fmt(Math.min(...naiveRuns))} | ${fmt(Math.max(...naiveRuns))} |`);
console.log(`\nratio compiled/naive: ${ratio}`);

const results = {
  suite: 'policy',
  when: new Date().toISOString(),
  machine: { cpus: availableParallelism(), node: process.version },
  figures: [
    { name: 'policy.decisions_per_s', value, unit: 'decisions/s', peer: { name: 'naive.decisions_per_s', value: peer }, ratio },
  ],
};
mkdirSync(resolve(root, 'bench/results'), { recursive: true });
writeFileSync(resolve(root, 'bench/results/policy.json'), `${JSON.stringify(results, null, 2)}\n`);
console.log('wrote bench/results/policy.json');
