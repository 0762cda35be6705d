/**
 * Generates src/generated.ts from avro/*.avsc: the Avro schemas (named references inlined, as the
 * registry receives them), the TypeScript types of the JSON form and the zod validators of the JSON
 * form. Run `pnpm --filter @custos/schemas generate`; a unit test fails when the committed file drifts.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

type Avro = string | Avro[] | { [k: string]: unknown };
const here = dirname(fileURLToPath(import.meta.url));
const avroDir = join(here, '..', 'avro');

export function loadAvroFiles(): { file: string; name: string; version: number; schema: Record<string, unknown> }[] {
  return readdirSync(avroDir)
    .filter((f) => f.endsWith('.avsc'))
    .sort()
    .map((file) => {
      const m = /^(\w+)\.v(\d+)\.avsc$/.exec(file);
      if (!m) throw new Error(`schemas/avro/${file}: name must be <Name>.v<N>.avsc`);
      return { file, name: m[1] as string, version: Number(m[2]), schema: JSON.parse(readFileSync(join(avroDir, file), 'utf8')) };
    });
}

/** Replaces references to named types by their definitions (first use only, as Avro requires). */
function inline(schema: Avro, named: Map<string, Avro>, seen: Set<string>, ns: string): Avro {
  if (typeof schema === 'string') {
    const full = schema.includes('.') ? schema : `${ns}.${schema}`;
    const def = named.get(full);
    if (def === undefined) return schema;
    if (seen.has(full)) return full;
    return inline(def, named, seen, ns);
  }
  if (Array.isArray(schema)) return schema.map((s) => inline(s, named, seen, ns));
  const out: Record<string, unknown> = { ...schema };
  const t = schema.type;
  if ((t === 'record' || t === 'enum' || t === 'fixed') && typeof schema.name === 'string') {
    const nsHere = typeof schema.namespace === 'string' ? schema.namespace : ns;
    seen.add(schema.name.includes('.') ? schema.name : `${nsHere}.${schema.name}`);
    ns = nsHere;
  }
  if (t === 'record') {
    out.fields = (schema.fields as { type: Avro }[]).map((f) => ({ ...f, type: inline(f.type, named, seen, ns) }));
  } else if (t === 'array') out.items = inline(schema.items as Avro, named, seen, ns);
  else if (t === 'map') out.values = inline(schema.values as Avro, named, seen, ns);
  else if (typeof t !== 'string' || !['record', 'enum', 'fixed', 'array', 'map'].includes(t)) {
    if (t !== undefined && typeof t !== 'string') out.type = inline(t as Avro, named, seen, ns);
  }
  return out;
}

function collectNamed(schema: Avro, ns: string, into: Map<string, Avro>): void {
  if (typeof schema === 'string') return;
  if (Array.isArray(schema)) {
    for (const s of schema) collectNamed(s, ns, into);
    return;
  }
  const t = schema.type;
  if ((t === 'record' || t === 'enum' || t === 'fixed') && typeof schema.name === 'string') {
    const nsHere = typeof schema.namespace === 'string' ? schema.namespace : ns;
    into.set(schema.name.includes('.') ? schema.name : `${nsHere}.${schema.name}`, schema);
    ns = nsHere;
  }
  if (t === 'record') for (const f of schema.fields as { type: Avro }[]) collectNamed(f.type, ns, into);
  else if (t === 'array') collectNamed(schema.items as Avro, ns, into);
  else if (t === 'map') collectNamed(schema.values as Avro, ns, into);
  else if (t !== undefined && typeof t !== 'string') collectNamed(t as Avro, ns, into);
}

interface Gen {
  ts: string;
  zod: string;
  optional: boolean;
}

const PRIMS: Record<string, [string, string]> = {
  string: ['string', 'z.string()'],
  boolean: ['boolean', 'z.boolean()'],
  int: ['number', 'z.number().int()'],
  long: ['number', 'z.number().int()'],
  float: ['number', 'z.number()'],
  double: ['number', 'z.number()'],
  bytes: ['Uint8Array', 'z.instanceof(Uint8Array)'],
  null: ['null', 'z.null()'],
};

function gen(schema: Avro, named: Map<string, Avro>, ns: string, indent: string): Gen {
  if (typeof schema === 'string') {
    const p = PRIMS[schema];
    if (p) return { ts: p[0], zod: p[1], optional: false };
    const full = schema.includes('.') ? schema : `${ns}.${schema}`;
    const def = named.get(full);
    if (!def) throw new Error(`unknown Avro type ${schema}`);
    return gen(def, named, ns, indent);
  }
  if (Array.isArray(schema)) {
    const nonNull = schema.filter((s) => s !== 'null');
    if (nonNull.length !== 1 || nonNull.length === schema.length) {
      throw new Error('only ["null", T] unions are supported in the JSON form');
    }
    const inner = gen(nonNull[0] as Avro, named, ns, indent);
    return { ts: `${inner.ts} | null`, zod: `${inner.zod}.nullish()`, optional: true };
  }
  const t = schema.type;
  if (typeof t !== 'string') return gen(t as Avro, named, ns, indent);
  if (schema.logicalType === 'timestamp-millis') {
    return { ts: 'string', zod: 'isoTimestamp', optional: false };
  }
  if (schema.logicalType === 'uuid') return { ts: 'string', zod: 'z.guid()', optional: false };
  if (PRIMS[t]) return gen(t, named, ns, indent);
  if (t === 'enum') {
    const symbols = schema.symbols as string[];
    return {
      ts: symbols.map((s) => `'${s}'`).join(' | '),
      zod: `z.enum([${symbols.map((s) => `'${s}'`).join(', ')}])`,
      optional: false,
    };
  }
  if (t === 'array') {
    const inner = gen(schema.items as Avro, named, ns, indent);
    return { ts: `Array<${inner.ts}>`, zod: `z.array(${inner.zod})`, optional: false };
  }
  if (t === 'map') {
    const inner = gen(schema.values as Avro, named, ns, indent);
    return { ts: `Record<string, ${inner.ts}>`, zod: `z.record(z.string(), ${inner.zod})`, optional: false };
  }
  if (t === 'record') {
    const nsHere = typeof schema.namespace === 'string' ? schema.namespace : ns;
    const inner = `${indent}  `;
    const tsFields: string[] = [];
    const zodFields: string[] = [];
    for (const f of schema.fields as { name: string; type: Avro; default?: unknown; doc?: string }[]) {
      const g = gen(f.type, named, nsHere, inner);
      // A field with an Avro default may be left out of the JSON form; the codec fills the default.
      const opt = g.optional || f.default !== undefined;
      const doc = f.doc ? `${inner}/** ${f.doc} */\n` : '';
      tsFields.push(`${doc}${inner}${f.name}${opt ? '?' : ''}: ${g.ts};`);
      zodFields.push(`${inner}${f.name}: ${g.zod}${opt && !g.optional ? '.optional()' : ''},`);
    }
    return {
      ts: `{\n${tsFields.join('\n')}\n${indent}}`,
      zod: `z.object({\n${zodFields.join('\n')}\n${indent}})`,
      optional: false,
    };
  }
  throw new Error(`unsupported Avro type ${t}`);
}

/**
 * TypeScript type of the Avro form of a schema, as avsc encodes and decodes it: every field present,
 * nullable unions as `T | null`, timestamps as epoch millis, bytes as Buffer.
 */
function genAvroForm(schema: Avro, named: Map<string, Avro>, ns: string, indent: string): string {
  if (typeof schema === 'string') {
    const prim: Record<string, string> = {
      string: 'string',
      boolean: 'boolean',
      int: 'number',
      long: 'number',
      float: 'number',
      double: 'number',
      bytes: 'Buffer',
      null: 'null',
    };
    const p = prim[schema];
    if (p) return p;
    const full = schema.includes('.') ? schema : `${ns}.${schema}`;
    const def = named.get(full);
    if (!def) throw new Error(`unknown Avro type ${schema}`);
    return genAvroForm(def, named, ns, indent);
  }
  if (Array.isArray(schema)) return schema.map((s) => genAvroForm(s, named, ns, indent)).join(' | ');
  const t = schema.type;
  if (typeof t !== 'string') return genAvroForm(t as Avro, named, ns, indent);
  if (t === 'enum') return (schema.symbols as string[]).map((s) => `'${s}'`).join(' | ');
  if (t === 'array') return `Array<${genAvroForm(schema.items as Avro, named, ns, indent)}>`;
  if (t === 'map') return `Record<string, ${genAvroForm(schema.values as Avro, named, ns, indent)}>`;
  if (t === 'record') {
    const nsHere = typeof schema.namespace === 'string' ? schema.namespace : ns;
    const inner = `${indent}  `;
    const fields = (schema.fields as { name: string; type: Avro }[]).map(
      (f) => `${inner}${f.name}: ${genAvroForm(f.type, named, nsHere, inner)};`,
    );
    return `{\n${fields.join('\n')}\n${indent}}`;
  }
  return genAvroForm(t, named, ns, indent);
}

export function generate(): string {
  const files = loadAvroFiles();
  const named = new Map<string, Avro>();
  for (const f of files) collectNamed(f.schema as Avro, '', named);
  const parts: string[] = [
    '// GENERATED by schemas/scripts/generate.ts from schemas/avro/*.avsc. Do not edit by hand.',
    "import { z } from 'zod';",
    '',
    '/** ISO-8601 timestamp as the JSON form carries times; Z or an offset, and one without a zone reads as UTC. */',
    'export const isoTimestamp = z.iso.datetime({ offset: true, local: true });',
    '',
  ];
  for (const f of files) {
    const ns = typeof f.schema.namespace === 'string' ? f.schema.namespace : '';
    const full = inline(f.schema as Avro, named, new Set(), ns);
    const g = gen(f.schema as Avro, named, ns, '');
    parts.push(
      `/** Avro schema of ${f.name} v${f.version} (from schemas/avro/${f.file}), named types inlined. */`,
      `export const ${f.name}V${f.version}Avro = ${JSON.stringify(full)} as const;`,
      '',
      `/** JSON form of ${f.name} v${f.version}. */`,
      `export interface ${f.name}V${f.version} ${g.ts}`,
      '',
      `/** Structural validator of the JSON form of ${f.name} v${f.version} (contract rules are layered on in contract.ts). */`,
      `export const ${f.name[0]?.toLowerCase()}${f.name.slice(1)}V${f.version}Base = ${g.zod};`,
      '',
      `/** Avro form of ${f.name} v${f.version}, as avsc encodes and decodes it. */`,
      `export interface ${f.name}V${f.version}AvroValue ${genAvroForm(f.schema as Avro, named, ns, '')}`,
      '',
    );
  }
  return parts.join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  writeFileSync(join(here, '..', 'src', 'generated.ts'), generate());
  console.log('wrote schemas/src/generated.ts');
}
