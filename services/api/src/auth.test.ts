/**
 * Authentication and authorisation in front of ClickHouse (a store that answers no rows): 401 and
 * 403 for every route and role, JWTs, the stated purpose, tenant scope, limits and the OpenAPI
 * document.
 */
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryRecorder } from './audit.js';
import { ROLES } from './roles.js';
import { ROUTES } from './routes.js';
import {
  ACME_AUDITOR_KEY,
  emptyStore,
  SAMPLE_BODIES,
  SAMPLE_REQUESTS,
  startTestApi,
  TEST_JWT_SECRET,
  TEST_KEYS,
  type TestServer,
} from './testing/index.js';

let api: TestServer;
beforeAll(async () => {
  api = await startTestApi({ store: emptyStore() });
});
afterAll(() => api.close());

const get = (path: string, headers: Record<string, string> = {}) => fetch(`${api.url}${path}`, { headers });
/** The route's sample request: a GET, or a POST of its sample body (with `tenantId` replaced when given). */
const send = (r: (typeof ROUTES)[number], url: string, headers: Record<string, string> = {}, tenantId?: string) =>
  r.method === 'post'
    ? fetch(`${api.url}${url}`, {
        method: 'POST',
        headers: { ...headers, 'content-type': 'application/json' },
        body: JSON.stringify({ ...SAMPLE_BODIES[r.id], ...(tenantId ? { tenantId } : {}) }),
      })
    : get(url, headers);
const asRole = (role: keyof typeof TEST_KEYS, extra: Record<string, string> = {}) => ({
  authorization: `Bearer ${TEST_KEYS[role].key}`,
  'x-purpose': 'security',
  ...extra,
});

async function jwt(claims: Record<string, unknown>, opts: { exp?: string | number; aud?: string; secret?: string } = {}) {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256' })
    .setIssuedAt()
    .setExpirationTime(opts.exp ?? '5m')
    .setAudience(opts.aud ?? 'custos-api')
    .sign(new TextEncoder().encode(opts.secret ?? TEST_JWT_SECRET));
}

describe('every audited route', () => {
  it('has a sample request', () => {
    expect(Object.keys(SAMPLE_REQUESTS).sort()).toEqual(ROUTES.map((r) => r.id).sort());
  });

  for (const r of ROUTES) {
    const url = SAMPLE_REQUESTS[r.id] as string;
    describe(r.id, () => {
      it('answers 401 without a credential, with an unknown key, a malformed header, a bad or expired JWT', async () => {
        const cases: Record<string, string>[] = [
          {},
          { authorization: 'Bearer not-a-key-that-anyone-configured' },
          { 'x-api-key': 'not-a-key-that-anyone-configured' },
          { authorization: 'Basic dXNlcjpwYXNz' },
          {
            authorization: `Bearer ${await jwt({ sub: 's-ira', role: 'auditor', tenants: ['*'] }, { secret: 'another-secret-that-is-long-enough-000000' })}`,
          },
          {
            authorization: `Bearer ${await jwt({ sub: 's-ira', role: 'auditor', tenants: ['*'] }, { exp: Math.floor(Date.now() / 1000) - 60 })}`,
          },
          { authorization: `Bearer ${await jwt({ sub: 's-ira', role: 'auditor', tenants: ['*'] }, { aud: 'someone-else' })}` },
          { authorization: `Bearer ${await jwt({ sub: 's-nobody', role: 'auditor', tenants: ['*'] })}` },
          { authorization: `Bearer ${await jwt({ sub: 's-ira', role: 'superuser', tenants: ['*'] })}` },
        ];
        for (const headers of cases) {
          const res = await send(r, url, { 'x-purpose': 'security', ...headers });
          expect(res.status, JSON.stringify(headers)).toBe(401);
          expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
          expect(((await res.json()) as { error: string }).error).toBeTruthy();
        }
      });

      for (const role of ROLES) {
        const allowed = r.roles.includes(role);
        const ok = r.method === 'post' ? 202 : 200;
        it(`answers ${allowed ? ok : 403} to ${role} (API key and JWT)`, async () => {
          const res = await send(r, url, asRole(role));
          expect(res.status, await res.clone().text()).toBe(allowed ? ok : 403);
          const token = await jwt({ sub: TEST_KEYS[role].staffId, role, tenants: ['*'] });
          const res2 = await send(r, url, { authorization: `Bearer ${token}`, 'x-purpose': 'security' });
          expect(res2.status).toBe(allowed ? ok : 403);
        });
      }

      it('answers 403 for a tenant outside the credential’s scope, 400 without a stated purpose', async () => {
        const role = r.roles.includes('auditor') ? 'auditor' : 'admin';
        const sep = url.includes('?') ? '&' : '?';
        // a POST names its tenant in the body
        const outside =
          r.method === 'post'
            ? url
            : url.includes('tenantId=')
              ? url.replace('tenantId=spera', 'tenantId=client-globex')
              : `${url}${sep}tenantId=client-globex`;
        if (role === 'auditor') {
          const res = await send(
            r,
            outside,
            { authorization: `Bearer ${ACME_AUDITOR_KEY}`, 'x-purpose': 'security' },
            'client-globex',
          );
          expect(res.status).toBe(403);
        }
        const token = await jwt({ sub: 's-ira', role, tenants: ['client-acme'] });
        const res = await send(r, outside, { authorization: `Bearer ${token}`, 'x-purpose': 'security' }, 'client-globex');
        expect(res.status).toBe(403);
        const missing = await send(r, url, { authorization: `Bearer ${TEST_KEYS[role].key}` });
        expect(missing.status).toBe(400);
        expect(((await missing.json()) as { details: { field: string }[] }).details[0]?.field).toBe('requestPurpose');
      });
    });
  }
});

describe('the stated purpose', () => {
  it('is required, must be a bundle purpose and not a prohibited one', async () => {
    const h = { authorization: `Bearer ${TEST_KEYS.auditor.key}` };
    const url = SAMPLE_REQUESTS.searchAccesses as string;
    expect((await get(url, { ...h, 'x-purpose': 'curiosity' })).status).toBe(400);
    const sale = await get(url, { ...h, 'x-purpose': 'sale' });
    expect(sale.status).toBe(400);
    expect(await sale.json()).toMatchObject({ details: [{ field: 'X-Purpose', message: 'a prohibited purpose' }] });
    expect((await get(`${url}&requestPurpose=legal.compliance`, h)).status).toBe(200);
  });

  it('goes into the audit record with the staff member behind the credential', async () => {
    const before = api.recorder.events.length;
    const res = await get('/v1/subjects/cust-9/report?tenantId=spera&format=csv', {
      authorization: `Bearer ${TEST_KEYS.privacy_officer.key}`,
      'x-purpose': 'rights.request',
    });
    expect(res.status).toBe(200);
    const e = api.recorder.events.slice(before);
    expect(e).toHaveLength(1);
    expect(e[0]).toMatchObject({
      tenantId: 'spera',
      actor: { id: 's-dev', type: 'staff' },
      subject: { id: 'cust-9', type: 'customer' },
      categories: ['audit.trail'],
      action: 'export',
      purpose: 'rights.request',
      attributes: { route: 'subjectReport', credential: 'test-privacy_officer', format: 'csv' },
    });
  });
});

describe('refusals', () => {
  it('refuses to answer when the read cannot be recorded (503)', async () => {
    const recorder = new MemoryRecorder();
    recorder.fail = true;
    const failing = await startTestApi({ store: emptyStore(), recorder });
    try {
      const res = await fetch(`${failing.url}${SAMPLE_REQUESTS.searchAccesses}`, { headers: asRole('auditor') });
      expect(res.status).toBe(503);
    } finally {
      await failing.close();
    }
  });

  it('rate limits per client', async () => {
    const limited = await startTestApi({ store: emptyStore(), limits: { rateLimitPerMin: 3 } });
    try {
      const codes: number[] = [];
      for (let i = 0; i < 5; i++) codes.push((await fetch(`${limited.url}/v1/me`, { headers: asRole('auditor') })).status);
      expect(codes).toEqual([200, 200, 200, 429, 429]);
    } finally {
      await limited.close();
    }
  });

  it('refuses long URLs and request bodies', async () => {
    expect((await get(`/v1/accesses?subjectId=${'x'.repeat(5000)}`, asRole('auditor'))).status).toBe(414);
    const res = await fetch(`${api.url}/v1/accesses`, { method: 'POST', headers: asRole('auditor'), body: 'x'.repeat(20_000) });
    expect(res.status).toBe(413);
  });

  it('names the bad fields in a 400', async () => {
    const res = await get('/v1/accesses?limit=100000&outcome=maybe&from=yesterday&color=blue', asRole('auditor'));
    expect(res.status).toBe(400);
    const fields = ((await res.json()) as { details: { field: string }[] }).details.map((d) => d.field).sort();
    expect(fields).toEqual(['color', 'from', 'limit', 'outcome']);
  });

  it('bounds time ranges', async () => {
    const res = await get('/v1/accesses?from=2020-01-01T00:00:00Z&to=2026-01-01T00:00:00Z', asRole('auditor'));
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ details: [{ field: 'from' }] });
    expect((await get('/v1/accesses?from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z', asRole('auditor'))).status).toBe(400);
    expect(
      (await get('/v1/violations/summary?bucket=hour&from=2025-01-01T00:00:00Z&to=2026-01-01T00:00:00Z', asRole('auditor')))
        .status,
    ).toBe(400);
  });
});

describe('public routes', () => {
  it('serve health, readiness and the OpenAPI document without a credential; metrics with one', async () => {
    expect((await get('/healthz')).status).toBe(200);
    expect((await get('/readyz')).status).toBe(200);
    expect((await get('/metrics')).status).toBe(401);
    const metrics = await (await get('/metrics', asRole('security_analyst'))).text();
    expect(metrics).toContain('custos_api_requests_total');
    expect(metrics).toContain('custos_api_audit_records_total');
    const doc = (await (await get('/v1/openapi.json')).json()) as {
      openapi: string;
      paths: Record<string, Record<string, { 'x-roles'?: string[]; parameters?: { name: string }[] }>>;
    };
    expect(doc.openapi).toBe('3.1.0');
    for (const r of ROUTES) {
      const p = doc.paths[r.path.replace(/:(\w+)/g, '{$1}')]?.[r.method ?? 'get'];
      expect(p?.['x-roles']).toEqual(r.roles);
      expect(p?.parameters?.map((x) => x.name)).toContain('X-Purpose');
    }
    expect(doc.paths['/v1/accesses']?.get?.parameters?.map((x) => x.name)).toEqual(
      expect.arrayContaining([
        'tenantId',
        'subjectId',
        'actorId',
        'department',
        'category',
        'action',
        'purpose',
        'outcome',
        'code',
        'recipientId',
        'from',
        'to',
        'limit',
        'cursor',
      ]),
    );
  });

  it('/v1/me tells the console who is signed in', async () => {
    const me = (await (await get('/v1/me', asRole('privacy_officer'))).json()) as {
      staffId: string;
      role: string;
      routes: string[];
      purposes: { id: string }[];
    };
    expect(me).toMatchObject({ staffId: 's-dev', role: 'privacy_officer' });
    expect(me.routes).toContain('subjectReport');
    expect(me.purposes.map((p) => p.id)).not.toContain('sale');
    expect((await get('/v1/me')).status).toBe(401);
  });
});
