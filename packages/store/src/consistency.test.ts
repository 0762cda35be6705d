import { createHash, generateKeyPairSync } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type Checkpoint, type CheckpointFields, payloadHash, signCheckpoint } from './checkpoints.js';
import { type ConsistencyProof, checkConsistency, entryExtends, headsConsistency } from './consistency.js';
import { type HeadEntry, signHead } from './heads.js';

const { privateKey, publicKey } = generateKeyPairSync('ed25519');
const trusted = [publicKey];
const h = (s: string) => createHash('sha256').update(s).digest('hex');
const T = (i: number) => new Date(Date.UTC(2026, 9, 1) + i * 60_000).toISOString();

/** A chain of checkpoints of `sizes[i]` rows each; `salt` changes the rows' hashes (another history). */
function line(
  sizes: number[],
  salt = '',
  from: { seq: number; hash: string; cp: string } = { seq: 0, hash: h('genesis'), cp: '' },
) {
  const out: Checkpoint[] = [];
  let { seq, hash, cp } = from;
  for (const [i, n] of sizes.entries()) {
    const lastHash = h(`${salt}${seq + n}`);
    const c = signCheckpoint(
      {
        topic: 'decisions',
        chain: 0,
        prevSeq: seq,
        prevHash: hash,
        lastSeq: seq + n,
        lastHash,
        lastOffset: String(seq + n),
        records: n,
        decidedFrom: T(i),
        decidedTo: T(i),
        occurredFrom: T(i),
        occurredTo: T(i),
        createdAt: T(i),
        prevCheckpoint: cp,
        merkleRoot: h(`root${salt}${seq}`),
      },
      privateKey,
    );
    out.push(c);
    seq += n;
    hash = lastHash;
    cp = payloadHash(c.payload);
  }
  return out;
}
const entry = (c: Checkpoint): HeadEntry => ({
  chain: 0,
  lastSeq: c.fields.lastSeq,
  lastHash: c.fields.lastHash,
  checkpoint: payloadHash(c.payload),
});
const byDigest = (cps: Checkpoint[]) => new Map<string, CheckpointFields>(cps.map((c) => [payloadHash(c.payload), c.fields]));
const head = (cps: Checkpoint[], at: number) =>
  signHead({ topic: 'decisions', prevHead: '', chains: cps.map(entry), open: [0], closed: [], createdAt: T(at) }, privateKey);
const proofOf = (from: Checkpoint, to: Checkpoint, path: Checkpoint[]): ConsistencyProof => ({
  v: 1,
  kind: 'custos.decisions.consistency-proof',
  from: head([from], 1),
  to: head([to], 2),
  chains: [{ chain: 0, checkpoints: path.map((c) => ({ payload: c.payload, signature: c.signature })) }],
});

/**
 * Plain reference: `newer` extends `older` iff walking `prevCheckpoint` links back from newer's
 * checkpoint visits older's. Written without the seq shortcuts of `entryExtends`.
 */
function reference(older: HeadEntry, newer: HeadEntry, cps: Checkpoint[]): boolean {
  const m = new Map(cps.map((c) => [payloadHash(c.payload), c.fields]));
  let d: string | undefined = newer.checkpoint;
  while (d) {
    if (d === older.checkpoint) return true;
    d = m.get(d)?.prevCheckpoint;
  }
  return false;
}

describe('consistency between heads', () => {
  it('a later head on the same line extends an earlier one; one over a rewritten history does not', () => {
    const cps = line([3, 5, 2, 7]);
    const [a, b, c, d] = cps as [Checkpoint, Checkpoint, Checkpoint, Checkpoint];
    expect(entryExtends(entry(a), entry(d), byDigest(cps))).toEqual({
      ok: true,
      path: [d, c, b].map((x) => payloadHash(x.payload)),
    });
    expect(entryExtends(entry(b), entry(b), byDigest(cps)).ok).toBe(true);
    // rewritten after b: same seqs, other hashes
    const fork = line([2, 7], 'x', { seq: b.fields.lastSeq, hash: b.fields.lastHash, cp: payloadHash(b.payload) });
    const rewritten = line([3, 5, 2, 7], 'y');
    expect(entryExtends(entry(c), entry(fork[1] as Checkpoint), byDigest([...cps, ...fork])).ok).toBe(false);
    expect(entryExtends(entry(b), entry(rewritten[3] as Checkpoint), byDigest([...cps, ...rewritten])).ok).toBe(false);
    expect(entryExtends(entry(d), entry(a), byDigest(cps)).ok).toBe(false); // cut back
    // a missing link is not judged
    expect(entryExtends(entry(a), entry(d), byDigest([a, b, d])).ok).toBe('unknown');
    // heads: one pair conflicts at seq 10 (c vs fork[0])
    const conflicts = headsConsistency(
      [head([a], 1).fields, head([c], 2).fields, head([fork[0] as Checkpoint], 3).fields],
      byDigest([...cps, ...fork]),
    );
    expect(conflicts.map((x) => [x.chain, x.older.lastSeq, x.newer.lastSeq])).toEqual([[0, 10, 10]]);
  });

  it('agrees with the plain reference walk (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 2, maxLength: 8 }),
        fc.nat(),
        fc.nat(),
        fc.option(fc.nat()),
        (sizes, x, y, forkAt) => {
          const cps = line(sizes);
          const i = x % cps.length;
          const j = y % cps.length;
          let all = cps;
          let newer = cps[Math.max(i, j)] as Checkpoint;
          if (forkAt !== null) {
            const k = forkAt % cps.length;
            const base = k === 0 ? undefined : (cps[k - 1] as Checkpoint);
            const fork = line(
              sizes.slice(k),
              'f',
              base ? { seq: base.fields.lastSeq, hash: base.fields.lastHash, cp: payloadHash(base.payload) } : undefined,
            );
            all = [...cps, ...fork];
            newer = fork.at(-1) as Checkpoint;
          }
          const older = cps[Math.min(i, j)] as Checkpoint;
          const r = entryExtends(entry(older), entry(newer), byDigest(all));
          expect(r.ok === true).toBe(reference(entry(older), entry(newer), all));
        },
      ),
      { numRuns: 150 },
    );
  });

  it('an auditor checks a proof with the public key alone; a shortened or swapped proof fails', () => {
    const cps = line([4, 4, 4, 4]);
    const [a, b, c, d] = cps as [Checkpoint, Checkpoint, Checkpoint, Checkpoint];
    expect(checkConsistency(proofOf(a, d, [b, c, d]), trusted)).toMatchObject({
      ok: true,
      chains: [{ chain: 0, fromSeq: 4, toSeq: 16, checkpoints: 3 }],
    });
    expect(checkConsistency(proofOf(a, d, [b, d]), trusted).ok).toBe(false);
    const other = line([4, 4, 4, 4], 'z');
    expect(checkConsistency(proofOf(a, other[3] as Checkpoint, other.slice(1)), trusted).ok).toBe(false);
    const bad = proofOf(a, d, [b, c, d]);
    (bad.chains[0] as { checkpoints: { payload: string; signature: string }[] }).checkpoints[1] = {
      payload: c.payload.replace('"records":4', '"records":5'),
      signature: c.signature,
    };
    expect(checkConsistency(bad, trusted)).toMatchObject({ ok: false, reason: expect.stringMatching(/not genuine/) });
    expect(checkConsistency(proofOf(a, d, [b, c, d]), [generateKeyPairSync('ed25519').publicKey]).ok).toBe(false);
  });
});
