/**
 * Fuzzing the API over real HTTP on real ClickHouse (chDB, or a server when CLICKHOUSE_URL is set),
 * beyond the per-route query fuzz of api.int.test.ts: any method, any path (the routes' templates,
 * traversal, escapes, the console, metrics, the OpenAPI document), any headers (credentials of every
 * role and garbage, purposes, content types, forwarded-for) and any body. No answer is a 5xx, no
 * request logs an error, and the server keeps answering.
 */
import { request } from 'node:http';
import { createStore, migrate, type Store } from '@custos/store';
import { infraEnv, testStore } from '@custos/test/support';
import fc from 'fast-check';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROUTES } from './routes.js';
import {
  ACME_AUDITOR_KEY,
  loadFixtures,
  SAMPLE_REQUESTS,
  startTestApi,
  TEST_JWT_SECRET,
  TEST_KEYS,
  type TestServer,
} from './testing/index.js';

let store: Store;
let api: TestServer;
const errors: string[] = [];

beforeAll(async () => {
  const { database, chdbPath } = testStore('api-fuzz');
  store = createStore({ url: infraEnv().clickhouseUrl, database, chdbPath });
  await migrate(store);
  await loadFixtures(store);
  const logger = pino({ level: 'error' }, { write: (line: string) => errors.push(line) });
  api = await startTestApi({ store, logger, now: () => new Date('2026-11-15T00:00:00Z') });
});
afterAll(async () => {
  await api?.close();
  await store?.client.command({ query: `DROP DATABASE IF EXISTS ${store.database}` }).catch(() => {});
  await store?.close();
});

/** One raw HTTP exchange (node:http, so that any method, header value and body can be sent). */
function send(method: string, path: string, headers: Record<string, string>, body?: Buffer): Promise<number> {
  const { port } = new URL(api.url);
  return new Promise((resolve, reject) => {
    // Framed by its length (node sends a GET's or HEAD's body unframed otherwise: the server would
    // read it as the next request), on a connection of its own.
    // what a client library would send for a path with spaces or non-ASCII characters
    const escaped = path.replace(/[^\x21-\x7e]/gu, (c) =>
      [...Buffer.from(c)].map((b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`).join(''),
    );
    const framed = body === undefined ? headers : { ...headers, 'content-length': String(body.length) };
    const req = request(
      { host: '127.0.0.1', port, method, path: escaped, headers: framed, agent: false, timeout: 60_000 },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error(`${method} ${path}: no answer in 60 s`)));
    req.end(body);
  });
}

const token = fc.oneof(
  fc.string({ maxLength: 20 }),
  fc.constantFrom(
    '..',
    '.',
    '%2e%2e',
    '%2F',
    '%00',
    '%',
    '%E0%A4',
    '%ZZ',
    '~',
    ';',
    '*',
    'cust-1001',
    's-asha',
    'report',
    'activity',
  ),
);
const anyPath = fc.oneof(
  // a route's template with junk in its parameters and a junk tail
  fc
    .tuple(fc.constantFrom(...ROUTES.map((r) => r.path)), token, fc.array(token, { maxLength: 2 }))
    .map(
      ([p, v, tail]) =>
        `${p.replace(/:(\w+)/g, () => encodeURIComponent(v))}${tail.length ? `/${tail.map(encodeURIComponent).join('/')}` : ''}`,
    ),
  fc.constantFrom(
    ...Object.values(SAMPLE_REQUESTS),
    '/',
    '/v1',
    '/v1/',
    '/v1/me',
    '/v1/openapi.json',
    '/metrics',
    '/healthz',
    '/readyz',
    '/console',
    '/console/',
    '/console/../package.json',
    '/console/%2e%2e/%2e%2e/package.json',
    '//v1/accesses',
    '/v1//accesses',
    '/V1/ACCESSES',
    '/v1/accesses/',
    '/v1/accesses?from=2026-10-01T00:00:00Z&from=2026-11-01T00:00:00Z&to=2026-11-01T00:00:00Z',
    '/v1/accesses?from[]=x&to[a]=y',
    '/v1/accesses?__proto__[x]=1&constructor[prototype][y]=2',
    `/v1/accesses?limit=${'9'.repeat(400)}`,
    `/v1/subjects/${'a'.repeat(3000)}/report`,
  ),
  fc.array(token, { minLength: 1, maxLength: 5 }).map((xs) => `/${xs.join('/')}`),
);
const anyQuery = fc.dictionary(
  fc.oneof(
    fc.constantFrom(
      'from',
      'to',
      'tenantId',
      'subjectId',
      'actorId',
      'limit',
      'cursor',
      'format',
      'period',
      'eventId',
      'outcome',
      'code',
    ),
    fc.string({ maxLength: 8 }),
  ),
  fc.oneof(
    fc.string({ maxLength: 30 }),
    fc.constantFrom('2026-10-01T00:00:00Z', '2026-11-01T00:00:00Z', 'spera', 'csv', 'pdf', '-1'),
  ),
  { maxKeys: 5 },
);
const credential = fc.oneof(
  fc.constantFrom(...Object.values(TEST_KEYS).map((k) => `Bearer ${k.key}`), `Bearer ${ACME_AUDITOR_KEY}`),
  fc.constantFrom(
    '',
    'Bearer',
    'Bearer ',
    'Basic dXNlcjpwYXNz',
    'bearer test-key-admin-00000000000001',
    'Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJzLWthdnlhIn0.',
    'Bearer eyJhbGciOiJIUzI1NiJ9.e30.AAAA',
    `Bearer ${'x'.repeat(5000)}`,
    `Bearer ${TEST_JWT_SECRET}`,
  ),
  fc.string({ maxLength: 60 }).filter((s) => /^[\t\x20-\x7e]*$/.test(s)),
);
const headerValue = fc.string({ maxLength: 60 }).filter((s) => /^[\t\x20-\x7e]*$/.test(s));
const anyHeaders = fc.record(
  {
    authorization: credential,
    'x-purpose': fc.oneof(fc.constantFrom('security', 'legal.compliance', 'rights.request', 'audit', ''), headerValue),
    'content-type': fc.constantFrom(
      'application/json',
      'text/plain',
      'application/x-www-form-urlencoded',
      'multipart/form-data',
      '',
    ),
    accept: fc.constantFrom('application/json', 'text/csv', 'application/pdf', '*/*', 'text/html'),
    'x-forwarded-for': fc.oneof(fc.constantFrom('1.2.3.4', '::1', 'unknown', '1.2.3.4, 5.6.7.8'), headerValue),
    'x-request-id': headerValue,
    'if-none-match': headerValue,
    range: fc.constantFrom('bytes=0-10', 'bytes=-1', 'bytes=x'),
  },
  { requiredKeys: [] },
);
const anyBody = fc.option(
  fc.oneof(
    fc.json({ maxDepth: 3 }).map((s) => Buffer.from(s)),
    fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)),
    fc.constant(Buffer.alloc(20_000, 'a')),
  ),
  { nil: undefined },
);

describe('fuzzing the API over HTTP', () => {
  it('any method, path, query, headers and body: never a 5xx, never a logged error', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('GET', 'GET', 'GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'),
        anyPath,
        anyQuery,
        anyHeaders,
        anyBody,
        async (method, path, query, headers, body) => {
          const qs = new URLSearchParams(query).toString();
          const url = qs ? `${path}${path.includes('?') ? '&' : '?'}${qs}` : path;
          const h: Record<string, string> = {};
          for (const [k, v] of Object.entries(headers)) if (v !== undefined && v !== '') h[k] = v;
          const before = errors.length;
          // Beyond 16 KiB the server answers 413 without reading the body: the client, still
          // writing, may see the connection reset instead of the answer.
          const status = await send(method, url, h, body).catch((err: NodeJS.ErrnoException) => {
            if (body !== undefined && body.length > 16 * 1024 && ['ECONNRESET', 'EPIPE'].includes(err.code ?? '')) return 413;
            throw err;
          });
          expect(status, `${method} ${url} ${JSON.stringify(h)} → ${status}`).toBeGreaterThanOrEqual(200);
          expect(status, `${method} ${url} ${JSON.stringify(h)} → ${status}`).toBeLessThan(500);
          expect(errors.slice(before), `${method} ${url}`).toEqual([]);
        },
      ),
      { numRuns: Number(process.env.API_FUZZ_RUNS ?? 250) },
    );
    // and it still answers
    expect(await send('GET', '/healthz', {})).toBe(200);
  }, 300_000);
});
