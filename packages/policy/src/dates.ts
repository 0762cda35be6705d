/** Whole-UTC-day dates of the bundle (`YYYY-MM-DD`) as epoch milliseconds. */

// Formatting an instant is shared with the Avro readers, which build events' times as text.
export { formatInstant, LAST_4_DIGIT_YEAR_MS } from '@custos/schemas';

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
