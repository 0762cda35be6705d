/** Opening the store from a process's parsed settings: what the sink, the API and the CLI do at start. */
import { resolve } from 'node:path';
import { type CommonEnv, commonEnv, type Logger } from '@custos/config';
import { createStore, type Store, type StoreOptions } from './client.js';
import { retentionConfig, type StoreEnv, storeEnv } from './config.js';
import { migrate } from './migrations.js';

/** The settings of a process that opens the store: the common ones and the store's own. */
export const storeProcessEnv = commonEnv.extend(storeEnv.shape);
export type StoreProcessEnv = CommonEnv & StoreEnv;

export function storeOptionsFromEnv(e: CommonEnv): StoreOptions {
  return {
    url: e.CLICKHOUSE_URL,
    username: e.CLICKHOUSE_USER,
    password: e.CLICKHOUSE_PASSWORD,
    database: e.CLICKHOUSE_DATABASE,
    chdbPath: resolve(e.CHDB_PATH),
  };
}

/** Opens the store, applies pending migrations and the configured audit-trail retention. */
export async function openStore(e: StoreProcessEnv, logger: Logger): Promise<Store> {
  const store = createStore(storeOptionsFromEnv(e));
  const retention = retentionConfig(e);
  const r = await migrate(store, undefined, { retention });
  logger.info({ mode: store.mode, database: store.database, applied: r.applied, retentionDays: retention.days }, 'store ready');
  return store;
}
