import { generateKeyPairSync } from 'node:crypto';
import { canonicalJson, decisionAvro, toAvro } from '@custos/schemas';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type Candidate,
  commit,
  emptyChain,
  emptySegment,
  genesisHash,
  linkHash,
  prepare,
  RecentIds,
  releaseBody,
} from './chain.js';
import { checkpointOf } from './chain-store.js';
import { type Checkpoint, checkSignature, payloadHash, signCheckpoint } from './checkpoints.js';
import { storeEnv } from './config.js';
import {
  type AvroDecision,
  ContentArena,
  canonical,
  INSERT_COLUMNS,
  insertLine,
  normalizeUuid,
  rowFromAvro,
  storedFromValues,
  toRow,
} from './decisions.js';
import { classifyStoreError, isTimeoutError } from './errors.js';
import { sampleDecisions } from './fixtures.js';
import { leafHash, merkleRoot } from './merkle.js';
import { CLUSTER_MIGRATIONS_DIR, loadMigrations, statements } from './migrations.js';
import { ttlExpression } from './retention.js';

const decisions = sampleDecisions(300, { start: Date.parse('2026-10-01T00:00:00Z'), spanMs: 86_400_000, actors: 50 });

describe('decision rows', () => {
  it('maps the Avro form exactly as the JSON form', () => {
    for (const [i, d] of decisions.entries()) {
      const withExtras =
        i % 3
          ? d
          : { ...d, event: { ...d.event, attributes: { b: '2', a: '1', '10': 'x' }, dataCollectedAt: d.event.occurredAt } };
      const avro = toAvro(decisionAvro, withExtras) as unknown as AvroDecision;
      expect(rowFromAvro(avro, 2, String(i))).toEqual(toRow(withExtras, 2, String(i)));
    }
  });

  it('rebuilds the same canonical bytes from the values read back', () => {
    const row = { ...toRow(decisions[0]!, 1, '17'), attributes: { z: '1', '2': 'two', a: 'é\n"' }, chain_seq: 5 };
    const text = canonical(row);
    const line = `${text.slice(0, -1)},"${'ab'.repeat(32)}"]`;
    const back = storedFromValues(JSON.parse(line));
    expect(Object.keys(back)).toEqual(INSERT_COLUMNS);
    expect(canonical(back)).toBe(text);
  });

  it('writes UUIDs as ClickHouse prints them and leaves non-UUIDs alone', () => {
    expect(normalizeUuid('0190A1B2-C3D4-7E5F-8A9B-0C1D2E3F4A5B')).toBe('0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b');
    expect(normalizeUuid('{0190a1b2c3d47e5f8a9b0c1d2e3f4a5b}')).toBe('0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b');
    expect(normalizeUuid('not-a-uuid')).toBe('not-a-uuid');
  });
});

const candidates = (chain: number, from = 0, n = decisions.length): Candidate[] =>
  decisions
    .slice(from, from + n)
    .map((d, i) => ({ offset: String((from + i) * 2), row: toRow(d, chain, String((from + i) * 2)) }));

describe('chain', () => {
  it('is a pure function of the record sequence, whatever the batch boundaries', () => {
    const a = emptyChain(0, 1000);
    const all = prepare(a, candidates(0));
    const b = emptyChain(0, 1000);
    const hashes: string[] = [];
    for (const size of [1, 7, 50, 242]) {
      const from = b.seq;
      const p = prepare(b, candidates(0, from, size));
      commit(b, p);
      hashes.push(...p.rows.map((r) => r.chain_hash));
    }
    expect(hashes).toEqual(all.rows.map((r) => r.chain_hash));
    expect(all.rows[0]!.chain_hash).toBe(linkHash(genesisHash(0), canonical(all.rows[0]!)));
    // each row's Merkle leaf, hashed in place in the body, is SHA-256(0x00 ‖ its canonical bytes)
    expect(all.leaves).toEqual(all.rows.map((r) => leafHash(canonical(r)).toString('latin1')));
    expect(b.segment.tree.size).toBe(all.leaves.length);
    expect(b.segment.tree.root()).toEqual(merkleRoot(all.leaves.map((l) => Buffer.from(l, 'latin1'))));
  });

  it('writes exactly the documented chain, leaves and lines, for any rows and batch boundaries (property test against the plain definition)', () => {
    const text = fc.string({ unit: 'binary', maxLength: 12 });
    const row = fc.record({
      i: fc.nat({ max: decisions.length - 1 }),
      legal: text,
      ip: text,
      reason: fc.array(text, { maxLength: 3 }),
    });
    fc.assert(
      fc.property(
        fc.array(row, { minLength: 1, maxLength: 40 }),
        fc.array(fc.integer({ min: 1, max: 15 }), { minLength: 1 }),
        (specs, cuts) => {
          const rows = specs.map((x, k) => {
            const r = toRow(decisions[x.i]!, 3, String(k * 2));
            // unique ids (no duplicate skipping), any text (non-ASCII, quotes, control characters) in free-text columns
            return { ...r, event_id: `id-${k}`, legal_basis: x.legal, source_ip: x.ip, reason_messages: x.reason };
          });
          const state = emptyChain(3, 1000);
          const lines: string[] = [];
          const leaves: string[] = [];
          for (let from = 0, c = 0; from < rows.length; c++) {
            const n = cuts[c % cuts.length]!;
            const p = prepare(
              state,
              rows.slice(from, from + n).map((r) => ({ offset: r.kafka_offset, row: { ...r } })),
            );
            lines.push(...p.body.toString('utf8').split('\n'));
            leaves.push(...p.leaves);
            commit(state, p);
            from += n;
          }
          // the plain definition: hash(seq) = SHA-256(hash(seq − 1) ‖ canonical), leaf = SHA-256(0x00 ‖ canonical)
          let prev = genesisHash(3);
          rows.forEach((r, k) => {
            const text = canonical({ ...r, chain_seq: k + 1 });
            const h = linkHash(prev, text);
            expect(lines[k]).toBe(insertLine(text, h));
            expect(Buffer.from(leaves[k]!, 'latin1').equals(leafHash(text))).toBe(true);
            prev = h;
          });
          expect(state.hash).toBe(prev);
          expect(state.segment.tree.root()).toEqual(
            merkleRoot(rows.map((r, k) => leafHash(canonical({ ...r, chain_seq: k + 1 })))),
          );
        },
      ),
      { numRuns: 100 },
    );
  });

  it('signs a checkpoint naming the previous one and the Merkle tree head of its rows', () => {
    const { privateKey } = generateKeyPairSync('ed25519');
    const s = emptyChain(0, 1000);
    const p = prepare(s, candidates(0, 0, 30));
    commit(s, p);
    const first = checkpointOf(s, 'decisions', privateKey) as Checkpoint;
    expect(first.fields).toMatchObject({
      v: 2,
      prevCheckpoint: '',
      merkleRoot: merkleRoot(p.leaves.map((l) => Buffer.from(l, 'latin1'))).toString('hex'),
      records: 30,
    });
    s.segment = emptySegment(s.seq, s.hash, Date.now(), payloadHash(first.payload));
    commit(s, prepare(s, candidates(0, 30, 10)));
    const second = checkpointOf(s, 'decisions', privateKey) as Checkpoint;
    expect(second.fields).toMatchObject({ prevSeq: 30, prevCheckpoint: payloadHash(first.payload), records: 10 });
    expect(checkSignature(second, [privateKey]).ok).toBe(true);
  });

  it('skips re-delivered records and duplicates within the window', () => {
    const s = emptyChain(1, 5);
    commit(s, prepare(s, candidates(1, 0, 10)));
    const again = prepare(s, candidates(1, 5, 10));
    expect(again.skipped.filter((x) => x.reason === 'redelivered')).toHaveLength(5);
    expect(again.rows.map((r) => r.chain_seq)).toEqual([11, 12, 13, 14, 15]);
    const dupRecent = { offset: '1000', row: { ...toRow(decisions[8]!, 1, '1000') } };
    const dupOld = { offset: '1002', row: { ...toRow(decisions[1]!, 1, '1002') } };
    const p = prepare(s, [dupRecent, dupOld]);
    expect(p.skipped).toEqual([{ offset: '1000', eventId: dupRecent.row.event_id, reason: 'duplicate', duplicateOf: 9 }]);
    expect(p.rows.map((r) => r.event_id)).toEqual([dupOld.row.event_id]);
  });

  it('reuses a released body buffer, and only a released one, with the same bytes as a fresh one', () => {
    const fresh = prepare(emptyChain(2, 1000), candidates(2, 0, 40));
    const expected = Buffer.from(fresh.body);
    const s = emptyChain(2, 1000);
    const first = prepare(s, candidates(2, 0, 40));
    const held = prepare(emptyChain(2, 1000), candidates(2, 0, 40));
    expect(held.backing === first.backing).toBe(false); // not released: never shared
    const backing = first.backing;
    releaseBody(first);
    expect(first.backing).toBeUndefined();
    const again = prepare(emptyChain(2, 1000), candidates(2, 0, 40));
    expect(again.backing === backing).toBe(true);
    expect(Buffer.compare(again.body, expected)).toBe(0);
    expect(Buffer.compare(held.body, expected)).toBe(0);
  });
});

describe('content arena', () => {
  it('hands its chunks to later recycled arenas on release, never while in use', () => {
    const a = ContentArena.recycled();
    a.reserve(100);
    const chunk = a.buf;
    const b = ContentArena.recycled();
    b.reserve(100);
    expect(b.buf === chunk).toBe(false);
    a.release();
    expect(a.buf.length).toBe(0);
    const c = ContentArena.recycled();
    c.reserve(100);
    expect(c.buf === chunk).toBe(true);
    // a plain arena neither takes from nor gives to the free list
    const plain = new ContentArena();
    plain.reserve(100);
    const own = plain.buf;
    plain.release();
    const d = ContentArena.recycled();
    d.reserve(100);
    expect(d.buf === own).toBe(false);
  });
});

describe('recent eventIds', () => {
  it('answers exactly within the window, for UUIDs and other ids, across rebuilds', () => {
    const r = new RecentIds(1000);
    const id = (i: number) => `0190a1b2-c3d4-7e5f-8a9b-${i.toString(16).padStart(12, '0')}`;
    for (let s = 1; s <= 5000; s++) r.set(s % 7 ? id(s) : `plain-${s}`, s);
    expect(r.get(id(4999), 5000)).toBe(4999);
    expect(r.get('plain-4998', 5000)).toBe(4998);
    expect(r.get(id(3999), 5000)).toBeUndefined(); // left the window
    expect(r.get(id(4999).replace('0190', '0191'), 5000)).toBeUndefined(); // same last 48 bits, another id
    expect(r.size).toBe(1000);
  });
});

describe('checkpoints', () => {
  const { privateKey } = generateKeyPairSync('ed25519');
  const other = generateKeyPairSync('ed25519');
  const fields = {
    topic: 'decisions',
    chain: 3,
    prevSeq: 0,
    prevHash: genesisHash(3),
    lastSeq: 10,
    lastHash: 'ab'.repeat(32),
    lastOffset: '19',
    records: 10,
    decidedFrom: '2026-10-01T00:00:00.000Z',
    decidedTo: '2026-10-01T01:00:00.000Z',
    occurredFrom: '2026-10-01T00:00:00.000Z',
    occurredTo: '2026-10-01T01:00:00.000Z',
  };

  it('signs canonical JSON and verifies with the public key only', () => {
    const cp = signCheckpoint(fields, privateKey);
    expect(cp.payload).toBe(canonicalJson(JSON.parse(cp.payload)));
    expect(checkSignature(cp, [privateKey]).ok).toBe(true);
  });

  it('rejects an edited payload and a key that is not trusted', () => {
    const cp = signCheckpoint(fields, privateKey);
    const edited = { ...cp, payload: cp.payload.replace('"lastSeq":10', '"lastSeq":11') };
    expect(checkSignature(edited, [privateKey])).toMatchObject({ ok: false, reason: /signature/ });
    const foreign = signCheckpoint(fields, other.privateKey);
    expect(checkSignature(foreign, [privateKey])).toMatchObject({ ok: false, reason: /not a trusted key/ });
  });
});

describe('retention', () => {
  it('keeps at least a year and never less than a legal hold', () => {
    expect(ttlExpression({ days: 365, holds: [] })).toBe("toDateTime(decided_at, 'UTC') + toIntervalDay(365)");
    const e = ttlExpression({ days: 400, holds: [{ id: 'x', tenantId: "o'neil", until: '2030-01-01' }, { id: 'y' }] });
    expect(e).toContain("if(tenant_id = 'o\\'neil', toDateTime('2030-01-01 00:00:00', 'UTC'), toDateTime(0, 'UTC'))");
    expect(e).toContain("toDateTime('2105-12-31 00:00:00', 'UTC')");
    expect(() => ttlExpression({ days: 30, holds: [] })).toThrow(/at least 365/);
  });

  it('reads retention and holds from the environment', () => {
    const env = storeEnv.parse({ AUDIT_LEGAL_HOLDS: '[{"id":"KOL-1","subjectId":"cust-1"}]' });
    expect(env.AUDIT_RETENTION_DAYS).toBe(365);
    expect(env.AUDIT_LEGAL_HOLDS).toEqual([{ id: 'KOL-1', subjectId: 'cust-1' }]);
    expect(storeEnv.safeParse({ AUDIT_RETENTION_DAYS: '90' }).success).toBe(false);
    expect(storeEnv.safeParse({ AUDIT_LEGAL_HOLDS: '[{"until":"2030"}]' }).success).toBe(false);
  });
});

describe('store errors', () => {
  it('tells a bad record from an unavailable store by code', () => {
    expect(classifyStoreError({ clickhouseCode: 376 })).toBe('record');
    expect(classifyStoreError({ code: '60' })).toBe('retriable');
    expect(classifyStoreError(new Error('socket hang up'))).toBe('retriable');
  });

  it('tells a timed-out query by code (chDB: clickhouseCode; the server: a string code)', () => {
    expect(isTimeoutError({ clickhouseCode: 159 })).toBe(true);
    expect(isTimeoutError({ code: '160' })).toBe(true);
    expect(isTimeoutError(new Error('wrapped', { cause: { code: 209 } }))).toBe(true);
    expect(classifyStoreError({ clickhouseCode: 159 })).toBe('retriable');
    expect(isTimeoutError({ code: '60' })).toBe(false);
    expect(isTimeoutError(new Error('Timeout error.'))).toBe(false);
  });
});

describe('migrations', () => {
  it('has a replicated-cluster variant of every migration, with the same numbers', () => {
    const single = loadMigrations();
    const cluster = loadMigrations(CLUSTER_MIGRATIONS_DIR);
    expect(cluster.map((m) => [m.version, m.name])).toEqual(single.map((m) => [m.version, m.name]));
    for (const m of cluster) {
      const sql = statements(m.sql, 'custos', 'main').join('\n');
      expect(sql).not.toMatch(/\{db\}|\{cluster\}/);
      expect(sql).toMatch(/ON CLUSTER main/);
    }
    expect(() => statements(cluster[0]!.sql, 'custos')).toThrow(/cluster/);
  });
});
