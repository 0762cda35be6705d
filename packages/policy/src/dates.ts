/** Whole-UTC-day dates of the bundle (`YYYY-MM-DD`) as epoch milliseconds. */

export const DAY_MS = 86_400_000;

const DAY_RE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** Epoch ms of 00:00:00.000Z on `day`, or NaN when `day` is not a real calendar date. */
export function dayStart(day: string): number {
  const m = DAY_RE.exec(day);
  if (m === null) return Number.NaN;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const ms = Date.UTC(y, mo - 1, d);
  // Date.UTC rolls 2026-02-30 over to March; a real date survives the round trip.
  const back = new Date(ms);
  return back.getUTCFullYear() === y && back.getUTCMonth() === mo - 1 && back.getUTCDate() === d ? ms : Number.NaN;
}

/** First instant after the day `day` ends: `to` dates are inclusive through 23:59:59.999Z. */
export function dayEndExclusive(day: string): number {
  return dayStart(day) + DAY_MS;
}

export function isDay(day: string): boolean {
  return !Number.isNaN(dayStart(day));
}

/** `YYYY-MM-DD` of an instant (UTC). */
export function formatDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

const PAD2: readonly string[] = Array.from({ length: 100 }, (_, i) => String(i).padStart(2, '0'));
const PAD3: readonly string[] = Array.from({ length: 1000 }, (_, i) => String(i).padStart(3, '0'));
/** 9999-12-31T23:59:59.999Z: the last instant with a 4-digit year */
export const LAST_4_DIGIT_YEAR_MS = 253_402_300_799_999;
let cachedDay = Number.NaN;
let cachedPrefix = '';

/**
 * `new Date(ms).toISOString()`. Integer instants of years 1970–9999 are formatted here: V8's own
 * formatter goes through printf and was ~10 % of the enforcer's judging of an event. The
 * `YYYY-MM-DDT` of the last day seen is kept (events mostly share a day).
 */
export function formatInstant(ms: number): string {
  if (!(ms >= 0 && ms <= LAST_4_DIGIT_YEAR_MS && Number.isInteger(ms))) return new Date(ms).toISOString();
  const day = Math.floor(ms / DAY_MS);
  if (day !== cachedDay) {
    cachedPrefix = new Date(day * DAY_MS).toISOString().slice(0, 11);
    cachedDay = day;
  }
  let r = ms - day * DAY_MS;
  const h = Math.floor(r / 3_600_000);
  r -= h * 3_600_000;
  const m = Math.floor(r / 60_000);
  r -= m * 60_000;
  const s = Math.floor(r / 1000);
  return `${cachedPrefix}${PAD2[h]}:${PAD2[m]}:${PAD2[s]}.${PAD3[r - s * 1000]}Z`;
}
