/**
 * Converts between the JSON form (ISO timestamps, absent optionals) and the Avro form (epoch millis,
 * explicit nulls, defaults filled), walking the Avro schema itself so no field list is kept twice.
 */
type Schema = unknown;

interface Field {
  name: string;
  type: Schema;
  default?: unknown;
}

function isRecord(s: Schema): s is { type: 'record'; fields: Field[] } {
  return typeof s === 'object' && s !== null && !Array.isArray(s) && (s as { type?: unknown }).type === 'record';
}

function obj(s: Schema): Record<string, unknown> | undefined {
  return typeof s === 'object' && s !== null && !Array.isArray(s) ? (s as Record<string, unknown>) : undefined;
}

function toAvroValue(schema: Schema, v: unknown): unknown {
  if (Array.isArray(schema)) {
    if (v === undefined || v === null) return null;
    const inner = schema.find((s) => s !== 'null');
    return toAvroValue(inner, v);
  }
  const o = obj(schema);
  if (!o) return v;
  if (o.logicalType === 'timestamp-millis') {
    if (typeof v === 'number') return v;
    const ms = Date.parse(String(v));
    if (Number.isNaN(ms)) throw new TypeError(`not a timestamp: ${String(v)}`);
    return ms;
  }
  if (isRecord(o)) {
    const src = (v ?? {}) as Record<string, unknown>;
    const out: Record<string, unknown> = {};
    for (const f of o.fields) {
      const fv = src[f.name];
      out[f.name] = fv === undefined && f.default !== undefined ? f.default : toAvroValue(f.type, fv);
    }
    return out;
  }
  if (o.type === 'array' && Array.isArray(v)) return v.map((x) => toAvroValue(o.items, x));
  if (o.type === 'map' && v && typeof v === 'object') {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, toAvroValue(o.values, x)]));
  }
  if (typeof o.type === 'object') return toAvroValue(o.type, v);
  return v;
}

function fromAvroValue(schema: Schema, v: unknown): unknown {
  if (Array.isArray(schema)) {
    if (v === null || v === undefined) return undefined;
    return fromAvroValue(
      schema.find((s) => s !== 'null'),
      v,
    );
  }
  const o = obj(schema);
  if (!o) return v;
  if (o.logicalType === 'timestamp-millis') return new Date(Number(v)).toISOString();
  if (isRecord(o)) {
    const src = v as Record<string, unknown>;
    const out: Record<string, unknown> = {};
    for (const f of o.fields) {
      const fv = fromAvroValue(f.type, src[f.name]);
      if (fv !== undefined) out[f.name] = fv;
    }
    return out;
  }
  if (o.type === 'array' && Array.isArray(v)) return v.map((x) => fromAvroValue(o.items, x));
  if (o.type === 'map' && v && typeof v === 'object') {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, fromAvroValue(o.values, x)]));
  }
  if (typeof o.type === 'object') return fromAvroValue(o.type, v);
  return v;
}

/** JSON form → Avro form of a record of `schema`. */
export function toAvro<T>(schema: Schema, value: T): Record<string, unknown> {
  return toAvroValue(schema, value) as Record<string, unknown>;
}

/** Avro form → JSON form (nulls become absent fields, millis become ISO strings). */
export function fromAvro<T>(schema: Schema, value: unknown): T {
  return fromAvroValue(schema, value) as T;
}
