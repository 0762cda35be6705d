/**
 * The ClickHouse client: a ClickHouse server when `url` is given, otherwise embedded chDB in this
 * process. chDB locks its data directory per process, so in embedded mode every service that
 * touches ClickHouse must share one process (and one Store).
 */
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Readable } from 'node:stream';
import { type ClickHouseClient, createClient } from '@clickhouse/client';
import type { createChdbConnection as CreateChdbConnection } from 'chdb/connection';

/**
 * chDB's engine is loaded by the first embedded store only: importing this package (as the API's
 * worker threads do, whose queries run on the API's thread) must not load a second engine into the
 * process, which stalls the first one's DDL.
 */
const loadChdb = (): typeof CreateChdbConnection =>
  (createRequire(import.meta.url)('chdb/connection') as { createChdbConnection: typeof CreateChdbConnection })
    .createChdbConnection;

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

/** Line-delimited text formats both backends take as a raw body. */
export type RawFormat = 'JSONCompactEachRow' | 'JSONEachRow';

export interface RawInsert {
  table: string;
  columns: readonly string[];
  format: RawFormat;
  /** the rows, already serialized in `format` (one per line) */
  body: Buffer;
  settings?: Record<string, string | number>;
}

export interface Store {
  client: ClickHouseClient;
  database: string;
  mode: 'server' | 'embedded';
  /** `db.table`, with the database validated as an identifier */
  table(name: string): string;
  /**
   * Inserts pre-serialized rows. Embedded: handed to chDB as bytes (its parser runs off the JS
   * thread); server: streamed as the HTTP body. Both skip the client's per-row serialization.
   */
  insertRaw(insert: RawInsert): Promise<void>;
  close(): Promise<void>;
}

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function assertIdentifier(name: string): string {
  if (!IDENT.test(name)) throw new Error(`not a plain identifier: ${JSON.stringify(name)}`);
  return name;
}

interface ChdbRawInsert {
  chdb: {
    rawInsert(p: {
      table: string;
      values: Buffer;
      format: RawFormat;
      columns?: readonly string[];
      settings?: Record<string, string | number>;
    }): Promise<unknown>;
  };
}

export function createStore(opts: StoreOptions): Store {
  const database = assertIdentifier(opts.database);
  // 64-bit integers as JSON numbers on both backends (chDB and the server differ by default).
  const settings = { max_execution_time: opts.maxExecutionTimeS ?? 30, output_format_json_quote_64bit_integers: 0 as const };
  let client: ClickHouseClient;
  let insertRaw: Store['insertRaw'];
  if (opts.url) {
    const c = createClient({
      url: opts.url,
      username: opts.username ?? 'default',
      password: opts.password ?? '',
      clickhouse_settings: settings,
      request_timeout: 60_000,
    });
    client = c;
    insertRaw = async (i) => {
      await c.insert({
        table: i.table,
        columns: [...i.columns] as [string, ...string[]],
        format: i.format,
        values: Readable.from([i.body]),
        clickhouse_settings: i.settings ?? {},
      });
    };
  } else {
    const path = opts.chdbPath ?? '.data/chdb';
    mkdirSync(path, { recursive: true });
    const chdb = loadChdb()({ path });
    // chDB's connection is typed against @clickhouse/client-common, which the client bundles as its
    // own copy; the two declarations are the same shape but not the same types, hence the cast.
    const connection = chdb as unknown as NonNullable<Parameters<typeof createClient>[0]>['connection'];
    client = createClient({ connection, clickhouse_settings: settings });
    const raw = (chdb as unknown as ChdbRawInsert).chdb;
    insertRaw = async (i) => {
      if (i.body.length === 0) return;
      await raw.rawInsert({
        table: i.table,
        values: i.body,
        format: i.format,
        columns: i.columns,
        ...(i.settings ? { settings: i.settings } : {}),
      });
    };
  }
  return {
    client,
    database,
    mode: opts.url ? 'server' : 'embedded',
    table: (name: string) => `${database}.${assertIdentifier(name)}`,
    insertRaw,
    close: () => client.close(),
  };
}

/**
 * The same connection, another database (tests, tools comparing two databases). Closing it is a
 * no-op: the underlying store owns the connection.
 */
export function withDatabase(store: Store, database: string): Store {
  const db = assertIdentifier(database);
  return { ...store, database: db, table: (name: string) => `${db}.${assertIdentifier(name)}`, close: async () => {} };
}

/**
 * Query settings as a SETTINGS clause of the query itself. Not `clickhouse_settings`: chDB's
 * connection turns those into session-wide `SET` statements that outlive the query, so one read's
 * settings (a row limit, `max_threads = 1`, an output format) stayed in force for every later query
 * of the process — and embedded, the API, the sink and `verify` share one process. Values are
 * integers or fixed words chosen by the caller's code, never request input.
 */
export function settingsClause(settings: Record<string, number | string>): string {
  const parts = Object.entries(settings).map(([k, v]) => {
    if (!/^[a-z0-9_]+$/.test(k) || !(typeof v === 'number' ? Number.isInteger(v) && v >= 0 : /^[a-z_]+$/.test(v))) {
      throw new Error(`bad query setting ${k}=${v}`);
    }
    return typeof v === 'number' ? `${k} = ${v}` : `${k} = '${v}'`;
  });
  return parts.length ? `\nSETTINGS ${parts.join(', ')}` : '';
}

/** Runs a SELECT with parameters (and settings for this query only) and returns its rows. */
export async function queryRows<T>(
  store: Store,
  query: string,
  params: Record<string, unknown> = {},
  settings: Record<string, string | number> = {},
): Promise<T[]> {
  const rs = await store.client.query({
    query: `${query}${settingsClause(settings)}`,
    query_params: params,
    format: 'JSONEachRow',
  });
  return rs.json<T>();
}
