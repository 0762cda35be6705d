/**
 * The layout of a schema: what decides how its binary form reads (field order and types, enum
 * symbols; no names of types, docs or defaults). Each hand-written reader is written for one layout
 * and is used only for writer schemas of that layout.
 */
/** `schema`'s layout as text, e.g. `{id:string,type:enum(a|b),tags:[string],extra:null|{string}}`. */
export function layoutOf(schema: unknown): string {
  if (typeof schema === 'string') return schema;
  if (Array.isArray(schema)) return schema.map(layoutOf).join('|');
  if (schema === null || typeof schema !== 'object') return '?';
  const s = schema as { type?: unknown; fields?: unknown; symbols?: unknown; items?: unknown; values?: unknown };
  switch (s.type) {
    case 'record':
      return `{${Array.isArray(s.fields) ? s.fields.map((f: { name?: unknown; type?: unknown }) => `${String(f.name)}:${layoutOf(f.type)}`).join(',') : '?'}}`;
    case 'enum':
      return `enum(${Array.isArray(s.symbols) ? s.symbols.join('|') : '?'})`;
    case 'array':
      return `[${layoutOf(s.items)}]`;
    case 'map':
      return `{${layoutOf(s.values)}}`;
    default:
      return layoutOf(s.type);
  }
}
