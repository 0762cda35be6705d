/**
 * Merkle trees as in RFC 6962 / RFC 9162 §2.1: leaf hash SHA-256(0x00 ‖ data), node hash
 * SHA-256(0x01 ‖ left ‖ right), the left subtree of n leaves holding the largest power of two below n.
 * One tree per checkpoint segment: its leaves are the segment's rows in chain order, each leaf's data
 * the row's canonical bytes (what its chain hash covers), so an inclusion proof shows one decision
 * without the others.
 */
import { hash } from 'node:crypto';

const LEAF = Buffer.from([0]);

export function leafHash(data: Buffer | string): Buffer {
  return hash('sha256', Buffer.concat([LEAF, typeof data === 'string' ? Buffer.from(data, 'utf8') : data]), 'buffer');
}

export function nodeHash(left: Buffer, right: Buffer): Buffer {
  const b = Buffer.allocUnsafe(65);
  b[0] = 1;
  left.copy(b, 1);
  right.copy(b, 33);
  return hash('sha256', b, 'buffer');
}

/** Largest power of two strictly below n (n ≥ 2). */
function split(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

const EMPTY_ROOT = hash('sha256', Buffer.alloc(0), 'buffer');

/** MTH of leaves[lo, hi). */
function subtree(leaves: readonly Buffer[], lo: number, hi: number): Buffer {
  const n = hi - lo;
  if (n === 1) return leaves[lo] as Buffer;
  const k = split(n);
  return nodeHash(subtree(leaves, lo, lo + k), subtree(leaves, lo + k, hi));
}

/** The tree head (root) of these leaf hashes. */
export function merkleRoot(leaves: readonly Buffer[]): Buffer {
  return leaves.length === 0 ? EMPTY_ROOT : subtree(leaves, 0, leaves.length);
}

/**
 * The tree head of leaf hashes held as 32-character latin1 strings (the chain's form: one character a
 * byte). The same root as `merkleRoot`, computed level by level in one buffer: pair neighbours, carry
 * an odd last node up unchanged — which builds exactly the tree of the largest-power-of-two split. No
 * Buffer per node: a segment of 100 000 rows took ~2.3 CPU µs a leaf through `merkleRoot` and ~0.8 here,
 * on the sink's thread at every checkpoint.
 */
export function merkleRootOfLatin1(leaves: readonly string[]): Buffer {
  let n = leaves.length;
  if (n === 0) return Buffer.from(EMPTY_ROOT);
  const level = Buffer.allocUnsafe(n * 32);
  for (let i = 0; i < n; i++) level.write(leaves[i] as string, i * 32, 32, 'latin1');
  const node = Buffer.allocUnsafe(65);
  node[0] = 1;
  while (n > 1) {
    const pairs = n >> 1;
    for (let i = 0; i < pairs; i++) {
      level.copy(node, 1, 64 * i, 64 * i + 64);
      // a latin1 ('binary') string result costs less than a Buffer one
      level.write(hash('sha256', node, 'binary'), 32 * i, 32, 'latin1');
    }
    if (n & 1) level.copy(level, 32 * pairs, 32 * (n - 1), 32 * n);
    n = pairs + (n & 1);
  }
  return Buffer.from(level.subarray(0, 32));
}

/** `Buffer#latin1Write`: Node's own one-byte-string copy, several times cheaper than `write(…, 'latin1')`. */
interface Latin1Writable {
  latin1Write(s: string, offset: number, length: number): number;
}
export const writeLatin1: (b: Buffer, s: string, offset: number, length: number) => void =
  typeof (Buffer.prototype as unknown as Partial<Latin1Writable>).latin1Write === 'function'
    ? (b, s, offset, length) => void (b as unknown as Latin1Writable).latin1Write(s, offset, length)
    : (b, s, offset, length) => void b.write(s, offset, length, 'latin1');

/** 0x01 ‖ left ‖ right of one node hash; shared, as node hashing is synchronous and a frontier's
 * state is then its subtree roots alone (two frontiers over the same leaves compare equal) */
const NODE_SCRATCH = Buffer.alloc(65);
NODE_SCRATCH[0] = 1;

/**
 * The tree head of a growing list of leaves, kept as it grows: the roots of the perfect subtrees the
 * leaves so far make (one per 1 bit of their count, largest first). A leaf merges with the subtrees it
 * completes (one node hash a leaf on average), and the head folds them right to left — the same tree
 * as RFC 6962's largest-power-of-two split, so the same root as `merkleRoot` over all the leaves.
 * The chain adds each batch's leaves once it is stored: the node hashes are spread over the batches,
 * where the rows' inserts run, instead of all at the checkpoint, and no list of leaves is held.
 */
export class MerkleFrontier {
  /** roots of the perfect subtrees, leftmost (largest) first, 32-character latin1 strings */
  private readonly nodes: string[] = [];
  private count = 0;

  /** leaves added */
  get size(): number {
    return this.count;
  }

  /** Adds a leaf hash (32-character latin1 string, as the chain makes them). */
  push(leaf: string): void {
    let h = leaf;
    // each trailing 1 bit of the count is a complete subtree of that height, left of the new leaf
    for (let n = this.count; n % 2 === 1; n = Math.floor(n / 2)) h = this.node(this.nodes.pop() as string, h);
    this.nodes.push(h);
    this.count += 1;
  }

  /** The tree head of the leaves added so far. */
  root(): Buffer {
    const nodes = this.nodes;
    if (nodes.length === 0) return Buffer.from(EMPTY_ROOT);
    let h = nodes[nodes.length - 1] as string;
    for (let i = nodes.length - 2; i >= 0; i--) h = this.node(nodes[i] as string, h);
    return Buffer.from(h, 'latin1');
  }

  private node(left: string, right: string): string {
    const b = NODE_SCRATCH;
    writeLatin1(b, left, 1, 32);
    writeLatin1(b, right, 33, 32);
    return hash('sha256', b, 'binary');
  }
}

/** The audit path of leaf `index` (RFC 9162 §2.1.3.1), nearest sibling first. */
export function inclusionProof(leaves: readonly Buffer[], index: number): Buffer[] {
  if (!(index >= 0 && index < leaves.length)) throw new RangeError(`leaf ${index} is not in a tree of ${leaves.length}`);
  const path: Buffer[] = [];
  let lo = 0;
  let hi = leaves.length;
  // Descend from the root, collecting the sibling subtree at each level; reversed at the end.
  while (hi - lo > 1) {
    const k = split(hi - lo);
    if (index < lo + k) {
      path.push(subtree(leaves, lo + k, hi));
      hi = lo + k;
    } else {
      path.push(subtree(leaves, lo, lo + k));
      lo += k;
    }
  }
  return path.reverse();
}

/** RFC 9162 §2.1.3.2: whether `proof` shows leaf `index` of a tree of `size` leaves under `root`. */
export function verifyInclusion(index: number, size: number, leaf: Buffer, proof: readonly Buffer[], root: Buffer): boolean {
  if (!(index >= 0 && index < size)) return false;
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  for (const p of proof) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHash(p, r);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      r = nodeHash(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && r.equals(root);
}
