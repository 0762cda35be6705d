/**
 * Canonical JSON (RFC 8785, JCS): object keys sorted by UTF-16 code units at every level, no
 * whitespace, strings and numbers as ECMAScript's JSON.stringify writes them (which is what JCS
 * prescribes). Everything hashed or signed as JSON goes through this one function — policy-bundle
 * hashes, checkpoint and tree-head payloads, report signatures — so equal values give equal bytes.
 *
 * Beyond JSON values: an `undefined` property is left out and an `undefined` array element is
 * written as null (as JSON.stringify does); a non-finite number is refused (JCS has no form for it).
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    if (typeof value === 'number' && !Number.isFinite(value)) throw new TypeError(`canonical JSON has no form for ${value}`);
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? 'null' : canonicalJson(v))).join(',')}]`;
  const o = value as Record<string, unknown>;
  // Array.prototype.sort compares UTF-16 code units, the order JCS prescribes.
  return `{${Object.keys(o)
    .filter((k) => o[k] !== undefined)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`)
    .join(',')}}`;
}
