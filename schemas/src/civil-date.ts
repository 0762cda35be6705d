/**
 * The calendar date of a day since 1970-01-01 (UTC), by integer arithmetic: Howard Hinnant's
 * civil_from_days. For writers of Avro timestamp-millis values as text (the policy engine's
 * `formatInstant`, the store's ClickHouse rows), where `Date#toISOString` costs ~150 ns.
 */

/** `days` ≥ 0 (any day of the proleptic Gregorian calendar from 1970) → y × 10 000 + m × 100 + d */
export function civilFromDays(days: number): number {
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const doe = z - era * 146_097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const m = mp < 10 ? mp + 3 : mp - 9;
  const y = yoe + era * 400 + (m <= 2 ? 1 : 0);
  return y * 10_000 + m * 100 + d;
}
