/** An API on a fresh ClickHouse database loaded with the fixtures: for the e2e and browser tests. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createStore, migrate, type Store } from '@custos/store';
import type { ApiOptions } from '../app.js';
import { loadFixtures } from './fixtures.js';
import { startTestApi, type TestServer } from './index.js';

export interface LiveApi extends TestServer {
  store: Store;
}

export async function startFixtureApi(label: string, opts: Partial<ApiOptions> = {}, clickhouseUrl?: string): Promise<LiveApi> {
  const database = `test_${label.replace(/\W/g, '_')}_${Math.random().toString(16).slice(2, 10)}`;
  const store = createStore({ url: clickhouseUrl, database, chdbPath: mkdtempSync(join(tmpdir(), `custos-chdb-${label}-`)) });
  await migrate(store);
  await loadFixtures(store);
  const server = await startTestApi({ store, ...opts });
  return {
    ...server,
    store,
    close: async () => {
      await server.close();
      await store.client.command({ query: `DROP DATABASE IF EXISTS ${database}` }).catch(() => {});
      await store.close();
    },
  };
}
