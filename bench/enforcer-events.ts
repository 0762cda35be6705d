/**
 * The enforcer benches' event mixes (`enforcer.bench.ts`, `judge-path.bench.ts`, `--mix`):
 *
 * - `realistic` (the default): the policy bench's mix (bench/event-mix.ts, ~95 % allowed,
 *   about one event a second of event time, ending about now), without its subject-state changes.
 * - `flag-heavy` (the soak's mix): every grant combination of the
 *   reference bundle's 12 staff equally likely, 5 % violations, 5 % processor reads, event time
 *   1 ms apart. Meant as "grants mostly respected, one analyst reading widely", it judges ~15 %
 *   allow, ~64 % flag, ~20 % deny: staff with several tenants touch more than 200 distinct
 *   (tenant, subject) pairs in the 600 s window, so BULK_ACCESS fires for most of them; processors
 *   read outside their agreements; disclosures carry no legal basis; s-dev's wildcard grants make
 *   half the events his. Kept as a stress mix (a reason message on most decisions).
 *
 * Deterministic for a seed (apart from eventIds and the clock's start).
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { seededRng } from '../packages/store/src/fixtures.js';
import { EventMix } from './event-mix.js';

export const policyFile = join(dirname(fileURLToPath(import.meta.url)), '..', 'policies', 'example-org.json');

interface Bundle {
  categories: Record<string, unknown>;
  purposes: Record<string, unknown>;
  tenants: string[];
  roles: Record<string, { actions: string[]; categories: string[]; purposes: string[] }[]>;
  staff: { id: string; tenants: string[]; roles: { role: string; to?: string }[] }[];
  agreements: { party: string; categories: string[]; purposes: string[] }[];
}

export type MixName = 'realistic' | 'flag-heavy';
export const MIXES: readonly MixName[] = ['realistic', 'flag-heavy'];

/** The named mix; `events`: how many the run takes (the realistic mix's event time ends about now). */
export function mixGenerator(name: MixName, seed: number, events: number): () => Record<string, unknown> {
  return name === 'realistic' ? realisticGenerator(seed, events) : generator(seed);
}

/** The policy bench's mix (bench/event-mix.ts) with fresh eventIds, its event time ending about now. */
function realisticGenerator(seed = 20261128, events = 200_000): () => Record<string, unknown> {
  // ~1 s of event time per event on average
  const mix = new EventMix(seed, Date.now() - events * 1000);
  return () => ({ ...mix.next(), eventId: randomUUID() });
}

/** The flag-heavy mix (see above). */
export function generator(seed = 42): () => Record<string, unknown> {
  const b = JSON.parse(readFileSync(policyFile, 'utf8')) as Bundle;
  const rnd = seededRng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const allCategories = Object.keys(b.categories);
  const allPurposes = Object.keys(b.purposes);
  const combos: { actor: string; tenants: string[]; action: string; category: string; purpose: string }[] = [];
  for (const s of b.staff) {
    for (const r of s.roles) {
      if (r.to !== undefined) continue;
      for (const g of b.roles[r.role] ?? []) {
        for (const action of g.actions) {
          for (const category of g.categories[0] === '*' ? allCategories : g.categories) {
            for (const purpose of g.purposes) combos.push({ actor: s.id, tenants: s.tenants, action, category, purpose });
          }
        }
      }
    }
  }
  const recipients = b.agreements.map((x) => x.party);
  // Most people touch a modest set of subjects; one analyst reads widely (BULK_ACCESS flags).
  const subjectPool = (actor: string) => (actor === 's-arjun' ? 50_000 : 150);
  const actorBase = new Map<string, number>();
  const base = (actor: string) => {
    let v = actorBase.get(actor);
    if (v === undefined) {
      v = actorBase.size * 100_000;
      actorBase.set(actor, v);
    }
    return v;
  };
  // Event time moves forward with the sequence, as an emitting service's clock does: the bulk
  // window's in-order path. (Late events take BulkWindow's scan path, which costs O(window).)
  let clock = Date.now() - 60_000;
  return () => {
    const c = pick(combos);
    const violation = rnd() < 0.05;
    const processor = rnd() < 0.05;
    const action = processor ? 'read' : c.action;
    clock = Math.max(clock + 1, Date.now() - 60_000);
    const e: Record<string, unknown> = {
      eventId: randomUUID(),
      occurredAt: clock,
      tenantId: c.tenants[0] === '*' ? pick(b.tenants) : pick(c.tenants),
      actor: processor ? { id: pick(recipients), type: 'processor' } : { id: c.actor, type: 'staff' },
      subject: { id: `cust-${base(c.actor) + Math.floor(rnd() * subjectPool(c.actor))}`, type: 'customer' },
      categories: [violation ? pick(allCategories) : c.category],
      fields: ['email', 'phone'],
      action,
      purpose: violation ? pick(allPurposes) : c.purpose,
      recordCount: 1,
      source: { service: 'crm', requestId: `req-${Math.floor(rnd() * 1e9)}` },
    };
    if (action === 'share' || action === 'disclose') e.recipient = { id: pick(recipients), type: 'processor' };
    return e;
  };
}
