/**
 * Realistic synthetic decisions for tests and benchmarks: a few tenants, thousands of staff, many
 * subjects, mostly allowed reads with grant ids as basis, a few percent of denials with the
 * enforcer's kind of reason messages, request ids and client IPs as services send them.
 */
import type { Decision } from '@custos/schemas';

export type Rng = () => number;

/** mulberry32: small, fast, seeded. */
export function seededRng(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface SampleOptions {
  /** first occurredAt, epoch ms */
  start: number;
  /** spread of occurredAt after start, ms */
  spanMs: number;
  tenants?: number;
  actors?: number;
  subjects?: number;
  denyRate?: number;
  flagRate?: number;
}

export const SAMPLE_DEPARTMENTS = [
  'support',
  'billing',
  'accounts',
  'marketing',
  'analytics',
  'security',
  'privacy',
  'engineering',
];
export const SAMPLE_CODES = [
  'ROLE_NOT_AUTHORIZED',
  'PURPOSE_NOT_PERMITTED',
  'TENANT_NOT_ASSIGNED',
  'UNKNOWN_ACTOR',
  'NO_AGREEMENT',
  'RETENTION_EXPIRED',
  'PROMOTIONAL_OPT_OUT',
];
const CATEGORIES = ['personal.contact', 'personal.identity', 'client.financial', 'client.transaction', 'usage.activity'];
const PURPOSES = ['service.support', 'service.accounts', 'service.transactions', 'security', 'improvement.analytics'];
const SERVICES = ['crm', 'billing-api', 'support-desk', 'analytics-etl'];
const FIELDS = [['email'], ['email', 'phone'], ['address'], []];

const hex = (rng: Rng, n: number) => {
  let s = '';
  for (let i = 0; i < n; i++) s += Math.floor(rng() * 16).toString(16);
  return s;
};

/** A UUIDv7-shaped id (time prefix, random rest), as the SDK makes them. */
export function uuid7(ms: number, rng: Rng): string {
  const t = Math.floor(ms).toString(16).padStart(12, '0');
  const r = hex(rng, 20);
  return `${t.slice(0, 8)}-${t.slice(8, 12)}-7${r.slice(0, 3)}-${((Number.parseInt(r[3] as string, 16) & 3) | 8).toString(16)}${r.slice(4, 7)}-${r.slice(7, 19)}`;
}

export function sampleDecisions(n: number, opts: SampleOptions, rng: Rng = seededRng(42)): Decision[] {
  const tenants = opts.tenants ?? 20;
  const actors = opts.actors ?? 5000;
  const subjects = opts.subjects ?? 500_000;
  const denyRate = opts.denyRate ?? 0.03;
  const flagRate = opts.flagRate ?? 0.01;
  const out: Decision[] = [];
  for (let i = 0; i < n; i++) {
    const occurred = opts.start + Math.floor((i / n) * opts.spanMs + rng() * 60_000);
    const decided = occurred + 5 + Math.floor(rng() * 200);
    const actor = Math.floor(rng() * rng() * actors); // some actors are much busier
    const tenant = actor % tenants === 0 ? 'spera' : `client-${actor % tenants}`;
    const cat = CATEGORIES[Math.floor(rng() * CATEGORIES.length)] as string;
    const purpose = PURPOSES[actor % PURPOSES.length] as string;
    const x = rng();
    const outcome: Decision['outcome'] = x < denyRate ? 'deny' : x < denyRate + flagRate ? 'flag' : 'allow';
    const code = SAMPLE_CODES[Math.floor(rng() * SAMPLE_CODES.length)] as string;
    const reasons =
      outcome === 'deny'
        ? [
            {
              code,
              message: `s-${actor} holds no role granting read on ${cat} for ${purpose} on ${new Date(occurred).toISOString().slice(0, 10)}`,
            },
          ]
        : outcome === 'flag'
          ? [{ code: 'BULK_ACCESS', message: `s-${actor} touched more than 200 distinct subjects within 600 s` }]
          : [];
    const fields = FIELDS[Math.floor(rng() * FIELDS.length)] as string[];
    out.push({
      eventId: uuid7(occurred, rng),
      decidedAt: new Date(decided).toISOString(),
      outcome,
      reasons,
      basis: outcome === 'deny' ? [] : [`G-${purpose.split('.')[0]?.toUpperCase().slice(0, 3)}-${actor % 7}`],
      policyVersion: '2026-11-01.3',
      event: {
        eventId: '',
        occurredAt: new Date(occurred).toISOString(),
        tenantId: tenant,
        actor: { id: `s-${actor}`, type: 'staff' },
        subject: { id: `cust-${Math.floor(rng() * subjects)}`, type: 'customer' },
        categories: [cat],
        ...(fields.length ? { fields } : {}),
        action: rng() < 0.9 ? 'read' : 'update',
        purpose,
        recordCount: 1,
        source: {
          service: SERVICES[actor % SERVICES.length] as string,
          requestId: `req-${hex(rng, 16)}`,
          ...(rng() < 0.3 ? { traceId: hex(rng, 32) } : {}),
          ip: `10.${actor % 16}.${Math.floor(rng() * 4)}.${actor % 250}`,
        },
      },
    });
    const d = out[out.length - 1] as Decision;
    d.event.eventId = d.eventId;
  }
  return out;
}
