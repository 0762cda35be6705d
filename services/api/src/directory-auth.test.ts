/**
 * The directory is the source of truth for who may read: every request checks the staff member
 * against the current bundle (a role held today, a tenant in scope); the API follows bundle changes;
 * JWTs need iat, a bounded age, the audience and (when configured) the issuer; empty settings are
 * errors; a tenant-scoped caller learns nothing about other tenants from /v1/me.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseBundleText } from '@custos/policy';
import { waitFor } from '@custos/test/support';
import { SignJWT } from 'jose';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_POLICY_FILE } from './app.js';
import { createAuthenticator } from './auth.js';
import { loadApiEnv } from './config.js';
import { type Directory, directoryFromBundle } from './directory.js';
import { followPolicy } from './policy-follow.js';
import { ACME_AUDITOR_KEY, emptyStore, startTestApi, TEST_JWT_SECRET, type TestServer } from './testing/index.js';

const bundleText = readFileSync(DEFAULT_POLICY_FILE, 'utf8');
function bundle() {
  const r = parseBundleText(bundleText);
  if (!r.ok) throw new Error('bundle');
  return r.value.bundle;
}
const KEYS = [
  { id: 'k-left', key: 'key-of-a-leaver-000000000000001', staffId: 's-left', role: 'auditor' as const, tenants: ['*'] },
  { id: 'k-intern', key: 'key-of-an-intern-00000000000001', staffId: 's-intern', role: 'auditor' as const, tenants: ['*'] },
  { id: 'k-ira', key: 'key-of-the-auditor-000000000001', staffId: 's-ira', role: 'auditor' as const, tenants: ['*'] },
  {
    id: 'k-priya-acme',
    key: 'key-of-priya-for-acme-00000001',
    staffId: 's-priya',
    role: 'auditor' as const,
    tenants: ['client-acme'],
  },
  { id: 'k-acme', key: ACME_AUDITOR_KEY, staffId: 's-ira', role: 'auditor' as const, tenants: ['client-acme'] },
];
const servers: TestServer[] = [];
afterAll(async () => {
  for (const s of servers) await s.close();
});

let current: Directory = directoryFromBundle(bundle());
async function server(jwt: { issuer?: string; maxAgeS?: number } = {}): Promise<TestServer> {
  const s = await startTestApi({
    store: emptyStore(),
    directory: { current: () => current },
    auth: { apiKeys: KEYS, jwt: { secret: TEST_JWT_SECRET, ...jwt } },
  });
  servers.push(s);
  return s;
}
const me = (s: TestServer, key: string) => fetch(`${s.url}/v1/me`, { headers: { authorization: `Bearer ${key}` } });
const search = (s: TestServer, key: string) =>
  fetch(`${s.url}/v1/accesses`, { headers: { authorization: `Bearer ${key}`, 'x-purpose': 'legal.compliance' } });

describe('the directory decides at every request', () => {
  it('refuses a leaver and someone with no role; serves a current auditor', async () => {
    const s = await server();
    for (const k of ['key-of-a-leaver-000000000000001', 'key-of-an-intern-00000000000001']) {
      for (const res of [await me(s, k), await search(s, k)]) {
        expect(res.status).toBe(401);
        expect(((await res.json()) as { error: string }).error).toMatch(/holds no role/);
      }
    }
    expect((await search(s, 'key-of-the-auditor-000000000001')).status).toBe(200);
  });

  it('a credential whose tenants the staff member does not have is refused', async () => {
    const s = await server();
    expect((await search(s, 'key-of-priya-for-acme-00000001')).status).toBe(403);
  });

  it('follows the directory: a role ended in a new bundle ends access at the next request', async () => {
    const s = await server();
    expect((await search(s, 'key-of-the-auditor-000000000001')).status).toBe(200);
    const b = bundle();
    const ira = b.staff.find((x) => x.id === 's-ira');
    if (!ira) throw new Error('s-ira');
    ira.roles = ira.roles.map((r) => ({ ...r, to: '2020-01-01' }));
    const before = current;
    current = directoryFromBundle(b);
    try {
      expect((await search(s, 'key-of-the-auditor-000000000001')).status).toBe(401);
    } finally {
      current = before;
    }
    expect((await search(s, 'key-of-the-auditor-000000000001')).status).toBe(200);
  });

  it('follows the bundle file as the enforcer does', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'custos-api-policy-'));
    const file = join(dir, 'bundle.json');
    writeFileSync(file, bundleText);
    // the follower's error lines: its verdict on an invalid bundle
    const errors: string[] = [];
    const logger = pino({ level: 'error' }, { write: (line: string) => void errors.push(line) });
    const followed = await followPolicy({ file, logger, debounceMs: 20 });
    try {
      const s = await startTestApi({ store: emptyStore(), directory: followed, auth: { apiKeys: KEYS } });
      servers.push(s);
      expect((await search(s, 'key-of-the-auditor-000000000001')).status).toBe(200);
      const b = bundle();
      b.staff = b.staff.filter((x) => x.id !== 's-ira');
      b.version = `${b.version}-without-ira`;
      writeFileSync(file, JSON.stringify(b));
      await waitFor(() => !followed.current().staff.has('s-ira'), {
        what: 'the bundle without s-ira',
        timeoutMs: 10_000,
        everyMs: 25,
      });
      expect((await search(s, 'key-of-the-auditor-000000000001')).status).toBe(401);
      // an invalid bundle is rejected; the directory stays
      writeFileSync(file, '{"not": "a bundle"}');
      await waitFor(() => errors.some((l) => l.includes('policy bundle rejected')), {
        what: 'the invalid bundle rejected',
        timeoutMs: 10_000,
        everyMs: 25,
      });
      expect(followed.current().staff.has('s-asha')).toBe(true);
    } finally {
      await followed.stop();
    }
  });
});

describe('JWTs', () => {
  const sign = (claims: Record<string, unknown>, o: { iat?: number | false; iss?: string } = {}) => {
    let j = new SignJWT({ sub: 's-ira', role: 'auditor', tenants: ['*'], ...claims })
      .setProtectedHeader({ alg: 'HS256' })
      .setExpirationTime('5m')
      .setAudience('custos-api');
    if (o.iat !== false) j = j.setIssuedAt(o.iat);
    if (o.iss) j = j.setIssuer(o.iss);
    return j.sign(new TextEncoder().encode(TEST_JWT_SECRET));
  };

  it('need iat, and no older than the maximum age', async () => {
    const s = await server({ maxAgeS: 600 });
    expect((await search(s, await sign({}))).status).toBe(200);
    expect((await search(s, await sign({}, { iat: false }))).status).toBe(401);
    const old = await search(s, await sign({}, { iat: Math.floor(Date.now() / 1000) - 3600 }));
    expect(old.status).toBe(401);
    expect(((await old.json()) as { error: string }).error).toMatch(/older than 600 s/);
  });

  it('need the issuer when one is configured', async () => {
    const s = await server({ issuer: 'https://idp.example' });
    expect((await search(s, await sign({}, { iss: 'https://idp.example' }))).status).toBe(200);
    expect((await search(s, await sign({}))).status).toBe(401);
    expect((await search(s, await sign({}, { iss: 'https://elsewhere.example' }))).status).toBe(401);
  });

  it('an empty setting is an error, never a check switched off', () => {
    const dir = directoryFromBundle(bundle());
    for (const jwt of [{ issuer: '' }, { audience: ' ' }, { secret: '', jwksUrl: undefined }]) {
      expect(() => createAuthenticator({ apiKeys: [], jwt }, dir)).toThrow(/empty/);
    }
    for (const v of ['API_JWT_ISSUER', 'API_JWT_AUDIENCE', 'API_JWT_SECRET', 'API_JWT_MAX_AGE_S']) {
      expect(() => loadApiEnv({ [v]: '' }), v).toThrow(new RegExp(v));
    }
  });
});

describe('/v1/me for a tenant-scoped credential', () => {
  it('names only its own tenants', async () => {
    const s = await server();
    const body = (await (await me(s, ACME_AUDITOR_KEY)).json()) as { tenants: string[]; directory: { tenants: string[] } };
    expect(body.tenants).toEqual(['client-acme']);
    expect(body.directory.tenants).toEqual(['client-acme']);
  });
});

describe('integrity for a tenant-scoped credential', () => {
  it('gives the verdict only: no counts or checkpoints spanning other tenants', async () => {
    const integrity = {
      listCheckpoints: async () => [{ id: 'decisions/p0/10', records: 10 }],
      verifyRange: async () => ({ status: 'verified' as const, rows: 1234, counts: { spera: 1000 }, checkpoints: 3 }),
      proof: async () => ({ status: 'unavailable' as const, detail: 'not in this test' }),
      keys: () => [],
    };
    const s = await startTestApi({ store: emptyStore(), integrity, directory: { current: () => current } });
    servers.push(s);
    const get = async (key: string) =>
      (await (
        await fetch(`${s.url}/v1/integrity/verify`, {
          headers: { authorization: `Bearer ${key}`, 'x-purpose': 'legal.compliance' },
        })
      ).json()) as { checkpoints: unknown[]; verification: Record<string, unknown> };
    const scoped = await get(ACME_AUDITOR_KEY);
    expect(scoped.checkpoints).toEqual([]);
    expect(scoped.verification.status).toBe('verified');
    expect(scoped.verification.rows).toBeUndefined();
    expect(scoped.verification.counts).toBeUndefined();
    const all = await get('test-key-auditor-000000000001');
    expect(all.checkpoints).toHaveLength(1);
    expect(all.verification.rows).toBe(1234);
  });
});
