/**
 * `pnpm bench:api`: the query API over 10M stored decisions (embedded chDB, generated inside
 * ClickHouse). Measures, with autocannon in a separate process at 50 concurrent connections:
 * the subject access report and an accesses search (p50/p95/p99, requests/s); the same subject
 * query issued directly to ClickHouse as a peer (and the CPU of the process per report, both ways);
 * and the monthly report's generation time per format.
 * Medians of BENCH_REPS repetitions. Writes bench/results/api.json.
 *
 * Env: BENCH_ROWS (10000000), BENCH_CHDB_PATH (.data/bench-chdb; reused when it already holds
 * BENCH_ROWS rows), BENCH_DURATION_S (10), BENCH_REPS (3), BENCH_CONNECTIONS (50).
 */
import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { cpus } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { createStore, migrate, queryRows, READ_MODEL_TABLE, SEARCH_TABLE } from '@custos/store';
import { pino } from 'pino';
import { createApp, loadDirectory } from '../app.js';
import { AuditDb } from '../db.js';
import { unavailableIntegrity } from '../integrity.js';
import { subjectData } from '../queries.js';
import { buildPeriodicReport, periodicReportCsv, periodicReportPdf, renderReport } from '../report/periodic.js';
import { subjectReadTotals } from '../subject-reads.js';
import { BENCH_SUBJECTS, countDecisions, generateDecisions } from './generate.js';

const run = promisify(execFile);
const READ_MODELS = [READ_MODEL_TABLE, SEARCH_TABLE];
const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '..', '..', '..', '..');
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};
const round = (n: number, d = 1) => Math.round(n * 10 ** d) / 10 ** d;

interface LoadResult {
  p50: number;
  p95: number;
  p99: number;
  mean: number;
  rps: number;
  total: number;
  non2xx: number;
  errors: number;
  timeouts: number;
}

async function load(
  url: string,
  paths: string[],
  headers: Record<string, string>,
  connections: number,
  durationS: number,
): Promise<LoadResult> {
  const tsx = join(repo, 'node_modules', '.bin', 'tsx');
  const { stdout } = await run(tsx, [join(here, 'load.ts'), JSON.stringify({ url, paths, headers, connections, durationS })], {
    maxBuffer: 16 * 1024 * 1024,
  });
  return JSON.parse(stdout.trim().split('\n').pop() as string) as LoadResult;
}

/** The same reads as the subject report, issued directly to ClickHouse with `connections` in flight. */
async function directPeer(db: AuditDb, subjects: string[], connections: number, durationS: number) {
  const dir = loadDirectory();
  const lat: number[] = [];
  const until = performance.now() + durationS * 1000;
  const range = { from: new Date(Date.now() - 3650 * 86_400_000), to: new Date() };
  let i = 0;
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (performance.now() < until) {
        const s = subjects[i++ % subjects.length] as string;
        const t0 = performance.now();
        await subjectData(db, dir, 'spera', s, range, 'full');
        lat.push(performance.now() - t0);
      }
    }),
  );
  lat.sort((a, b) => a - b);
  const q = (p: number) => lat[Math.min(lat.length - 1, Math.floor((p / 100) * lat.length))] as number;
  return { p50: q(50), p95: q(95), p99: q(99), rps: lat.length / durationS };
}

/** The end of the generated data (generate.ts: 300 days from BENCH_START). */
const DATA_END = Date.UTC(2026, 10, 16);

/**
 * Searches of one tenant over `days` days ending on different days of the data, newest first, each
 * with one filter, cycling through every filter the search offers (values that match many rows,
 * few rows, and none).
 */
function searchMix(days: number, n: number): string[] {
  const filters = [
    'actorId=s-asha',
    'actorId=s-dev',
    'actorId=p-postbird',
    'department=billing',
    'department=privacy',
    'category=client.financial',
    'outcome=deny',
    'outcome=flag',
    'code=ROLE_NOT_AUTHORIZED',
    'code=LEGAL_DISCLOSURE',
    'code=DISCLOSURE_WITHOUT_LEGAL_BASIS',
    'recipientId=p-helpdeskly',
    'recipientId=a-kolkata-police',
    'action=share',
    'action=disclose',
    'action=delete',
  ];
  return Array.from({ length: n }, (_, i) => {
    const to = new Date(DATA_END - (i % 45) * 86_400_000);
    const from = new Date(to.getTime() - days * 86_400_000);
    // every third search is by subject, the others cycle through the filters
    const filter = i % 3 === 2 ? `subjectId=cust-${(i * 7919) % BENCH_SUBJECTS}` : filters[i % filters.length];
    return `/v1/accesses?tenantId=spera&${filter}&from=${from.toISOString()}&to=${to.toISOString()}`;
  });
}

export async function runApiBench(): Promise<void> {
  const rows = Number(process.env.BENCH_ROWS ?? 10_000_000);
  const chdbPath = resolve(repo, process.env.BENCH_CHDB_PATH ?? '.data/bench-chdb');
  const durationS = Number(process.env.BENCH_DURATION_S ?? 10);
  const reps = Number(process.env.BENCH_REPS ?? 3);
  const connections = Number(process.env.BENCH_CONNECTIONS ?? 50);
  const searchConnections = Number(process.env.BENCH_SEARCH_CONNECTIONS ?? 10);
  const log = (...a: unknown[]) => console.log('[bench:api]', ...a);

  const store = createStore({ database: 'custos_bench', chdbPath, maxExecutionTimeS: 0 });
  await migrate(store);
  const have = await countDecisions(store);
  const optimize = async (table: string) =>
    store.client.command({ query: `OPTIMIZE TABLE ${store.table(table)} FINAL`, clickhouse_settings: { max_execution_time: 0 } });
  if (have !== rows) {
    log(`generating ${rows.toLocaleString()} decisions in ClickHouse (had ${have.toLocaleString()})…`);
    await store.client.command({ query: `TRUNCATE TABLE ${store.table('decisions')}` });
    for (const t of READ_MODELS) await store.client.command({ query: `TRUNCATE TABLE ${store.table(t)}` });
    const t0 = performance.now();
    await generateDecisions(store, rows);
    await optimize('decisions');
    for (const t of READ_MODELS) await optimize(t);
    log(`generated in ${round((performance.now() - t0) / 1000)} s`);
  } else {
    log(`reusing ${rows.toLocaleString()} decisions in ${chdbPath}`);
  }
  // the read models (migrations 0005, 0008): as compact as `decisions` after its OPTIMIZE (a data
  // directory generated before a read model existed is backfilled by its migration, in several parts)
  const parts = await queryRows<{ table: string; parts: number; rows: number; bytes: number }>(
    store,
    `SELECT table, count() AS parts, sum(rows) AS rows, sum(bytes_on_disk) AS bytes FROM system.parts
     WHERE database = {db:String} AND active AND table IN {tables:Array(String)} GROUP BY table`,
    { db: store.database, tables: ['decisions', ...READ_MODELS] },
  );
  for (const t of READ_MODELS) {
    const p = parts.find((x) => x.table === t);
    if (Number(p?.rows) !== rows) throw new Error(`${t} holds ${p?.rows} rows, not ${rows}`);
    if (Number(p?.parts) > 1) {
      log(`OPTIMIZE ${t} (${p?.parts} parts)…`);
      await optimize(t);
    }
  }
  const bytesPerRow = Object.fromEntries(parts.map((p) => [p.table, round(Number(p.bytes) / Number(p.rows))]));
  log('bytes on disk per decision:', bytesPerRow);

  let recorded = 0;
  const key = 'bench-key-auditor-0123456789abcdef';
  const app = createApp({
    store,
    logger: pino({ level: 'warn' }),
    directory: loadDirectory(),
    auth: { apiKeys: [{ id: 'bench', key, staffId: 's-dev', role: 'admin', tenants: ['*'] }] },
    recorder: { record: () => void recorded++ },
    limits: { timeoutS: 30, maxRows: 1_000_000, maxRangeDays: 400, rateLimitPerMin: 0 },
  });
  const server = app.listen(0, '127.0.0.1');
  await new Promise<void>((r) => server.once('listening', () => r()));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const headers = { authorization: `Bearer ${key}`, 'x-purpose': 'legal.compliance' };

  const subjects = Array.from({ length: 2000 }, (_, i) => `cust-${(i * 7919) % BENCH_SUBJECTS}`);
  const subjectPaths = subjects.map((s) => `/v1/subjects/${s}/report?tenantId=spera`);
  const searchPaths = searchMix(30, 240);
  const search400Paths = searchMix(400, 60);
  // sanity check and warm-up
  for (const p of subjectPaths.slice(0, 50)) {
    const res = await fetch(`${url}${p}`, { headers });
    if (res.status !== 200) throw new Error(`${p}: ${res.status} ${await res.text()}`);
    await res.arrayBuffer();
  }
  // cursor paging: every fourth search asks for the page after the first
  for (const paths of [searchPaths, search400Paths]) {
    for (let i = 0; i < paths.length; i++) {
      const p = paths[i] as string;
      const res = await fetch(`${url}${p}`, { headers });
      if (res.status !== 200) throw new Error(`${p}: ${res.status} ${await res.text()}`);
      const page = (await res.json()) as { nextCursor: string | null };
      if (i % 4 === 3 && page.nextCursor) paths[i] = `${p}&cursor=${page.nextCursor}`;
    }
  }
  const sample = (await (await fetch(`${url}${subjectPaths[0]}`, { headers })).json()) as { summary: { total: number } };
  log(`a subject report covers ~${sample.summary.total} accesses`);

  const subj: LoadResult[] = [];
  const search: LoadResult[] = [];
  const search400: LoadResult[] = [];
  const peer: Awaited<ReturnType<typeof directPeer>>[] = [];
  const db = new AuditDb(store, { timeoutS: 30, maxRows: 1_000_000 });
  // autocannon stops sending at the end of a run, but the API still answers what is queued: wait
  // until a request gets through, so one run's backlog does not slow the next.
  const drain = async () => {
    await (await fetch(`${url}${subjectPaths[1]}`, { headers })).arrayBuffer();
  };
  const batching: number[] = [];
  // CPU of this process (the API and chDB's threads; not the load generator) per report: on a shared
  // machine a steadier measure of the API's cost than its latency
  const cpuPerReport: number[] = [];
  const peerCpuPerReport: number[] = [];
  const cpuMs = (since: NodeJS.CpuUsage) => {
    const c = process.cpuUsage(since);
    return (c.user + c.system) / 1000;
  };
  for (let r = 0; r < reps; r++) {
    const before = { ...subjectReadTotals };
    const cpu0 = process.cpuUsage();
    subj.push(await load(url, subjectPaths, headers, connections, durationS));
    cpuPerReport.push(cpuMs(cpu0) / ((subj.at(-1) as LoadResult).total || 1));
    await drain();
    const perBatch = (subjectReadTotals.subjects - before.subjects) / (subjectReadTotals.batches - before.batches);
    batching.push(perBatch);
    log(`subject report run ${r + 1}:`, subj.at(-1), `— ${round(perBatch)} subjects per ClickHouse read on average`);
    search.push(await load(url, searchPaths, headers, searchConnections, durationS));
    await drain();
    log(`search run ${r + 1} (30 days):`, search.at(-1));
    search400.push(await load(url, search400Paths, headers, searchConnections, durationS));
    await drain();
    log(`search run ${r + 1} (400 days):`, search400.at(-1));
    const peerCpu0 = process.cpuUsage();
    peer.push(await directPeer(db, subjects, connections, durationS));
    peerCpuPerReport.push(cpuMs(peerCpu0) / ((peer.at(-1)?.rps ?? 0) * durationS || 1));
    log(
      `direct ClickHouse run ${r + 1}:`,
      peer.at(-1),
      `— CPU per report ${round(cpuPerReport.at(-1) ?? 0, 2)} ms (API), ${round(peerCpuPerReport.at(-1) ?? 0, 2)} ms (direct)`,
    );
  }
  // A failed subject report invalidates the target's figure. A failed search is counted, not fatal
  // (on a loaded machine a request can pass autocannon's timeout), so one slow search does not
  // throw away the run's other figures.
  for (const x of subj)
    if (x.non2xx || x.errors || x.timeouts) throw new Error(`failed subject reports during the load: ${JSON.stringify(x)}`);
  // (autocannon counts a timeout among its errors too)
  const searchFailed = [...search, ...search400].reduce((a, x) => a + x.non2xx + x.errors, 0);
  if (searchFailed > 0)
    log(`WARNING: ${searchFailed} search request(s) failed or timed out; counted in api.search_failed_requests`);

  const dir = loadDirectory();
  const formatMs: Record<string, number[]> = { json: [], csv: [], pdf: [] };
  for (let r = 0; r < reps; r++) {
    for (const format of ['json', 'csv', 'pdf'] as const) {
      const t0 = performance.now();
      const report = await buildPeriodicReport(db, dir, unavailableIntegrity, {
        period: '2026-10',
        scope: '*',
        generatedAt: new Date(),
      });
      await renderReport(report, format, periodicReportCsv, periodicReportPdf);
      formatMs[format]?.push(performance.now() - t0);
      if (r === 0 && format === 'json') log(`the October report covers ${report.totals.total.toLocaleString()} decisions`);
    }
  }
  server.close();
  await store.close();

  const m = (xs: LoadResult[], k: keyof LoadResult) => median(xs.map((x) => x[k]));
  const peerP95 = median(peer.map((p) => p.p95));
  const figures = [
    { name: 'api.subject_report_p50_ms', value: round(m(subj, 'p50')), unit: 'ms' },
    {
      name: 'api.subject_report_p95_ms',
      value: round(m(subj, 'p95')),
      unit: 'ms',
      peer: { name: 'clickhouse.subject_report_p95_ms', value: round(peerP95) },
      ratio: round(m(subj, 'p95') / peerP95, 2),
    },
    { name: 'api.subject_report_p99_ms', value: round(m(subj, 'p99')), unit: 'ms' },
    {
      name: 'api.subject_report_cpu_ms',
      value: round(median(cpuPerReport), 2),
      unit: 'ms',
      peer: { name: 'clickhouse.subject_report_cpu_ms', value: round(median(peerCpuPerReport), 2) },
      ratio: round(median(cpuPerReport) / median(peerCpuPerReport), 2),
    },
    {
      name: 'api.requests_per_s',
      value: round(m(subj, 'rps')),
      unit: 'requests/s',
      peer: { name: 'clickhouse.subject_queries_per_s', value: round(median(peer.map((p) => p.rps))) },
      ratio: round(m(subj, 'rps') / median(peer.map((p) => p.rps)), 2),
    },
    { name: 'api.search_p50_ms', value: round(m(search, 'p50')), unit: 'ms' },
    { name: 'api.search_p95_ms', value: round(m(search, 'p95')), unit: 'ms' },
    { name: 'api.search_p99_ms', value: round(m(search, 'p99')), unit: 'ms' },
    { name: 'api.search_requests_per_s', value: round(m(search, 'rps')), unit: 'requests/s' },
    { name: 'api.search_400d_p50_ms', value: round(m(search400, 'p50')), unit: 'ms' },
    { name: 'api.search_400d_p95_ms', value: round(m(search400, 'p95')), unit: 'ms' },
    { name: 'api.search_failed_requests', value: searchFailed, unit: 'requests' },
    { name: 'report.monthly_json_ms', value: round(median(formatMs.json ?? [])), unit: 'ms' },
    { name: 'report.monthly_csv_ms', value: round(median(formatMs.csv ?? [])), unit: 'ms' },
    { name: 'report.monthly_pdf_ms', value: round(median(formatMs.pdf ?? [])), unit: 'ms' },
  ];
  const out = {
    suite: 'api',
    when: new Date().toISOString(),
    machine: { cpus: cpus().length, node: process.version },
    setup: {
      rows,
      connections,
      searchConnections,
      durationS,
      reps,
      subjects: BENCH_SUBJECTS,
      auditRecordsDuringRun: recorded,
      bytesPerRow,
      subjectsPerRead: round(median(batching)),
    },
    figures,
  };
  mkdirSync(join(repo, 'bench', 'results'), { recursive: true });
  writeFileSync(join(repo, 'bench', 'results', 'api.json'), `${JSON.stringify(out, null, 2)}\n`);
  console.log(
    `\nQuery API over ${rows.toLocaleString()} decisions — ${connections} connections, ${durationS} s runs, median of ${reps}`,
  );
  console.table(
    Object.fromEntries(
      figures.map((f) => [
        f.name,
        {
          value: f.value,
          unit: f.unit,
          peer: 'peer' in f ? `${f.peer?.name} = ${f.peer?.value}` : '',
          ratio: 'ratio' in f ? f.ratio : '',
        },
      ]),
    ),
  );
  console.log(
    `targets: subject report p95 ≤ 100 ms → ${m(subj, 'p95') <= 100 ? 'met' : 'MISSED'}; search p95 ≤ 200 ms → ${m(search, 'p95') <= 200 ? 'met' : 'MISSED'}; 400-day search p95 ≤ 1000 ms → ${m(search400, 'p95') <= 1000 ? 'met' : 'MISSED'}; monthly PDF ≤ 5000 ms → ${median(formatMs.pdf ?? []) <= 5000 ? 'met' : 'MISSED'}`,
  );
  console.log('written to bench/results/api.json');
}
