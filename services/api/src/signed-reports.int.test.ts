/**
 * Reports served by the API are signed: each response carries its detached signature
 * (`Custos-Report-Signature`, the base64 of the `.sig.json` companion). Saved as an auditor would
 * save them, they verify offline with the report public key alone (the check `custos report verify`
 * runs, and openssl), an edited copy fails, and each row's decision is provable against the
 * checkpoints the signature names.
 */
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  appendDecisions,
  type ConsistencyProof,
  checkConsistency,
  checkReport,
  createStore,
  insertHead,
  listCheckpoints,
  migrate,
  payloadHash,
  publicKeyPem,
  recoverChain,
  type Store,
  signHead,
  toRow,
  writeCheckpoint,
} from '@custos/store';
import { infraEnv, testStore } from '@custos/test/support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { storeIntegrity } from './integrity.js';
import { ACME_AUDITOR_KEY, fixtureDecisions, startTestApi, TEST_KEYS, type TestServer } from './testing/index.js';

const checkpointKeys = generateKeyPairSync('ed25519');
const reportKeys = generateKeyPairSync('ed25519');
let store: Store;
let api: TestServer;
let dir: string;

beforeAll(async () => {
  const { database, chdbPath } = testStore('signedreports');
  store = createStore({ url: infraEnv().clickhouseUrl, database, chdbPath });
  await migrate(store);
  // chained and checkpointed as the sink would leave them
  // in two checkpoints, each followed by a head, as the sink would leave them
  const rows = fixtureDecisions().map((d, i) => toRow(d, 0, String(i)));
  const half = Math.floor(rows.length / 2);
  let prevHead = '';
  for (const part of [rows.slice(0, half), rows.slice(half)]) {
    await appendDecisions(store, part);
    const state = await recoverChain(store, 0, { window: 10, trusted: [checkpointKeys.publicKey] });
    const cp = await writeCheckpoint(store, state, 'decisions', checkpointKeys.privateKey);
    if (!cp) throw new Error('no checkpoint');
    const head = signHead(
      {
        topic: 'decisions',
        prevHead,
        chains: [{ chain: 0, lastSeq: cp.fields.lastSeq, lastHash: cp.fields.lastHash, checkpoint: payloadHash(cp.payload) }],
        open: [0],
        closed: [],
      },
      checkpointKeys.privateKey,
    );
    await insertHead(store, head);
    prevHead = payloadHash(head.payload);
  }
  const integrity = storeIntegrity(store, { trusted: [checkpointKeys.publicKey], reportKey: reportKeys.privateKey });
  api = await startTestApi({ store, integrity, now: () => new Date('2026-11-15T00:00:00Z') });
  dir = mkdtempSync(join(tmpdir(), 'custos-signed-'));
});
afterAll(async () => {
  await api?.close();
  await store?.client.command({ query: `DROP DATABASE IF EXISTS ${store.database}` }).catch(() => {});
  await store?.close();
});

const headers = { authorization: `Bearer ${TEST_KEYS.admin.key}`, 'x-purpose': 'legal.compliance' };

/** Fetches a report and saves it and its signature file as `curl -OJ` and one `base64 -d` would. */
async function download(path: string): Promise<{ file: string; body: Buffer; sig: { payload: string; signature: string } }> {
  const res = await fetch(`${api.url}${path}`, { headers });
  expect(res.status, await res.clone().text()).toBe(200);
  const name = /filename="([^"]+)"/.exec(res.headers.get('content-disposition') ?? '')?.[1];
  expect(name).toBeTruthy();
  const header = res.headers.get('custos-report-signature');
  expect(header, 'the signature header').toBeTruthy();
  const body = Buffer.from(await res.arrayBuffer());
  const file = join(dir, name as string);
  writeFileSync(file, body);
  writeFileSync(`${file}.sig.json`, Buffer.from(header as string, 'base64'));
  expect(res.headers.get('custos-report-key-id')).toBe(
    JSON.parse(JSON.parse(readFileSync(`${file}.sig.json`, 'utf8')).payload).keyId,
  );
  return { file, body, sig: JSON.parse(readFileSync(`${file}.sig.json`, 'utf8')) };
}

describe('API-served reports are signed', () => {
  const reports = [
    '/v1/reports/periodic?period=2026-10',
    '/v1/reports/periodic?period=2026-10&format=csv',
    '/v1/reports/periodic?period=2026-10&format=pdf',
    '/v1/subjects/cust-1001/report?tenantId=spera',
    '/v1/subjects/cust-1001/report?tenantId=spera&format=csv',
    '/v1/subjects/cust-1001/report?tenantId=spera&format=pdf',
  ];

  it('each verifies offline with the report key alone, and fails once edited', async () => {
    const checkpoints = await listCheckpoints(store, {});
    for (const path of reports) {
      const { file, body, sig } = await download(path);
      const ok = checkReport(readFileSync(file), sig, [reportKeys.publicKey], file);
      expect(ok, path).toMatchObject({ ok: true });
      if (!ok.ok) continue;
      // it rests on the stored checkpoints (the fixture's one chain: its first and last) and the newest head
      expect(ok.fields.checkpoints.sort()).toEqual(checkpoints.map((c) => payloadHash(c.payload)).sort());
      expect(ok.fields.head).toMatch(/^[0-9a-f]{64}$/);
      // not under the checkpoint key: reports have a key of their own
      expect(checkReport(body, sig, [checkpointKeys.publicKey], file).ok).toBe(false);
      // edited after signing
      const edited = Buffer.from(body);
      const mid = Math.floor(edited.length / 2);
      edited[mid] = (edited[mid] as number) ^ 1;
      const bad = checkReport(edited, sig, [reportKeys.publicKey], file);
      expect(bad.ok).toBe(false);
      if (!bad.ok) expect(bad.reason).toMatch(/edited after signing/);
    }
  });

  it('openssl alone checks the signature and the SHA-256 (as the API docs show)', async () => {
    const { file, sig } = await download('/v1/reports/periodic?period=2026-10&format=pdf');
    const pub = join(dir, 'report-public.pem');
    writeFileSync(pub, publicKeyPem(reportKeys.publicKey));
    writeFileSync(join(dir, 'payload'), sig.payload);
    writeFileSync(join(dir, 'sig'), Buffer.from(sig.signature, 'base64'));
    const out = execFileSync(
      'openssl',
      ['pkeyutl', '-verify', '-pubin', '-inkey', pub, '-rawin', '-in', join(dir, 'payload'), '-sigfile', join(dir, 'sig')],
      { encoding: 'utf8' },
    );
    expect(out).toMatch(/Signature Verified Successfully/);
    const sha = execFileSync('openssl', ['dgst', '-sha256', '-r', file], { encoding: 'utf8' }).split(' ')[0];
    expect(JSON.parse(sig.payload).sha256).toBe(sha);
  });

  it("a row's decision is provable against a checkpoint the signature names", async () => {
    const { body, sig } = await download('/v1/subjects/cust-1001/report?tenantId=spera');
    const report = JSON.parse(body.toString()) as { accesses: { eventId: string }[] };
    const eventId = report.accesses[0]?.eventId;
    expect(eventId).toBeTruthy();
    const res = await fetch(`${api.url}/v1/integrity/proof?eventId=${eventId}`, { headers });
    expect(res.status).toBe(200);
    const proof = (await res.json()) as { checkpoint: { payload: string } };
    expect(JSON.parse(sig.payload).checkpoints).toContain(payloadHash(proof.checkpoint.payload));
  });

  it('the report key is listed at /v1/integrity/keys beside the checkpoint key', async () => {
    const res = await fetch(`${api.url}/v1/integrity/keys`, { headers });
    const { keys } = (await res.json()) as { keys: { use: string; publicKey: string }[] };
    expect(keys.map((k) => k.use).sort()).toEqual(['checkpoint', 'report']);
    expect(keys.find((k) => k.use === 'report')?.publicKey).toBe(publicKeyPem(reportKeys.publicKey));
  });
});

describe('consistency between heads', () => {
  it('the newest head extends the one before it: served, and checkable offline; an edited proof fails', async () => {
    const res = await fetch(`${api.url}/v1/integrity/consistency`, { headers });
    expect(res.status).toBe(200);
    const { proof, check } = (await res.json()) as { proof: ConsistencyProof; check: { ok: boolean } };
    expect(check.ok).toBe(true);
    expect(proof.chains.map((c) => [c.chain, c.checkpoints.length])).toEqual([[0, 1]]);
    expect(checkConsistency(proof, [checkpointKeys.publicKey])).toMatchObject({
      ok: true,
      chains: [{ chain: 0, checkpoints: 1 }],
    });
    const cut = { ...proof, chains: [{ chain: 0, checkpoints: [] }] };
    expect(checkConsistency(cut, [checkpointKeys.publicKey]).ok).toBe(false);
    const swapped = { ...proof, from: proof.to, to: proof.from };
    expect(checkConsistency(swapped, [checkpointKeys.publicKey]).ok).toBe(false);
    // named by hash prefix; an unknown head is 404; a credential for one tenant is refused
    const from = (await fetch(`${api.url}/v1/integrity/consistency?to=${'0'.repeat(16)}`, { headers })).status;
    expect(from).toBe(404);
    const scoped = await fetch(`${api.url}/v1/integrity/consistency`, {
      headers: { authorization: `Bearer ${ACME_AUDITOR_KEY}`, 'x-purpose': 'legal.compliance' },
    });
    expect(scoped.status).toBe(403);
  });
});
