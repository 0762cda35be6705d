/**
 * Numbered, repeatable migrations: `migrations/NNNN_name.sql`, applied in order, each recorded with
 * a checksum; an applied migration that was edited afterwards stops the run (add a new one instead).
 * `{db}` in the SQL is replaced by the (validated) database name; statements are separated by `;`
 * at the end of a line.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Store } from './client.js';
import { applyRetention, type RetentionConfig } from './retention.js';

export interface Migration {
  version: number;
  name: string;
  sql: string;
  checksum: string;
}

export const MIGRATIONS_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'migrations');
/**
 * The same migrations for a replicated cluster (ReplicatedMergeTree + Distributed, `ON CLUSTER
 * {cluster}`). Documented in docs/store-notes.md; not exercised here (no cluster on this machine).
 */
export const CLUSTER_MIGRATIONS_DIR = join(MIGRATIONS_DIR, 'cluster');

export function loadMigrations(dir = MIGRATIONS_DIR): Migration[] {
  const out = readdirSync(dir)
    .filter((f) => f.endsWith('.sql'))
    .sort()
    .map((file) => {
      const m = /^(\d{4})_([a-z0-9_]+)\.sql$/.exec(file);
      if (!m) throw new Error(`migration file name must be NNNN_name.sql: ${file}`);
      const sql = readFileSync(join(dir, file), 'utf8');
      return { version: Number(m[1]), name: m[2] as string, sql, checksum: createHash('sha256').update(sql).digest('hex') };
    });
  out.forEach((m, i) => {
    if (m.version !== i + 1) throw new Error(`migrations must be numbered 1, 2, 3…; found ${m.version} at position ${i + 1}`);
  });
  return out;
}

export function statements(sql: string, database: string, cluster?: string): string[] {
  if (sql.includes('{cluster}') && !cluster) throw new Error('these migrations are for a cluster: name it');
  return sql
    .replaceAll('{db}', database)
    .replaceAll('{cluster}', cluster ?? '')
    .split(/;\s*$/m)
    .map((s) =>
      s
        .split('\n')
        .filter((l) => !l.trim().startsWith('--'))
        .join('\n')
        .trim(),
    )
    .filter(Boolean);
}

export interface MigrateResult {
  applied: number[];
  alreadyApplied: number[];
  /** set when retention was given: whether the TTL had to change */
  retentionChanged?: boolean;
}

export interface MigrateOptions {
  /** also apply the configured retention TTL and legal holds */
  retention?: RetentionConfig | undefined;
  /** cluster name for `ON CLUSTER` (with CLUSTER_MIGRATIONS_DIR) */
  cluster?: string | undefined;
}

export async function migrate(store: Store, migrations = loadMigrations(), opts: MigrateOptions = {}): Promise<MigrateResult> {
  const db = store.database;
  const on = opts.cluster ? ` ON CLUSTER ${opts.cluster}` : '';
  await store.client.command({ query: `CREATE DATABASE IF NOT EXISTS ${db}${on}` });
  await store.client.command({
    query: `CREATE TABLE IF NOT EXISTS ${db}.schema_migrations${on} (
      version UInt32, name String, checksum String, applied_at DateTime64(3, 'UTC') DEFAULT now64(3)
    ) ENGINE = ${opts.cluster ? `ReplicatedMergeTree('/clickhouse/tables/{database}/schema_migrations', '{replica}')` : 'MergeTree'} ORDER BY version`,
  });
  const rs = await store.client.query({ query: `SELECT version, checksum FROM ${db}.schema_migrations`, format: 'JSONEachRow' });
  const done = new Map((await rs.json<{ version: number; checksum: string }>()).map((r) => [Number(r.version), r.checksum]));
  const result: MigrateResult = { applied: [], alreadyApplied: [] };
  for (const m of migrations) {
    const prior = done.get(m.version);
    if (prior !== undefined) {
      if (prior !== m.checksum) {
        throw new Error(`migration ${m.version} (${m.name}) was edited after it was applied; add a new migration instead`);
      }
      result.alreadyApplied.push(m.version);
      continue;
    }
    for (const q of statements(m.sql, db, opts.cluster)) await store.client.command({ query: q });
    await store.client.insert({
      table: `${db}.schema_migrations`,
      values: [{ version: m.version, name: m.name, checksum: m.checksum }],
      format: 'JSONEachRow',
    });
    result.applied.push(m.version);
  }
  if (opts.retention) result.retentionChanged = await applyRetention(store, opts.retention, { cluster: opts.cluster });
  return result;
}
