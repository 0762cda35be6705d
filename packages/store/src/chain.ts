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
import { canonical, type DecisionRow, insertLine, type StoredDecision } from './decisions.js';

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

export function emptySegment(prevSeq: number, prevHash: string, now = Date.now()): SegmentStats {
  return { prevSeq, prevHash, rows: 0, decidedFrom: null, decidedTo: null, occurredFrom: null, occurredTo: null, since: now };
}

export interface Candidate {
  offset: string;
  row: DecisionRow;
}

export type SkipReason = 'redelivered' | 'duplicate';

export interface Skipped {
  offset: string;
  eventId: string;
  reason: SkipReason;
  /** for a duplicate: the seq of the entry already holding this eventId */
  duplicateOf?: number;
}

export interface Prepared {
  chain: number;
  rows: StoredDecision[];
  /** JSONCompactEachRow body, INSERT_COLUMNS order */
  body: Buffer;
  skipped: Skipped[];
  firstSeq: number;
  lastSeq: number;
  lastHash: string;
  lastOffset: bigint;
  /** insert_deduplication_token: identifies this exact content, so a retried insert is a no-op */
  token: string;
}

/**
 * Chains `candidates` (in offset order) onto `state` without changing it. Candidates must all belong
 * to `state.chain`.
 */
export function prepare(state: ChainState, candidates: readonly Candidate[]): Prepared {
  const rows: StoredDecision[] = [];
  const lines: string[] = [];
  const skipped: Skipped[] = [];
  const batchIds = new Map<string, number>();
  let seq = state.seq;
  let hash = state.hash;
  let offset = state.offset;
  // Candidates come in offset order: once one is past the head, all later ones are.
  let past = false;
  for (const c of candidates) {
    if (!past) {
      if (BigInt(c.offset) <= offset) {
        skipped.push({ offset: c.offset, eventId: c.row.event_id, reason: 'redelivered' });
        continue;
      }
      past = true;
    }
    const id = c.row.event_id;
    const inBatch = batchIds.get(id);
    const dupSeq = inBatch !== undefined && inBatch > seq - state.window ? inBatch : state.recent.get(id, seq);
    if (dupSeq !== undefined) {
      skipped.push({ offset: c.offset, eventId: id, reason: 'duplicate', duplicateOf: dupSeq });
      continue;
    }
    if (c.row.kafka_partition !== state.chain)
      throw new Error(`row of partition ${c.row.kafka_partition} offered to chain ${state.chain}`);
    seq += 1;
    // The candidate's row becomes the stored row (a later prepare of the same candidates, e.g. when
    // bisecting, overwrites seq and hash again).
    const row = c.row as StoredDecision;
    row.chain_seq = seq;
    const text = canonical(row);
    hash = linkHash(hash, text);
    row.chain_hash = hash;
    rows.push(row);
    lines.push(insertLine(text, hash));
    batchIds.set(id, seq);
  }
  const last = candidates[candidates.length - 1];
  if (past && last) offset = BigInt(last.offset);
  return {
    chain: state.chain,
    rows,
    body: Buffer.from(lines.join('\n')),
    skipped,
    firstSeq: state.seq + 1,
    lastSeq: seq,
    lastHash: hash,
    lastOffset: offset,
    token: `custos-c${state.chain}-s${state.seq + 1}-${seq}-${hash.slice(0, 16)}`,
  };
}

const minStr = (a: string | null, b: string) => (a === null || b < a ? b : a);
const maxStr = (a: string | null, b: string) => (a === null || b > a ? b : a);

/** Applies a prepared batch after its rows were stored. */
export function commit(state: ChainState, p: Prepared): void {
  if (p.firstSeq !== state.seq + 1) throw new Error(`chain ${state.chain}: batch starts at ${p.firstSeq}, head is ${state.seq}`);
  const seg = state.segment;
  for (const r of p.rows) {
    state.recent.set(r.event_id, r.chain_seq);
    seg.decidedFrom = minStr(seg.decidedFrom, r.decided_at);
    seg.decidedTo = maxStr(seg.decidedTo, r.decided_at);
    seg.occurredFrom = minStr(seg.occurredFrom, r.occurred_at);
    seg.occurredTo = maxStr(seg.occurredTo, r.occurred_at);
  }
  seg.rows += p.rows.length;
  state.seq = p.lastSeq;
  state.hash = p.lastHash;
  if (p.lastOffset > state.offset) state.offset = p.lastOffset;
}

/** Records offsets that were dead-lettered, so a later batch starts after them. */
export function skipTo(state: ChainState, offset: bigint): void {
  if (offset > state.offset) state.offset = offset;
}

/**
 * The eventIds of a chain's last `window` entries, for the duplicate check. A ring holds the id of
 * each seq (seq mod window); an index maps an id to its latest seq — by the id's last 48 bits when it
 * is a UUID (random in v4 and v7; numbers hash faster than strings), else by the id itself. A hit is
 * confirmed against the ring, so the answer is exact for entries still in the window.
 */
export class RecentIds {
  private byKey = new Map<number, number>();
  private byId = new Map<string, number>();
  private readonly ring: (string | undefined)[];

  constructor(readonly window: number) {
    this.ring = new Array<string | undefined>(Math.max(0, window));
  }

  private static key(id: string): number {
    if (id.length === 36 && id.charCodeAt(23) === 45) {
      const n = Number.parseInt(id.slice(24), 16);
      if (!Number.isNaN(n)) return n;
    }
    return -1;
  }

  /** The seq holding `id` if it is among the `window` entries up to `head`. */
  get(id: string, head: number): number | undefined {
    if (this.window <= 0) return undefined;
    const k = RecentIds.key(id);
    const s = k >= 0 ? this.byKey.get(k) : this.byId.get(id);
    if (s === undefined || s <= head - this.window) return undefined;
    return this.ring[s % this.window] === id ? s : undefined;
  }

  set(id: string, seq: number): void {
    if (this.window <= 0) return;
    const k = RecentIds.key(id);
    if (k >= 0) this.byKey.set(k, seq);
    else this.byId.set(id, seq);
    this.ring[seq % this.window] = id;
    // Old entries are left in the index and ignored; rebuilt from the ring once it holds too many.
    if (this.byKey.size + this.byId.size > 2 * this.window + 1024) this.rebuild(seq);
  }

  get size(): number {
    return Math.min(this.byKey.size + this.byId.size, this.window);
  }

  private rebuild(head: number): void {
    const byKey = new Map<number, number>();
    const byId = new Map<string, number>();
    for (let seq = Math.max(1, head - this.window + 1); seq <= head; seq++) {
      const id = this.ring[seq % this.window];
      if (id === undefined) continue;
      const k = RecentIds.key(id);
      if (k >= 0) byKey.set(k, seq);
      else byId.set(id, seq);
    }
    this.byKey = byKey;
    this.byId = byId;
  }
}
