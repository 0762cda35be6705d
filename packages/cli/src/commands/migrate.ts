/**
 * `custos migrate`: applies pending numbered migrations (each once; an edited one stops the run) and
 * the configured retention TTL and legal holds. Services do the same at start-up.
 */
import type { Writable } from 'node:stream';
import {
  CLUSTER_MIGRATIONS_DIR,
  createStore,
  loadMigrations,
  migrate,
  type RetentionConfig,
  retentionConfig,
  type Store,
  storeOptionsFromEnv,
} from '@custos/store';
import type { Command } from 'commander';
import { loadCliEnv } from '../env.js';

export interface MigrateCliOptions {
  cluster?: string | undefined;
}

export async function runMigrate(
  o: MigrateCliOptions,
  deps: { store: Store; retention: RetentionConfig; stdout: Pick<Writable, 'write'> },
): Promise<number> {
  const migrations = o.cluster ? loadMigrations(CLUSTER_MIGRATIONS_DIR) : undefined;
  const r = await migrate(deps.store, migrations, { retention: deps.retention, cluster: o.cluster });
  deps.stdout.write(
    `${deps.store.database}: applied ${r.applied.length ? r.applied.join(', ') : 'nothing'}` +
      `${r.alreadyApplied.length ? ` (already applied: ${r.alreadyApplied.join(', ')})` : ''}; ` +
      `retention ${deps.retention.days} days, ${deps.retention.holds.length} legal hold(s)${r.retentionChanged ? ' (TTL updated)' : ''}\n`,
  );
  return 0;
}

export function registerMigrate(program: Command): void {
  program
    .command('migrate')
    .description('apply pending ClickHouse migrations and the configured retention (AUDIT_RETENTION_DAYS, AUDIT_LEGAL_HOLDS)')
    .option('--cluster <name>', 'a replicated cluster: ReplicatedMergeTree + Distributed, ON CLUSTER <name>')
    .action(async (o: MigrateCliOptions) => {
      const env = loadCliEnv();
      const store = createStore(storeOptionsFromEnv(env));
      try {
        process.exitCode = await runMigrate(o, { store, retention: retentionConfig(env), stdout: process.stdout });
      } finally {
        await store.close();
      }
    });
}
