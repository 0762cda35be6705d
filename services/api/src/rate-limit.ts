/**
 * Rate limits per credential, weighted by what a route costs (a periodic report or a verification
 * weighs more than a page of search results). The per-address limit (express-rate-limit, app.ts)
 * comes first and counts requests; this one counts cost units per credential, so one credential
 * cannot spend the budget from many addresses, nor many credentials hide behind one address.
 *
 * Fixed one-minute windows in memory, per process: the API is one process per host, and a limit
 * that resets at a minute boundary is enough against floods (bursts of up to twice the budget
 * across a boundary are accepted).
 */
import { HttpError } from './errors.js';

export class WeightedLimiter {
  private readonly windows = new Map<string, { start: number; used: number }>();
  private sweptAt = 0;

  constructor(
    /** cost units per window */
    readonly budget: number,
    readonly windowMs = 60_000,
    private readonly clock: () => number = Date.now,
  ) {}

  /** Spends `cost` for `key`, or throws 429 (nothing spent) when the window's budget would be exceeded. */
  consume(key: string, cost: number): void {
    const now = this.clock();
    this.sweep(now);
    const start = now - (now % this.windowMs);
    let w = this.windows.get(key);
    if (w === undefined || w.start !== start) {
      w = { start, used: 0 };
      this.windows.set(key, w);
    }
    if (w.used + cost > this.budget) {
      const retry = Math.max(1, Math.ceil((start + this.windowMs - now) / 1000));
      throw new HttpError(
        429,
        `rate limited: this credential may spend ${this.budget} units per minute (this request costs ${cost})`,
        undefined,
        { 'Retry-After': String(retry) },
      );
    }
    w.used += cost;
  }

  /** Forgets windows that ended, at most once per window. */
  private sweep(now: number): void {
    if (now - this.sweptAt < this.windowMs) return;
    this.sweptAt = now;
    const current = now - (now % this.windowMs);
    for (const [k, w] of this.windows) if (w.start < current) this.windows.delete(k);
  }
}

/** `API_TRUST_PROXY`: unset → trust no proxy; a number → that many hops; else addresses, subnets or express's names (`loopback`, …). */
export function trustProxySetting(v: string | undefined): boolean | number | string[] {
  if (v === undefined || v.trim() === '' || v.trim() === 'false') return false;
  if (/^\d+$/.test(v.trim())) return Number(v.trim());
  return v
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}
