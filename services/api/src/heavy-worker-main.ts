/**
 * The heavy-work thread (heavy.ts): runs periodic reports and verifications with a store whose
 * queries are answered by the API's thread.
 */
import { createPublicKey } from 'node:crypto';
import { parentPort, workerData } from 'node:worker_threads';
import type { ClickHouseClient } from '@clickhouse/client';
import { assertIdentifier, type Store } from '@custos/store';
import { tenantScopedIntegrity } from './access.js';
import { AuditDb } from './db.js';
import { withLookups } from './directory.js';
import type { FromWorker, HeavyInit, HeavyTask, PeriodicResult, ToWorker, VerifyResult } from './heavy.js';
import { wireError } from './heavy.js';
import { type IntegrityProvider, storeIntegrity, unavailableIntegrity } from './integrity.js';
import { buildPeriodicReport, periodicReportCsv, periodicReportPdf, renderReport } from './report/periodic.js';

const port = parentPort;
if (!port) throw new Error('heavy-worker-main runs in a worker thread');
const init = workerData as HeavyInit;

const asked = new Map<number, { resolve(text: string): void; reject(err: unknown): void }>();
let nextQuery = 1;

function ask(
  op: 'query' | 'command',
  p: { query: string; query_params?: Record<string, unknown>; format?: string },
): Promise<string> {
  return new Promise((resolve, reject) => {
    const id = nextQuery++;
    asked.set(id, { resolve, reject });
    const m: FromWorker = { t: 'query', id, op, query: p.query, ...(p.query_params ? { params: p.query_params } : {}) };
    if (p.format) m.format = p.format;
    port?.postMessage(m);
  });
}

/** A result set's text as the client's `json()` reads it for the format. */
function parse(text: string, format = 'JSON'): unknown {
  if (format.endsWith('EachRow')) {
    return text
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l));
  }
  return JSON.parse(text);
}

type QueryParams = { query: string; query_params?: Record<string, unknown>; format?: string };
const client = {
  query: async (p: QueryParams) => {
    const text = await ask('query', p);
    return { text: async () => text, json: async () => parse(text, p.format) };
  },
  command: async (p: QueryParams) => {
    await ask('command', p);
    return {};
  },
  insert: async () => {
    throw new Error('the heavy-work thread only reads');
  },
  close: async () => {},
};

const store: Store = {
  client: client as unknown as ClickHouseClient,
  database: init.database,
  mode: init.mode,
  table: (name) => `${init.database}.${assertIdentifier(name)}`,
  insertRaw: async () => {
    throw new Error('the heavy-work thread only reads');
  },
  close: async () => {},
};
const db = new AuditDb(store, init.limits);
const integrity: IntegrityProvider =
  init.integrity === 'unavailable'
    ? unavailableIntegrity
    : storeIntegrity(store, {
        trusted: init.integrity.trustedPem.map((pem) => createPublicKey(pem)),
        retentionDays: init.integrity.retentionDays,
      });

async function run(task: HeavyTask): Promise<{ result: PeriodicResult | VerifyResult; transfer: ArrayBuffer[] }> {
  const scoped = tenantScopedIntegrity(integrity);
  if (task.kind === 'verify') {
    const q = { from: new Date(task.from), to: new Date(task.to), tenants: task.tenants };
    const [checkpoints, verification] = await Promise.all([scoped.listCheckpoints(q), scoped.verifyRange(q)]);
    return { result: { checkpoints, verification }, transfer: [] };
  }
  const report = await buildPeriodicReport(db, withLookups(task.dir), scoped, {
    period: task.period,
    scope: task.scope,
    tenantId: task.tenantId,
    generatedAt: new Date(task.generatedAt),
  });
  if (task.format === 'json') return { result: { report }, transfer: [] };
  const file = await renderReport(report, task.format, periodicReportCsv, periodicReportPdf);
  const body = new Uint8Array(file.body);
  return {
    result: { report, file: { body, contentType: file.contentType, sha256: file.sha256 } },
    transfer: [body.buffer as ArrayBuffer],
  };
}

port.on('message', (m: ToWorker) => {
  if (m.t === 'answer') {
    const a = asked.get(m.id);
    if (!a) return;
    asked.delete(m.id);
    if (m.error) a.reject(Object.assign(new Error(m.error.message), m.error));
    else a.resolve(m.text ?? '');
    return;
  }
  run(m.task).then(
    ({ result, transfer }) => port.postMessage({ t: 'done', id: m.id, result } satisfies FromWorker, transfer),
    (err) => port.postMessage({ t: 'failed', id: m.id, error: wireError(err) } satisfies FromWorker),
  );
});
