/** Helpers for the API's tests (and the console e2e tests): credentials per role, a server on a free port, fixtures. */
import type { AddressInfo } from 'node:net';
import type { Store } from '@custos/store';
import { pino } from 'pino';
import { type ApiOptions, createApp, loadDirectory } from '../app.js';
import { MemoryRecorder } from '../audit.js';
import type { ApiKeyConfig } from '../config.js';
import type { Role } from '../roles.js';

export * from './fixtures.js';

/** One plain API key per role (all tenants), plus one auditor key scoped to client-acme. */
export const TEST_KEYS = {
  security_analyst: { key: 'test-key-security-analyst-0001', staffId: 's-kavya' },
  privacy_officer: { key: 'test-key-privacy-officer-00001', staffId: 's-dev' },
  auditor: { key: 'test-key-auditor-000000000001', staffId: 's-ira' },
  admin: { key: 'test-key-admin-00000000000001', staffId: 's-kavya' },
} as const satisfies Record<Role, { key: string; staffId: string }>;
export const ACME_AUDITOR_KEY = 'test-key-auditor-acme-only-01';
export const TEST_JWT_SECRET = 'test-jwt-secret-that-is-long-enough-0123456789';

export function testApiKeys(): ApiKeyConfig[] {
  return [
    ...Object.entries(TEST_KEYS).map(([role, k]) => ({
      id: `test-${role}`,
      key: k.key,
      staffId: k.staffId,
      role: role as Role,
      tenants: ['*'],
    })),
    { id: 'test-auditor-acme', key: ACME_AUDITOR_KEY, staffId: 's-ira', role: 'auditor', tenants: ['client-acme'] },
  ];
}

export const silentLogger = () => pino({ level: 'silent' });

/** A store that answers every query with no rows: for tests of everything in front of ClickHouse. */
export function emptyStore(): Store & { queries: string[] } {
  const queries: string[] = [];
  const client = {
    query: async (q: { query: string }) => {
      queries.push(q.query);
      return { json: async () => [], text: async () => '' };
    },
    close: async () => {},
  };
  const store = {
    client,
    database: 'db',
    mode: 'embedded',
    table: (n: string) => `db.${n}`,
    insertRaw: async () => {},
    close: async () => {},
    queries,
  };
  return store as unknown as Store & { queries: string[] };
}

export interface TestServer {
  url: string;
  recorder: MemoryRecorder;
  close(): Promise<void>;
}

export async function startTestApi(opts: Partial<ApiOptions> & { store: Store }): Promise<TestServer> {
  const recorder = (opts.recorder as MemoryRecorder | undefined) ?? new MemoryRecorder();
  const app = createApp({
    logger: silentLogger(),
    directory: loadDirectory(),
    auth: { apiKeys: testApiKeys(), jwt: { secret: TEST_JWT_SECRET, audience: 'custos-api' } },
    limits: { timeoutS: 30, maxRows: 200_000, maxRangeDays: 400, rateLimitPerMin: 0 },
    subjectState: recorder,
    ...opts,
    recorder,
  });
  const server = app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve, reject) => server.once('listening', resolve).once('error', reject));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    recorder,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** One valid request per audited route (path and query), for matrix tests. */
export const SAMPLE_REQUESTS: Record<string, string> = {
  searchAccesses: '/v1/accesses?from=2026-10-01T00:00:00Z&to=2026-11-01T00:00:00Z',
  subjectReport: '/v1/subjects/cust-1001/report?tenantId=spera',
  actorActivity: '/v1/actors/s-asha/activity?from=2026-10-01T00:00:00Z&to=2026-11-01T00:00:00Z',
  violationsSummary: '/v1/violations/summary?from=2026-10-01T00:00:00Z&to=2026-11-01T00:00:00Z',
  sharing: '/v1/sharing?from=2026-10-01T00:00:00Z&to=2026-11-01T00:00:00Z',
  disclosures: '/v1/disclosures?from=2026-10-01T00:00:00Z&to=2026-11-01T00:00:00Z',
  periodicReport: '/v1/reports/periodic?period=2026-10',
  integrityVerify: '/v1/integrity/verify?from=2026-10-01T00:00:00Z&to=2026-11-01T00:00:00Z',
  integrityProof: '/v1/integrity/proof?eventId=01900000-0000-7000-8000-000000000001',
  integrityConsistency: '/v1/integrity/consistency',
  integrityKeys: '/v1/integrity/keys',
  subjectState: '/v1/subjects/cust-1001/state?tenantId=spera',
  // a POST (SAMPLE_BODIES); the same path read with GET is the subjectState route
  recordSubjectState: '/v1/subjects/cust-1001/state',
};

/** The JSON body of each sample request of a POST route. */
export const SAMPLE_BODIES: Record<string, { tenantId: string } & Record<string, unknown>> = {
  recordSubjectState: { tenantId: 'spera', change: 'promotional_opt_out', reference: 'sample' },
};
export * from './browser.js';
export * from './live.js';
