/**
 * Tampering with stored rows and checkpoints in every way an operator with write access could, on
 * real ClickHouse, and the verifier naming each one. The chains are written by the same code the
 * sink uses (prepare → insert → commit → checkpoint); each scenario works on its own copy.
 */
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { infraEnv, testStore } from '@custos/test/support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commit, emptyChain, linkHash, prepare } from './chain.js';
import { insertPrepared, recoverChain, writeCheckpoint } from './chain-store.js';
import { exportCheckpoints, insertCheckpoint, readCheckpointFiles, signCheckpoint } from './checkpoints.js';
import { createStore, type Store, withDatabase } from './client.js';
import { canonical, INSERT_COLUMNS, insertLine, readStored, type StoredDecision, toRow } from './decisions.js';
import { sampleDecisions } from './fixtures.js';
import { migrate } from './migrations.js';
import { type Finding, formatReport, type VerifyOptions, verifyRange } from './verify.js';

const CHAINS = 3;
const ROWS = 430; // per chain: checkpoints at 100, 200, 300, 400; 30 rows after the last one
const { privateKey } = generateKeyPairSync('ed25519');
const stranger = generateKeyPairSync('ed25519').privateKey;
const trusted: KeyObject[] = [privateKey];
const START = Date.parse('2026-10-01T00:00:00Z');
const DAY = 86_400_000;

let root: Store;
let base: Store;
let exportDir: string;
let copies = 0;

/** A copy of the base database to tamper with. */
async function copy(): Promise<Store> {
  const s = withDatabase(root, `${root.database}_c${copies++}`);
  await migrate(s);
  for (const t of ['decisions', 'checkpoints']) {
    await s.client.command({ query: `INSERT INTO ${s.table(t)} SELECT * FROM ${base.table(t)}` });
  }
  return s;
}

async function sql(s: Store, q: string): Promise<void> {
  await s.client.command({ query: q, clickhouse_settings: { mutations_sync: '2' } });
}

/** Writes rows exactly as given (no chaining): what an attacker with INSERT rights can do. */
async function insertRaw(s: Store, rows: StoredDecision[]): Promise<void> {
  await s.insertRaw({
    table: s.table('decisions'),
    columns: INSERT_COLUMNS,
    format: 'JSONCompactEachRow',
    body: Buffer.from(rows.map((r) => insertLine(canonical(r), r.chain_hash)).join('\n')),
  });
}

const rowAt = async (s: Store, chain: number, seq: number) =>
  (await readStored(s, 'kafka_partition = {c:UInt16} AND chain_seq = {s:UInt64}', { c: chain, s: seq }))[0] as StoredDecision;

const errors = (fs: Finding[]) => fs.filter((f) => f.severity === 'error');
// The chain scenarios tamper with `decisions` alone; the read model's own check (which would also
// see those edits, as the copy no longer matches) has its scenarios at the end.
const verify = (s: Store, o: Partial<VerifyOptions> = {}) => verifyRange(s, { trusted, readModel: false, ...o });
const readModelErrors = (fs: Finding[]) =>
  errors(fs)
    .filter((f) => f.kind === 'read_model_differs')
    .map((f) => [f.eventId, /missing from or altered/.test(f.message) ? 'missing' : 'extra']);

describe('verify: tampering is detected, a clean chain verifies', () => {
  beforeAll(async () => {
    const { database, chdbPath } = testStore('verify');
    root = createStore({ url: infraEnv().clickhouseUrl, database, chdbPath });
    base = withDatabase(root, `${database}_base`);
    await migrate(base);
    const ds = sampleDecisions(CHAINS * ROWS, { start: START, spanMs: 20 * DAY, actors: 60, subjects: 500 });
    for (let c = 0; c < CHAINS; c++) {
      const state = emptyChain(c, 1000);
      const mine = ds.filter((_, i) => i % CHAINS === c);
      for (let i = 0; i < mine.length; i += 50) {
        // offsets step by 2, as transaction markers leave gaps in a transactional topic
        const batch = mine
          .slice(i, i + 50)
          .map((d, j) => ({ offset: String((i + j) * 2), row: toRow(d, c, String((i + j) * 2)) }));
        const p = prepare(state, batch);
        await insertPrepared(base, p);
        commit(state, p);
        if (state.segment.rows >= 100) await writeCheckpoint(base, state, 'decisions', privateKey);
      }
    }
    exportDir = mkdtempSync(join(tmpdir(), 'custos-checkpoints-'));
    await exportCheckpoints(base, exportDir, { trusted });
  });
  afterAll(async () => {
    for (let i = 0; i < copies; i++) await root.client.command({ query: `DROP DATABASE IF EXISTS ${root.database}_c${i}` });
    await root.client.command({ query: `DROP DATABASE IF EXISTS ${base.database}` });
    await root.close();
  });

  it('verifies a clean store, in whole and by time range', async () => {
    const r = await verify(base, { exported: readCheckpointFiles(exportDir) });
    expect(errors(r.findings), formatReport(r)).toEqual([]);
    expect(r.ok).toBe(true);
    expect(r.rows).toBe(CHAINS * ROWS);
    expect(r.checkpoints).toMatchObject({ valid: CHAINS * 4, forged: 0, exported: CHAINS * 4 });
    expect(r.findings.filter((f) => f.kind === 'unchecked_tail')).toHaveLength(CHAINS);
    // The first days only: the first segment of each chain, no tail.
    const part = await verify(base, { from: new Date(START), to: new Date(START + 2 * DAY) });
    expect(part.ok).toBe(true);
    expect(part.chains.map((c) => [c.fromSeq, c.toSeq])).toEqual(Array(CHAINS).fill([1, 100]));
  });

  it('verifies rows whose strings ClickHouse renders differently from the canonical bytes (row by row)', async () => {
    const s = withDatabase(root, `${root.database}_c${copies++}`);
    await migrate(s);
    const state = emptyChain(0, 1000);
    const ds = sampleDecisions(300, { start: START, spanMs: DAY, actors: 5, subjects: 20 });
    const batch = ds.map((d, i) => ({ offset: String(i), row: toRow(d, 0, String(i)) }));
    // U+2028 is escaped by ClickHouse's JSON and not by JSON.stringify; slashes, quotes, emoji, a map
    (batch[120] as (typeof batch)[number]).row.legal_basis = 'a/b "q" \\ é \u2028 😀';
    (batch[121] as (typeof batch)[number]).row.attributes = { z: '1', a: 'x/y', é: '"' };
    const p = prepare(state, batch);
    await insertPrepared(s, p);
    commit(state, p);
    await writeCheckpoint(s, state, 'decisions', privateKey);
    const r = await verify(s, { pageRows: 100 });
    expect(errors(r.findings), formatReport(r)).toEqual([]);
    expect(r.rows).toBe(300);
    // and an edit inside a page that passes the fast path's other checks is still named
    await sql(s, `ALTER TABLE ${s.table('decisions')} UPDATE purpose = 'sale' WHERE kafka_partition = 0 AND chain_seq = 250`);
    const bad = await verify(s, { pageRows: 100 });
    expect(errors(bad.findings).map((f) => [f.kind, f.seq])).toEqual([['modified', 250]]);
  });

  it('keeps verifying older checkpoints after a key rotation, while both keys are trusted', async () => {
    const s = await copy();
    const next = generateKeyPairSync('ed25519').privateKey;
    // The sink, restarted with the new key and both public keys trusted, continues chain 0.
    const state = await recoverChain(s, 0, { window: 1000, trusted: [next, privateKey] });
    expect(state.seq).toBe(ROWS);
    const more = sampleDecisions(40, { start: START + 21 * DAY, spanMs: DAY, actors: 5, subjects: 20 });
    const p = prepare(
      state,
      more.map((d, i) => ({ offset: String(10_000 + i), row: toRow(d, 0, String(10_000 + i)) })),
    );
    await insertPrepared(s, p);
    commit(state, p);
    const cp = await writeCheckpoint(s, state, 'decisions', next);
    // its segment continues the old key's last checkpoint (rows 401…430 recovered, not from seq 0)
    expect(cp?.fields).toMatchObject({ prevSeq: 400, lastSeq: ROWS + 40 });
    expect(cp?.fields.prevCheckpoint).toMatch(/^[0-9a-f]{64}$/);
    const both = await verify(s, { trusted: [privateKey, next] });
    expect(errors(both.findings), formatReport(both)).toEqual([]);
    // without the old key its checkpoints no longer count: named, not silently ignored
    const onlyNew = await verify(s, { trusted: [next] });
    expect(onlyNew.ok).toBe(false);
    expect(new Set(errors(onlyNew.findings).map((f) => f.kind))).toContain('forged_checkpoint');
  });

  it('detects a modified record', async () => {
    const s = await copy();
    const before = await rowAt(s, 1, 150);
    await sql(
      s,
      `ALTER TABLE ${s.table('decisions')} UPDATE outcome = if(outcome = 'deny', 'allow', 'deny') WHERE kafka_partition = 1 AND chain_seq = 150`,
    );
    await sql(s, `ALTER TABLE ${s.table('decisions')} UPDATE purpose = 'sale' WHERE kafka_partition = 2 AND chain_seq = 420`);
    const r = await verify(s);
    expect(r.ok).toBe(false);
    expect(errors(r.findings).map((f) => [f.kind, f.chain, f.seq])).toEqual([
      ['modified', 1, 150],
      ['modified', 2, 420],
    ]);
    expect(errors(r.findings)[0]?.eventId).toBe(before.event_id);
  });

  it('detects a modified record whose hashes were recomputed, at the next checkpoint', async () => {
    const s = await copy();
    // The attacker edits seq 120 of chain 0 and re-chains everything after it, so every row matches
    // its own hash; only the signed checkpoint at 200 (and later) can tell.
    const rows = await readStored(s, 'kafka_partition = 0 AND chain_seq >= 120', {});
    let prev = (await rowAt(s, 0, 119)).chain_hash;
    const forged = rows.map((r) => {
      const edited = r.chain_seq === 120 ? { ...r, actor_id: 's-innocent' } : { ...r };
      edited.chain_hash = linkHash(prev, canonical(edited));
      prev = edited.chain_hash;
      return edited;
    });
    await sql(s, `ALTER TABLE ${s.table('decisions')} DELETE WHERE kafka_partition = 0 AND chain_seq >= 120`);
    await insertRaw(s, forged);
    const r = await verify(s);
    expect(errors(r.findings).map((f) => [f.kind, f.chain, f.seq, f.toSeq])).toEqual([['rewritten', 0, 101, 200]]);
    expect(errors(r.findings)[0]?.message).toMatch(/hashes recomputed \(every later checkpoint disagrees too: seq 300, 400\)/);
  });

  it('detects a deleted record and several consecutive ones', async () => {
    const s = await copy();
    await sql(s, `ALTER TABLE ${s.table('decisions')} DELETE WHERE kafka_partition = 0 AND chain_seq = 42`);
    await sql(s, `ALTER TABLE ${s.table('decisions')} DELETE WHERE kafka_partition = 2 AND chain_seq BETWEEN 250 AND 254`);
    // The row a checkpoint ends at, and the rows after the last checkpoint (seq 401…430 of chain 1)
    await sql(s, `ALTER TABLE ${s.table('decisions')} DELETE WHERE kafka_partition = 1 AND chain_seq = 300`);
    const r = await verify(s);
    expect(errors(r.findings).map((f) => [f.kind, f.chain, f.seq, f.toSeq])).toEqual([
      ['deleted', 0, 42, 42],
      ['deleted', 1, 300, 300],
      ['deleted', 2, 250, 254],
    ]);
    expect(errors(r.findings)[2]?.message).toMatch(/5 consecutive rows/);
  });

  it('cannot see the newest rows deleted after the last checkpoint from ClickHouse alone, but can against exported checkpoints', async () => {
    const s = await copy();
    // Newest rows after the last checkpoint: nothing in ClickHouse contradicts the shorter chain.
    await sql(s, `ALTER TABLE ${s.table('decisions')} DELETE WHERE kafka_partition = 1 AND chain_seq > 410`);
    const alone = await verify(s);
    expect(alone.ok).toBe(true);
    expect(alone.findings.find((f) => f.kind === 'unchecked_tail' && f.chain === 1)?.message).toMatch(
      /only against the decisions topic/,
    );
    // Rows and the checkpoints covering them deleted together: exported checkpoints still know.
    await sql(s, `ALTER TABLE ${s.table('decisions')} DELETE WHERE kafka_partition = 2 AND chain_seq > 350`);
    await sql(s, `ALTER TABLE ${s.table('checkpoints')} DELETE WHERE chain = 2 AND last_seq > 300`);
    expect((await verify(s)).ok).toBe(true); // indistinguishable from a shorter chain
    const r = await verify(s, { exported: readCheckpointFiles(exportDir) });
    expect(errors(r.findings).map((f) => [f.kind, f.chain, f.seq, f.detectedBy])).toEqual([
      ['checkpoint_missing', 2, 400, 'exported-checkpoint'],
      ['deleted', 2, 351, 'exported-checkpoint'],
    ]);
    expect(errors(r.findings)[1]?.toSeq).toBe(400);
  });

  it('detects an inserted record', async () => {
    const s = await copy();
    // A fabricated access claiming seq 77, hashed onto its predecessor like a genuine one.
    const genuine = await rowAt(s, 0, 77);
    const fake = { ...genuine, event_id: '00000000-0000-7000-8000-00000000fa1e', actor_id: 's-ghost' };
    fake.chain_hash = linkHash((await rowAt(s, 0, 76)).chain_hash, canonical(fake));
    // and one appended to chain 2 with a seq in the middle of nowhere
    const stray = {
      ...(await rowAt(s, 2, 10)),
      event_id: '00000000-0000-7000-8000-00000000fa1f',
      chain_seq: 10,
      chain_hash: 'f'.repeat(64),
    };
    await insertRaw(s, [fake, stray]);
    const r = await verify(s);
    expect(errors(r.findings).map((f) => [f.kind, f.chain, f.seq, f.eventId])).toEqual([
      ['inserted', 0, 77, fake.event_id],
      ['inserted', 2, 10, stray.event_id],
    ]);
  });

  it('detects reordered records', async () => {
    const s = await copy();
    const a = await rowAt(s, 0, 60);
    const b = await rowAt(s, 0, 61);
    // Contents swapped, chain columns left in place
    const pick = (r: StoredDecision, place: StoredDecision): StoredDecision => ({
      ...r,
      kafka_offset: place.kafka_offset,
      chain_seq: place.chain_seq,
      chain_hash: place.chain_hash,
    });
    const c = await rowAt(s, 1, 200);
    const d = await rowAt(s, 1, 201);
    await sql(
      s,
      `ALTER TABLE ${s.table('decisions')} DELETE WHERE (kafka_partition = 0 AND chain_seq IN (60, 61)) OR (kafka_partition = 1 AND chain_seq IN (200, 201))`,
    );
    // …and on chain 1, whole rows moved to each other's seq
    await insertRaw(s, [pick(b, a), pick(a, b), { ...d, chain_seq: 200 }, { ...c, chain_seq: 201 }]);
    const r = await verify(s);
    const found = errors(r.findings).map((f) => [f.kind, f.chain, f.seq]);
    expect(found).toContainEqual(['reordered', 0, 60]);
    expect(found).toContainEqual(['reordered', 1, 200]);
    expect(
      found.every(([kind]) => kind === 'reordered'),
      formatReport(r),
    ).toBe(true);
  });

  it('detects forged checkpoints', async () => {
    const s = await copy();
    const [genuine] = await readCheckpointFilesSorted();
    const fields = JSON.parse(genuine!.payload);
    // 1. a checkpoint "signed" by someone else; 2. a genuine payload with the hash edited;
    // 3. the columns of a genuine checkpoint edited (its payload untouched)
    await insertCheckpoint(s, signCheckpoint({ ...fields, lastSeq: 500, records: 500 }, stranger));
    const edited = signCheckpoint(fields, privateKey);
    await insertCheckpoint(s, {
      ...edited,
      payload: edited.payload.replace(fields.lastHash, 'e'.repeat(64)),
      fields: { ...edited.fields, lastHash: 'e'.repeat(64) },
    });
    await sql(
      s,
      `ALTER TABLE ${s.table('checkpoints')} UPDATE last_hash = '${'d'.repeat(64)}' WHERE chain = 1 AND last_seq = 200`,
    );
    const r = await verify(s);
    const forged = errors(r.findings).filter((f) => f.kind === 'forged_checkpoint');
    expect(forged).toHaveLength(3);
    expect(forged.map((f) => f.message)).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/chain 1 at seq 200: columns lastHash differ from the signed payload/),
        expect.stringMatching(/seq 500 .* not a trusted key/),
        expect.stringMatching(/chain 0 at seq 100 .* signature does not match/),
      ]),
    );
    expect(errors(r.findings).filter((f) => f.kind !== 'forged_checkpoint')).toEqual([]);
  });

  it('tells rows deleted by the retention TTL from deleted ones', async () => {
    const s = await copy();
    // A year and a few days later, the first days are past the 365-day retention.
    const now = START + 365 * DAY + 3 * DAY;
    await sql(s, `ALTER TABLE ${s.table('decisions')} DELETE WHERE decided_at < toDateTime64('2026-10-03 00:00:00', 3, 'UTC')`);
    const r = await verify(s, { retentionDays: 365, now });
    expect(errors(r.findings)).toEqual([]);
    expect(r.findings.filter((f) => f.kind === 'expired').length).toBeGreaterThan(0);
    // …but a hole in recent rows is still a deletion
    await sql(s, `ALTER TABLE ${s.table('decisions')} DELETE WHERE kafka_partition = 0 AND chain_seq = 380`);
    const again = await verify(s, { retentionDays: 365, now });
    expect(errors(again.findings).map((f) => [f.kind, f.seq])).toEqual([['deleted', 380]]);
  });

  describe('verify: the subject read model against the decisions', () => {
    const model = (s: Store) => s.table('subject_accesses_v2');

    it('passes when it holds exactly the stored decisions', async () => {
      const r = await verify(base, { readModel: true });
      expect(r.sources).toContain('read-model');
      expect(errors(r.findings), formatReport(r)).toEqual([]);
    });

    it('names an altered, a deleted and an inserted row of the read model', async () => {
      const s = await copy();
      const [a, b] = [await rowAt(s, 0, 10), await rowAt(s, 1, 20)];
      // altered: the report would show an allowed access as denied
      await sql(
        s,
        `ALTER TABLE ${model(s)} UPDATE access = replaceOne(access, '"allow"', '"deny"') WHERE event_id = '${a.event_id}'`,
      );
      // deleted: the report would leave an access out
      await sql(s, `ALTER TABLE ${model(s)} DELETE WHERE event_id = '${b.event_id}'`);
      // inserted: a copy of a row under another event id
      const fake = '00000000-0000-7000-8000-0000000000ff';
      await sql(
        s,
        `INSERT INTO ${model(s)} SELECT * REPLACE (toUUID('${fake}') AS event_id) FROM (SELECT * FROM ${model(s)} WHERE event_id = '${(await rowAt(s, 2, 30)).event_id}')`,
      );
      const r = await verify(s, { readModel: true });
      expect(r.ok).toBe(false);
      expect(readModelErrors(r.findings).sort()).toEqual(
        [
          [a.event_id, 'missing'],
          [a.event_id, 'extra'],
          [b.event_id, 'missing'],
          [fake, 'extra'],
        ].sort(),
      );
      // the chain itself is intact
      expect(errors(r.findings).filter((f) => f.kind !== 'read_model_differs')).toEqual([]);
      // …and a range that leaves those rows out is clean
      const other = await verify(s, { readModel: true, chains: [0], from: new Date(START + 15 * DAY) });
      expect(readModelErrors(other.findings)).toEqual([]);
    });

    it('counts what it does not list', async () => {
      const s = await copy();
      await sql(s, `ALTER TABLE ${model(s)} DELETE WHERE kafka_partition = 1`);
      const r = await verify(s, { readModel: true });
      const listed = r.findings.filter((f) => f.kind === 'read_model_differs');
      expect(listed.at(-1)?.message).toMatch(new RegExp(`… and \\d+ more decisions missing .* \\(${ROWS} in all\\)`));
    });
  });

  describe('verify: the search read model against the decisions', () => {
    const search = (s: Store) => s.table('accesses_by_time');
    const tableOf = (fs: Finding[]) => [
      ...new Set(
        errors(fs)
          .filter((f) => f.kind === 'read_model_differs')
          .map((f) => /accesses_by_time/.test(f.message)),
      ),
    ];

    it('passes a store whose search read model holds exactly the stored decisions', async () => {
      const s = await copy();
      const r = await verify(s, { readModel: true });
      expect(r.sources).toContain('read-model');
      expect(errors(r.findings), formatReport(r)).toEqual([]);
    });

    it('names an altered, a deleted and an inserted row of the search read model', async () => {
      const s = await copy();
      const [a, b, c] = [await rowAt(s, 0, 11), await rowAt(s, 1, 21), await rowAt(s, 2, 31)];
      // altered in a filtered column only: the search would find a denied access under "allow"
      await sql(s, `ALTER TABLE ${search(s)} UPDATE outcome = 'allow' WHERE event_id = '${a.event_id}'`);
      await sql(s, `ALTER TABLE ${search(s)} UPDATE purpose = 'marketing' WHERE event_id = '${c.event_id}'`);
      // deleted: the search would leave an access out
      await sql(s, `ALTER TABLE ${search(s)} DELETE WHERE event_id = '${b.event_id}'`);
      // inserted: a copy of a row under another event id
      const fake = '00000000-0000-7000-8000-0000000000fe';
      await sql(
        s,
        `INSERT INTO ${search(s)} SELECT * REPLACE (toUUID('${fake}') AS event_id) FROM (SELECT * FROM ${search(s)} WHERE event_id = '${(await rowAt(s, 2, 40)).event_id}')`,
      );
      const r = await verify(s, { readModel: true });
      expect(r.ok).toBe(false);
      const expected = [
        [c.event_id, 'missing'],
        [c.event_id, 'extra'],
        [b.event_id, 'missing'],
        [fake, 'extra'],
      ];
      // an outcome edit of an allowed row leaves it as it was
      if (a.outcome !== 'allow') expected.push([a.event_id, 'missing'], [a.event_id, 'extra']);
      expect(readModelErrors(r.findings).sort()).toEqual(expected.sort());
      // every finding names the search's table, none the subject report's
      expect(tableOf(r.findings)).toEqual([true]);
      expect(errors(r.findings).filter((f) => f.kind !== 'read_model_differs')).toEqual([]);
    });

    it('counts what it does not list', async () => {
      const s = await copy();
      await sql(s, `TRUNCATE TABLE ${search(s)}`);
      const r = await verify(s, { readModel: true });
      const listed = r.findings.filter((f) => f.kind === 'read_model_differs');
      expect(listed.at(-1)?.message).toMatch(
        new RegExp(`… and \\d+ more decisions missing .* accesses_by_time \\(${CHAINS * ROWS} in all\\)`),
      );
    });
  });
});

async function readCheckpointFilesSorted() {
  return readCheckpointFiles(exportDir);
}
