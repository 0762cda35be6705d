/**
 * The ClickHouse client: a ClickHouse server when `url` is given, otherwise embedded chDB in this
 * process. chDB locks its data directory per process, so in embedded mode every service that
 * touches ClickHouse must share one process (and one Store).
 */
import { mkdirSync } from 'node:fs';
import { type ClickHouseClient, createClient } from '@clickhouse/client';
import { createChdbConnection } from 'chdb/connection';

export interface StoreOptions {
  /** ClickHouse server HTTP URL; unset → embedded chDB */
  url?: string | undefined;
  username?: string | undefined;
  password?: string | undefined;
  /** database holding Custos's tables (a plain identifier) */
  database: string;
  /** chDB data directory in embedded mode */
  chdbPath?: string | undefined;
  /** server-side limit applied to every query unless overridden */
  maxExecutionTimeS?: number;
}

export interface Store {
  client: ClickHouseClient;
  database: string;
  mode: 'server' | 'embedded';
  /** `db.table`, with the database validated as an identifier */
  table(name: string): string;
  close(): Promise<void>;
}

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function assertIdentifier(name: string): string {
  if (!IDENT.test(name)) throw new Error(`not a plain identifier: ${JSON.stringify(name)}`);
  return name;
}

export function createStore(opts: StoreOptions): Store {
  const database = assertIdentifier(opts.database);
  // 64-bit integers as JSON numbers on both backends (chDB and the server differ by default).
  const settings = { max_execution_time: opts.maxExecutionTimeS ?? 30, output_format_json_quote_64bit_integers: 0 as const };
  let client: ClickHouseClient;
  if (opts.url) {
    client = createClient({
      url: opts.url,
      username: opts.username ?? 'default',
      password: opts.password ?? '',
      clickhouse_settings: settings,
      request_timeout: 60_000,
    });
  } else {
    const path = opts.chdbPath ?? '.data/chdb';
    mkdirSync(path, { recursive: true });
    // chDB's connection is typed against @clickhouse/client-common, which the client bundles as its
    // own copy; the two declarations are the same shape but not the same types, hence the cast.
    const connection = createChdbConnection({ path }) as unknown as NonNullable<Parameters<typeof createClient>[0]>['connection'];
    client = createClient({ connection, clickhouse_settings: settings });
  }
  return {
    client,
    database,
    mode: opts.url ? 'server' : 'embedded',
    table: (name: string) => `${database}.${assertIdentifier(name)}`,
    close: () => client.close(),
  };
}
