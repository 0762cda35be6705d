/**
 * The hash chain of stored decisions. One chain per Kafka partition of the decisions topic:
 *
 *   hash(seq) = SHA-256(hash(seq − 1) ‖ canonical bytes of the row at seq),  hash(0) = genesis(chain)
 *
 * with each hash written as its 64 lowercase hex digits (what is stored, and what is hashed: one
 * string, hashed in one call).
 * with seq = 1, 2, 3… over the records the sink stores, in offset order. The chain is a pure
 * function of the partition's record sequence: a record at or below the stored head's offset is a
 * re-delivery and is skipped; a record whose eventId is among the last `window` entries is a
 * duplicate and is skipped. So any sink instance that processes a partition — after a crash, a
 * rebalance, or as a fenced-out zombie racing its successor — computes byte-identical rows, and a
 * row written twice is the same row (collapsed by ReplacingMergeTree), never a fork.
 *
 * `prepare` is pure (it reads the state, never changes it); `commit` applies a prepared batch once
 * the insert succeeded.
 */
import { createHash, hash as digest } from 'node:crypto';
import { BufferPool } from '@custos/schemas/avro';
import { chTimeMs, type DecisionRow, type EncodedDecision, encodeContent, type StoredDecision } from './decisions.js';
import { MerkleFrontier, writeLatin1 } from './merkle.js';

export function genesisHash(chain: number): string {
  return createHash('sha256').update(`custos/decisions-chain/v1/${chain}`).digest('hex');
}

export function linkHash(prevHex: string, canonicalText: string): string {
  return digest('sha256', prevHex + canonicalText, 'hex');
}

/** Running figures of the rows since the last checkpoint, for the next one. */
export interface SegmentStats {
  prevSeq: number;
  prevHash: string;
  rows: number;
  decidedFrom: string | null;
  decidedTo: string | null;
  occurredFrom: string | null;
  occurredTo: string | null;
  /** when the last checkpoint was made (or the chain was opened), epoch ms */
  since: number;
  /** SHA-256 (hex) of the last checkpoint's payload; empty before the chain's first */
  prevCheckpoint: string;
  /**
   * The Merkle tree of the rows since the last checkpoint, in chain order: the leaf hashes of each
   * stored batch are added as it is committed, so the checkpoint only folds a few subtree roots
   */
  tree: MerkleFrontier;
}

export interface ChainState {
  chain: number;
  /** last stored seq; 0 for an empty chain */
  seq: number;
  /** hash of the last stored row (genesis for an empty chain) */
  hash: string;
  /** Kafka offset of the last stored row; -1 for an empty chain */
  offset: bigint;
  /** eventIds of the last `window` entries */
  recent: RecentIds;
  window: number;
  segment: SegmentStats;
}

export function emptyChain(chain: number, window: number, now = Date.now()): ChainState {
  const g = genesisHash(chain);
  return {
    chain,
    seq: 0,
    hash: g,
    offset: -1n,
    recent: new RecentIds(window),
    window,
    segment: emptySegment(0, g, now),
  };
}

export function emptySegment(prevSeq: number, prevHash: string, now = Date.now(), prevCheckpoint = ''): SegmentStats {
  return {
    prevSeq,
    prevHash,
    rows: 0,
    decidedFrom: null,
    decidedTo: null,
    occurredFrom: null,
    occurredTo: null,
    since: now,
    prevCheckpoint,
    tree: new MerkleFrontier(),
  };
}

/** A decision to chain: a row (tools, tests), or its canonical bytes decoded straight from Avro (the sink). */
export type AnyCandidate = Candidate | EncodedCandidate;

/** A row to chain. */
export interface Candidate {
  offset: string;
  row: DecisionRow;
  enc?: undefined;
}

export interface EncodedCandidate {
  offset: string;
  enc: EncodedDecision;
  row?: undefined;
}

export type SkipReason = 'redelivered' | 'duplicate';

export interface Skipped {
  offset: string;
  eventId: string;
  reason: SkipReason;
  /** for a duplicate: the seq of the entry already holding this eventId */
  duplicateOf?: number;
}

/** What a chained entry keeps: a StoredDecision (row candidates) or an EncodedDecision. */
export interface ChainEntry {
  event_id: string;
  kafka_partition: number;
  kafka_offset: string;
  chain_seq: number;
  chain_hash: string;
}

/** The decided/occurred time range of a batch's rows (ClickHouse text form). */
export interface TimeRange {
  decidedFrom: string;
  decidedTo: string;
  occurredFrom: string;
  occurredTo: string;
}

export interface Prepared<R extends ChainEntry = ChainEntry> {
  chain: number;
  rows: R[];
  /** JSONCompactEachRow body, INSERT_COLUMNS order */
  body: Buffer;
  /** the buffer `body` is a view of, until `releaseBody` hands it on */
  backing?: Buffer | undefined;
  skipped: Skipped[];
  firstSeq: number;
  lastSeq: number;
  lastHash: string;
  lastOffset: bigint;
  /** times of `rows` (null when there are none) */
  times: TimeRange | null;
  /** insert_deduplication_token: identifies this exact content, so a retried insert is a no-op */
  token: string;
  /** Merkle leaf hash of each of `rows` (SHA-256 of 0x00 ‖ its canonical bytes), latin1 strings */
  leaves: string[];
}

/** Bodies given back by `releaseBody`, for later batches (three: the sink stores three partitions at once by default). */
const bodies = new BufferPool(3);

/**
 * Gives a prepared batch's body buffer to later batches. Call it only once the insert has finished
 * (its promise settled) and nothing reads `p.body` again; afterwards `p.body` holds other bytes.
 */
export function releaseBody(p: Prepared): void {
  if (!p.backing) return;
  bodies.give(p.backing);
  p.backing = undefined;
}

/**
 * The batch body, written line by line. A line is built as `prevHash ‖ canonical bytes` so that the
 * link hash is one call over contiguous bytes; then the prefix is dropped (memmove) and the hash
 * appended: `[…canonical without its closing bracket…,"hash"]`.
 */
class BodyWriter {
  buf: Buffer;
  pos = 0;
  constructor(capacity: number) {
    this.buf = bodies.take(Math.max(1024, capacity));
  }
  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.allocUnsafeSlow(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }
  /** a non-negative integer's decimal digits (as `${n}` writes them for integers below 2^53) */
  uint(n: number): void {
    if (!(Number.isSafeInteger(n) && n >= 0)) {
      this.ascii(String(n));
      return;
    }
    let digits = 1;
    for (let x = n; x >= 10; x = Math.floor(x / 10)) digits++;
    const b = this.buf;
    let p = this.pos + digits;
    this.pos = p;
    let x = n;
    do {
      const q = Math.floor(x / 10);
      b[--p] = 48 + (x - q * 10);
      x = q;
    } while (x > 0);
  }
  /** a hash's hex digits (one byte each; Node's latin1 copy beats a loop over the characters) */
  hex(h: string): void {
    writeLatin1(this.buf, h, this.pos, h.length);
    this.pos += h.length;
  }
  /** a string of (nearly always) ASCII characters, as UTF-8 */
  ascii(s: string): void {
    const b = this.buf;
    let p = this.pos;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) {
        this.pos += b.write(s, this.pos, 'utf8');
        return;
      }
      b[p++] = c;
    }
    this.pos = p;
  }
}

/** bytes per line besides the content: prefix hash, brackets, partition, offset, seq, hash, newline */
const LINE_OVERHEAD = 64 + 2 + 3 * 22 + 68 + 1;

/**
 * Chains `candidates` (in offset order) onto `state` without changing it. Candidates must all belong
 * to `state.chain`.
 */
export function prepare(state: ChainState, candidates: readonly Candidate[]): Prepared<StoredDecision>;
export function prepare(state: ChainState, candidates: readonly AnyCandidate[]): Prepared;
export function prepare(state: ChainState, candidates: readonly AnyCandidate[]): Prepared {
  const rows: ChainEntry[] = [];
  const leaves: string[] = [];
  const skipped: Skipped[] = [];
  const batchIds = new Map<string, number>();
  let seq = state.seq;
  let hash = state.hash;
  let offset = state.offset;
  let capacity = 0;
  for (const c of candidates) capacity += (c.enc ? c.enc.end - c.enc.start : 512) + LINE_OVERHEAD;
  const w = new BodyWriter(capacity);
  let decidedMin = Number.POSITIVE_INFINITY;
  let decidedMax = Number.NEGATIVE_INFINITY;
  let occurredMin = Number.POSITIVE_INFINITY;
  let occurredMax = Number.NEGATIVE_INFINITY;
  let rowTimes: TimeRange | null = null;
  // Candidates come in offset order: once one is past the head, all later ones are.
  let past = false;
  for (const c of candidates) {
    const entry: ChainEntry = c.enc ?? (c.row as StoredDecision);
    if (!past) {
      if (BigInt(c.offset) <= offset) {
        skipped.push({ offset: c.offset, eventId: entry.event_id, reason: 'redelivered' });
        continue;
      }
      past = true;
    }
    const id = entry.event_id;
    const inBatch = batchIds.get(id);
    const dupSeq = inBatch !== undefined && inBatch > seq - state.window ? inBatch : state.recent.get(id, seq);
    if (dupSeq !== undefined) {
      skipped.push({ offset: c.offset, eventId: id, reason: 'duplicate', duplicateOf: dupSeq });
      continue;
    }
    if (entry.kafka_partition !== state.chain)
      throw new Error(`row of partition ${entry.kafka_partition} offered to chain ${state.chain}`);
    seq += 1;
    // The candidate's row (or encoded decision) becomes the stored entry (a later prepare of the same
    // candidates, e.g. when bisecting, overwrites seq and hash again).
    entry.chain_seq = seq;
    if (rows.length > 0) {
      w.ensure(1);
      w.buf[w.pos++] = 0x0a;
    }
    const lineStart = w.pos;
    const prefix = hash.length;
    if (c.enc) {
      const e = c.enc;
      w.ensure(e.end - e.start + 2 * prefix + 3 * entry.kafka_offset.length + LINE_OVERHEAD);
      w.hex(hash);
      w.buf[w.pos++] = 0x5b;
      w.pos += e.buf.copy(w.buf, w.pos, e.start, e.end);
      if (e.decidedMs < decidedMin) decidedMin = e.decidedMs;
      if (e.decidedMs > decidedMax) decidedMax = e.decidedMs;
      if (e.occurredMs < occurredMin) occurredMin = e.occurredMs;
      if (e.occurredMs > occurredMax) occurredMax = e.occurredMs;
    } else {
      const r = c.row;
      const content = encodeContent(r);
      w.ensure(3 * content.length + 2 * prefix + 3 * entry.kafka_offset.length + LINE_OVERHEAD);
      w.hex(hash);
      w.buf[w.pos++] = 0x5b;
      w.pos += w.buf.write(content, w.pos, 'utf8');
      rowTimes = widen(rowTimes, r.decided_at, r.occurred_at);
    }
    // `,partition,offset,seq]` without building the string
    const b = w.buf;
    b[w.pos++] = 0x2c;
    w.uint(entry.kafka_partition);
    b[w.pos++] = 0x2c;
    w.ascii(entry.kafka_offset);
    b[w.pos++] = 0x2c;
    w.uint(seq);
    b[w.pos++] = 0x5d;
    // Merkle leaf = SHA-256(0x00 ‖ canonical bytes): the byte before them (the prefix hash's last
    // digit) stands in for the 0x00 while it is hashed, so nothing is copied.
    const mark = lineStart + prefix - 1;
    const saved = b[mark] as number;
    b[mark] = 0;
    leaves.push(digest('sha256', b.subarray(mark, w.pos), 'binary')); // 'binary' is latin1
    b[mark] = saved;
    // hash = SHA-256(prevHex ‖ canonical bytes): exactly linkHash(hash, canonical(row))
    hash = digest('sha256', w.buf.subarray(lineStart, w.pos), 'hex');
    w.buf.copyWithin(lineStart, lineStart + prefix, w.pos - 1);
    w.pos -= prefix + 1;
    b[w.pos++] = 0x2c;
    b[w.pos++] = 0x22;
    w.hex(hash);
    b[w.pos++] = 0x22;
    b[w.pos++] = 0x5d;
    entry.chain_hash = hash;
    rows.push(entry);
    batchIds.set(id, seq);
  }
  const last = candidates[candidates.length - 1];
  if (past && last) offset = BigInt(last.offset);
  let times = rowTimes;
  if (decidedMin <= decidedMax) {
    times = widen(times, chTimeMs(decidedMin), chTimeMs(occurredMin));
    times = widen(times, chTimeMs(decidedMax), chTimeMs(occurredMax));
  }
  return {
    chain: state.chain,
    rows,
    body: w.buf.subarray(0, w.pos),
    backing: w.buf,
    skipped,
    firstSeq: state.seq + 1,
    lastSeq: seq,
    lastHash: hash,
    lastOffset: offset,
    times,
    token: `custos-c${state.chain}-s${state.seq + 1}-${seq}-${hash.slice(0, 16)}`,
    leaves,
  };
}

function widen(t: TimeRange | null, decided: string, occurred: string): TimeRange {
  if (!t) return { decidedFrom: decided, decidedTo: decided, occurredFrom: occurred, occurredTo: occurred };
  if (decided < t.decidedFrom) t.decidedFrom = decided;
  if (decided > t.decidedTo) t.decidedTo = decided;
  if (occurred < t.occurredFrom) t.occurredFrom = occurred;
  if (occurred > t.occurredTo) t.occurredTo = occurred;
  return t;
}

const minStr = (a: string | null, b: string) => (a === null || b < a ? b : a);
const maxStr = (a: string | null, b: string) => (a === null || b > a ? b : a);

/** Applies a prepared batch after its rows were stored. */
export function commit(state: ChainState, p: Prepared): void {
  if (p.firstSeq !== state.seq + 1) throw new Error(`chain ${state.chain}: batch starts at ${p.firstSeq}, head is ${state.seq}`);
  const seg = state.segment;
  for (const r of p.rows) state.recent.set(r.event_id, r.chain_seq);
  if (p.rows.length > 0 && p.times) {
    seg.decidedFrom = minStr(seg.decidedFrom, p.times.decidedFrom);
    seg.decidedTo = maxStr(seg.decidedTo, p.times.decidedTo);
    seg.occurredFrom = minStr(seg.occurredFrom, p.times.occurredFrom);
    seg.occurredTo = maxStr(seg.occurredTo, p.times.occurredTo);
  }
  seg.rows += p.rows.length;
  for (const l of p.leaves) seg.tree.push(l);
  state.seq = p.lastSeq;
  state.hash = p.lastHash;
  if (p.lastOffset > state.offset) state.offset = p.lastOffset;
}

/** Records offsets that were dead-lettered, so a later batch starts after them. */
export function skipTo(state: ChainState, offset: bigint): void {
  if (offset > state.offset) state.offset = offset;
}

/**
 * The eventIds of a chain's last `window` entries, for the duplicate check. A ring holds the id and
 * seq of each entry (slot = seq mod window); an index maps an id to its latest seq and forgets it
 * when that entry leaves the ring. Exact for every id, UUID or not. Keyed by the id string: V8
 * computes its hash once and caches it, where a numeric key (say a UUID's last 48 bits) is a double
 * that V8 boxes in a Map, for more garbage and slower lookups.
 */
export class RecentIds {
  private readonly byId = new Map<string, number>();
  private readonly ring: (string | undefined)[];
  private readonly seqs: Float64Array;

  constructor(readonly window: number) {
    this.ring = new Array<string | undefined>(Math.max(0, window));
    this.seqs = new Float64Array(Math.max(0, window));
  }

  /** The seq holding `id` if it is among the `window` entries up to `head`. */
  get(id: string, head: number): number | undefined {
    if (this.window <= 0) return undefined;
    const s = this.byId.get(id);
    if (s === undefined || s <= head - this.window) return undefined;
    return s;
  }

  set(id: string, seq: number): void {
    if (this.window <= 0) return;
    const slot = seq % this.window;
    const old = this.ring[slot];
    // The entry leaving the ring: forget its id unless a later entry holds it.
    if (old !== undefined && this.byId.get(old) === this.seqs[slot]) this.byId.delete(old);
    this.byId.set(id, seq);
    this.ring[slot] = id;
    this.seqs[slot] = seq;
  }

  get size(): number {
    return Math.min(this.byId.size, this.window);
  }
}
