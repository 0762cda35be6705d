/**
 * The walking skeleton through real parts, with the services as real processes:
 * SDK record() → Avro via the registry → access-events → enforcer process → decisions →
 * sink+API process (one process: embedded chDB) → ClickHouse → GET /v1/accesses.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type AccessEventInput, createAuditClient, uuidv7 } from '@custos/sdk';
import { assertInfraReachable, infraEnv, testStore, uniquePrefix, waitFor } from '@custos/test/support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const API_KEY = `e2e-${randomUUID()}`;
const auth = { authorization: `Bearer ${API_KEY}`, 'x-purpose': 'security' };
const tsx = join(root, 'node_modules', '.bin', 'tsx');

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (addr && typeof addr === 'object' ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

describe('end to end through real processes', () => {
  const { brokers, registryUrl, clickhouseUrl } = infraEnv();
  const prefix = uniquePrefix('e2e');
  const procs: ChildProcess[] = [];
  let output = '';
  let apiUrl = '';
  const logs = () => `--- service logs ---\n${output}`;

  function start(name: string, args: string[], env: NodeJS.ProcessEnv): ChildProcess {
    const p = spawn(tsx, args, { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    const keep = (chunk: Buffer) => {
      output = `${output}${chunk.toString().replace(/^/gm, `[${name}] `)}`.slice(-20_000);
    };
    p.stdout?.on('data', keep);
    p.stderr?.on('data', keep);
    procs.push(p);
    return p;
  }

  beforeAll(async () => {
    await assertInfraReachable(brokers, registryUrl);
    const port = await freePort();
    apiUrl = `http://127.0.0.1:${port}`;
    const { database, chdbPath } = testStore('e2e');
    const env: NodeJS.ProcessEnv = {
      KAFKA_BROKERS: brokers.join(','),
      SCHEMA_REGISTRY_URL: registryUrl,
      TOPIC_PREFIX: prefix,
      TOPIC_PARTITIONS: '3',
      ENFORCER_GROUP_ID: `${prefix}enforcer`,
      ENFORCER_INSTANCE_ID: `${prefix.replace(/\W/g, '')}-0`,
      SINK_GROUP_ID: `${prefix}sink`,
      CLICKHOUSE_DATABASE: database,
      CHDB_PATH: chdbPath,
      CHECKPOINT_KEY_AUTOGEN: 'true',
      CHECKPOINT_KEY_FILE: join(chdbPath, 'checkpoint-ed25519.pem'),
      API_PORT: String(port),
      API_KEYS: JSON.stringify([{ id: 'e2e', key: API_KEY, staffId: 's-kavya', role: 'admin', tenants: ['*'] }]),
      LOG_LEVEL: 'info',
      ...(clickhouseUrl ? { CLICKHOUSE_URL: clickhouseUrl } : {}),
    };
    start('enforcer', ['services/enforcer/src/main.ts'], env);
    start('sink+api', ['packages/cli/src/bin.ts', 'start', '--services', 'sink,api'], env);
    await waitFor(async () => (await fetch(`${apiUrl}/readyz`)).ok, {
      what: 'the API to answer /readyz',
      timeoutMs: 90_000,
      everyMs: 500,
      retryErrors: true,
      detail: logs,
    });
  });

  afterAll(async () => {
    for (const p of procs) p.kill('SIGTERM');
    await Promise.all(procs.map((p) => new Promise((r) => (p.exitCode !== null ? r(null) : p.once('exit', r)))));
  });

  it('a recorded access comes back from the API as a decision', async () => {
    const client = createAuditClient({
      brokers,
      schemaRegistryUrl: registryUrl,
      service: 'e2e-test',
      topicPrefix: prefix,
      spool: { dir: mkdtempSync(join(tmpdir(), 'custos-e2e-spool-')) },
    });
    const subjectId = `cust-${randomUUID().slice(0, 8)}`;
    const allowedId = uuidv7();
    const deniedId = uuidv7();
    const allowed: AccessEventInput = {
      eventId: allowedId,
      tenantId: 'spera',
      actor: { id: 's-asha', type: 'staff' },
      subject: { id: subjectId, type: 'customer' },
      categories: ['personal.contact'],
      action: 'read',
      purpose: 'service.support',
    };
    const denied: AccessEventInput = {
      eventId: deniedId,
      tenantId: 'spera',
      actor: { id: 's-asha', type: 'staff' },
      subject: { id: subjectId, type: 'customer' },
      categories: ['client.financial'],
      action: 'read',
      purpose: 'service.support',
    };
    client.record(allowed);
    client.record(denied);
    expect(await client.close()).toMatchObject({ delivered: true, unsent: 0 });

    type Item = { eventId: string; outcome: string; reasons: { code: string }[]; actor: { id: string }; policyVersion: string };
    const items = await waitFor(
      async () => {
        const res = await fetch(`${apiUrl}/v1/accesses?tenantId=spera&subjectId=${subjectId}`, { headers: auth });
        if (!res.ok) throw new Error(`API answered ${res.status}: ${await res.text()}`);
        const body = (await res.json()) as { items: Item[] };
        return body.items.length >= 2 ? body.items : undefined;
      },
      { what: 'both decisions in the API', timeoutMs: 120_000, everyMs: 500, retryErrors: true, detail: logs },
    );
    const byId = new Map(items.map((i) => [i.eventId, i]));
    expect(byId.get(allowedId)?.outcome).toBe('allow');
    expect(byId.get(deniedId)?.outcome).toBe('deny');
    expect(byId.get(deniedId)?.reasons.map((r) => r.code)).toEqual(['ROLE_NOT_AUTHORIZED']);
    expect(items[0]?.policyVersion).toMatch(/^spera-2026\.11\.1\+sha256:/);
  });
});
