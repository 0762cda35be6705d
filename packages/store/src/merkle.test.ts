import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { inclusionProof, leafHash, MerkleFrontier, merkleRoot, merkleRootOfLatin1, verifyInclusion } from './merkle.js';

/** RFC 6962 §2.1 written out literally: the reference the fast code is checked against. */
function referenceRoot(data: Buffer[]): Buffer {
  if (data.length === 0) return createHash('sha256').digest();
  if (data.length === 1)
    return createHash('sha256')
      .update(Buffer.from([0]))
      .update(data[0] as Buffer)
      .digest();
  let k = 1;
  while (k * 2 < data.length) k *= 2;
  return createHash('sha256')
    .update(Buffer.from([1]))
    .update(referenceRoot(data.slice(0, k)))
    .update(referenceRoot(data.slice(k)))
    .digest();
}

function referencePath(m: number, data: Buffer[]): Buffer[] {
  if (data.length <= 1) return [];
  let k = 1;
  while (k * 2 < data.length) k *= 2;
  return m < k
    ? [...referencePath(m, data.slice(0, k)), referenceRoot(data.slice(k))]
    : [...referencePath(m - k, data.slice(k)), referenceRoot(data.slice(0, k))];
}

describe('Merkle tree (RFC 6962 hashing)', () => {
  it('matches the RFC 6962 test vector for the empty tree and a known leaf', () => {
    expect(merkleRoot([]).toString('hex')).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    // certificate-transparency: leaf hash of the empty string
    expect(leafHash(Buffer.alloc(0)).toString('hex')).toBe('6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d');
  });

  it('agrees with the literal definition on roots and audit paths, and every proof verifies (property test)', () => {
    let seed = 7;
    const rnd = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed;
    };
    for (let trial = 0; trial < 60; trial++) {
      const n = 1 + (rnd() % 70);
      const data = Array.from({ length: n }, () => Buffer.from(String(rnd())));
      const leaves = data.map((d) => leafHash(d));
      const root = merkleRoot(leaves);
      expect(root.equals(referenceRoot(data))).toBe(true);
      for (let m = 0; m < n; m++) {
        const proof = inclusionProof(leaves, m);
        expect(proof.map((p) => p.toString('hex'))).toEqual(referencePath(m, data).map((p) => p.toString('hex')));
        expect(verifyInclusion(m, n, leaves[m] as Buffer, proof, root)).toBe(true);
        // another leaf or index does not verify
        expect(verifyInclusion(m, n, leafHash('other'), proof, root)).toBe(false);
        if (n > 1) expect(verifyInclusion((m + 1) % n, n, leaves[m] as Buffer, proof, root)).toBe(false);
      }
    }
  });

  it('gives the same root from latin1 leaf strings (the form the chain keeps), for every size up to 140 and an odd large one', () => {
    for (const n of [...Array.from({ length: 141 }, (_, i) => i), 1025, 4099]) {
      const data = Array.from({ length: n }, (_, i) => Buffer.from(`row ${i}`));
      const leaves = data.map((d) => leafHash(d).toString('latin1'));
      expect(merkleRootOfLatin1(leaves).toString('hex'), `${n} leaves`).toBe(referenceRoot(data).toString('hex'));
    }
  });

  it('keeps the same root as leaves are added one by one, at every size (property test against the literal definition)', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 40 }), { maxLength: 300 }), fc.array(fc.nat()), (items, looks) => {
        const data = items.map((d) => Buffer.from(d));
        const tree = new MerkleFrontier();
        // the root is asked for at some sizes along the way (asking changes nothing) and at the end
        const at = new Set(looks.map((l) => l % (data.length + 1)));
        for (let i = 0; i <= data.length; i++) {
          if (at.has(i)) expect(tree.root().toString('hex'), `${i} leaves`).toBe(referenceRoot(data.slice(0, i)).toString('hex'));
          if (i < data.length) tree.push(leafHash(data[i] as Buffer).toString('latin1'));
        }
        expect(tree.size).toBe(data.length);
        expect(tree.root().equals(referenceRoot(data))).toBe(true);
      }),
      { numRuns: 200 },
    );
  });

  it('gives the same root as the whole-list computations on large and odd sizes', () => {
    for (const n of [1024, 1025, 4099, 65_537]) {
      const leaves = Array.from({ length: n }, (_, i) => leafHash(`row ${i}`).toString('latin1'));
      const tree = new MerkleFrontier();
      for (const l of leaves) tree.push(l);
      expect(tree.root().toString('hex'), `${n} leaves`).toBe(merkleRootOfLatin1(leaves).toString('hex'));
    }
    expect(new MerkleFrontier().root().equals(merkleRoot([]))).toBe(true);
  });
});
