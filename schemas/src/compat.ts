/**
 * Schema evolution check. Every schema in avro/ (as the registry receives it: named types inlined,
 * i.e. the `*V<N>Avro` exports of generated.ts) must be able to read data written with every
 * snapshot of it in history/<Name>.v<N>/<n>.avsc (BACKWARD_TRANSITIVE, by avsc's resolver), and the
 * newest snapshot must be the current schema (so every released shape is kept).
 *
 * After a (compatible) change to avro/ and `pnpm --filter @custos/schemas generate`, record it:
 *   pnpm exec tsx schemas/src/compat.ts snapshot
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import avro from 'avsc';
import * as generated from './generated.js';

export const historyDir = join(dirname(fileURLToPath(import.meta.url)), '..', 'history');

export interface CurrentSchema {
  /** e.g. AccessEvent.v1 */
  key: string;
  schema: object;
}

/** The schemas of avro/, inlined, from generated.ts. */
export function currentSchemas(): CurrentSchema[] {
  return Object.entries(generated)
    .flatMap(([name, value]) => {
      const m = /^(\w+)V(\d+)Avro$/.exec(name);
      return m ? [{ key: `${m[1]}.v${m[2]}`, schema: value as object }] : [];
    })
    .sort((a, b) => a.key.localeCompare(b.key));
}

function typeOf(schema: object): avro.Type {
  return avro.Type.forSchema(schema as avro.Schema);
}

/** Same Parsing Canonical Form (docs and other attributes aside)? */
export function sameSchema(a: object, b: object): boolean {
  return typeOf(a).fingerprint().equals(typeOf(b).fingerprint());
}

/**
 * Why `reader` (the new schema) cannot read data written with `writer` (an old one), or undefined
 * when it can: BACKWARD compatibility, decided by avsc's schema resolution.
 */
export function backwardProblem(reader: object, writer: object): string | undefined {
  let r: avro.Type;
  let w: avro.Type;
  try {
    r = typeOf(reader);
    w = typeOf(writer);
  } catch (err) {
    return `not a valid Avro schema: ${err instanceof Error ? err.message : String(err)}`;
  }
  try {
    r.createResolver(w);
    return undefined;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

export interface Snapshot {
  n: number;
  file: string;
  schema: object;
}

export function snapshots(key: string, dir = historyDir): Snapshot[] {
  let files: string[];
  try {
    files = readdirSync(join(dir, key));
  } catch {
    return [];
  }
  return files
    .flatMap((f) => {
      const m = /^(\d+)\.avsc$/.exec(f);
      return m
        ? [{ n: Number(m[1]), file: join(dir, key, f), schema: JSON.parse(readFileSync(join(dir, key, f), 'utf8')) as object }]
        : [];
    })
    .sort((a, b) => a.n - b.n);
}

/** Every evolution problem of `current` against its history; empty when all is well. */
export function evolutionProblems(current: CurrentSchema[] = currentSchemas(), dir = historyDir): string[] {
  const problems: string[] = [];
  for (const c of current) {
    const snaps = snapshots(c.key, dir);
    if (snaps.length === 0) {
      problems.push(`${c.key}: no snapshot in schemas/history/${c.key}/ (run: pnpm exec tsx schemas/src/compat.ts snapshot)`);
      continue;
    }
    for (const s of snaps) {
      const p = backwardProblem(c.schema, s.schema);
      if (p) problems.push(`${c.key}: cannot read data written with snapshot ${s.n} (not BACKWARD compatible): ${p}`);
    }
    const latest = snaps.at(-1)!;
    if (problems.length === 0 && !sameSchema(c.schema, latest.schema)) {
      problems.push(
        `${c.key}: changed since snapshot ${latest.n}; record it (run: pnpm exec tsx schemas/src/compat.ts snapshot)`,
      );
    }
  }
  return problems;
}

/** Writes a new snapshot of every schema that changed compatibly; refuses incompatible ones. */
export function snapshot(dir = historyDir): { written: string[]; refused: string[] } {
  const written: string[] = [];
  const refused: string[] = [];
  for (const c of currentSchemas()) {
    const snaps = snapshots(c.key, dir);
    const latest = snaps.at(-1);
    if (latest && sameSchema(c.schema, latest.schema)) continue;
    const problems = snaps.flatMap((s) => backwardProblem(c.schema, s.schema) ?? []);
    if (problems.length > 0) {
      refused.push(`${c.key}: ${problems.join('; ')}`);
      continue;
    }
    mkdirSync(join(dir, c.key), { recursive: true });
    const file = join(dir, c.key, `${(latest?.n ?? 0) + 1}.avsc`);
    writeFileSync(file, `${JSON.stringify(c.schema, null, 2)}\n`);
    written.push(file);
  }
  return { written, refused };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  if (process.argv[2] === 'snapshot') {
    const { written, refused } = snapshot();
    for (const w of written) console.log(`wrote ${w}`);
    for (const r of refused) console.error(`refused (incompatible; make it a new version <Name>.v<N+1>): ${r}`);
    process.exit(refused.length > 0 ? 1 : 0);
  } else {
    const problems = evolutionProblems();
    for (const p of problems) console.error(p);
    console.log(problems.length === 0 ? 'schemas: evolution ok' : `${problems.length} problem(s)`);
    process.exit(problems.length > 0 ? 1 : 0);
  }
}
