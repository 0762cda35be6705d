/**
 * Chains in ClickHouse: writing a prepared batch, and recovering a chain's state (head, window of
 * recent eventIds, figures since the last checkpoint) from what is stored — what a sink does when
 * it is assigned a partition.
 */
import type { KeyObject } from 'node:crypto';
import { type Candidate, type ChainState, commit, emptyChain, emptySegment, linkHash, type Prepared, prepare } from './chain.js';
import {
  type Checkpoint,
  type CheckpointFields,
  insertCheckpoint,
  latestValidSigned,
  listCheckpoints,
  payloadHash,
  signCheckpoint,
} from './checkpoints.js';
import { queryRows, type Store } from './client.js';
import { canonical, type DecisionRow, INSERT_COLUMNS, isoTime, readStored, type StoredDecision } from './decisions.js';
import { ChainIntegrityError } from './errors.js';
import { leafHash, MerkleFrontier } from './merkle.js';

/**
 * Most rows per insert into `decisions` (the sink's `SINK_MAX_BATCH_ROWS` default). ClickHouse does
 * per-part work per insert (sorting, the read models' views, and merging the part
 * later): at 100k rows the engine needed 9.0 CPU µs/row against 12.7 at 50k, which took the sink past
 * 100k rows/s on two cores (store-notes §4). The live batch, a body of ~40 MiB and its decoded
 * bytes, is recycled between batches rather than left to the GC.
 */
export const DEFAULT_SINK_BATCH_ROWS = 100_000;

/**
 * Settings of every insert into `decisions`.
 *
 * `optimize_on_insert = 0`: by default ReplacingMergeTree runs its merge algorithm over each inserted
 * block to collapse rows with equal sorting keys before writing the part. A batch of the sink never
 * holds two rows with one key (the key ends in `(kafka_partition, chain_seq)` and a batch's seqs are
 * distinct), so that pass can only copy the block; skipping it cut the engine's CPU per row by ~25 %
 * here (14.7 → 11.4 µs/row, measured with chDB 3.4). Byte-identical copies written by separate
 * inserts (a fenced-out sink) are still collapsed by background merges, as before.
 *
 * `deduplicate_blocks_in_dependent_materialized_views = 1`: a retried batch whose first attempt stored
 * the `decisions` block but failed in the `subject_accesses` view (migration 0004) is recognised as a
 * duplicate by its token; without this setting ClickHouse would then skip the view too and the read
 * model would miss those rows for good. With it the view's block is written again (at worst a
 * byte-identical copy, which merges collapse and the reader drops).
 */
export const DECISIONS_INSERT_SETTINGS: Readonly<Record<string, number>> = Object.freeze({
  optimize_on_insert: 0,
  deduplicate_blocks_in_dependent_materialized_views: 1,
});

/** Writes a prepared batch; retrying the same batch is a no-op (insert de-duplication token). */
export async function insertPrepared(store: Store, p: Prepared): Promise<void> {
  if (p.rows.length === 0) return;
  await store.insertRaw({
    table: store.table('decisions'),
    columns: INSERT_COLUMNS,
    format: 'JSONCompactEachRow',
    body: p.body,
    settings: { ...DECISIONS_INSERT_SETTINGS, insert_deduplication_token: p.token },
  });
}

export interface RecoverOptions {
  /** eventIds of this many last entries are kept to skip duplicates */
  window: number;
  /**
   * Trusted checkpoint keys. With them, the rows after the newest well-signed checkpoint are checked
   * link by link before anything is built on them; without, the stored head is taken as it is.
   */
  trusted?: readonly KeyObject[];
  /** rows read per query while checking the tail */
  pageRows?: number;
  now?: number;
}

interface HeadRow {
  seq: number;
  n: number;
  decided_from: string | null;
  decided_to: string | null;
  occurred_from: string | null;
  occurred_to: string | null;
}

/** Loads the stored state of chain `chain`. Throws ChainIntegrityError when the tail is broken. */
export async function recoverChain(store: Store, chain: number, opts: RecoverOptions): Promise<ChainState> {
  const now = opts.now ?? Date.now();
  let cp: CheckpointFields | undefined;
  let cpHash = '';
  if (opts.trusted) {
    const signed = await latestValidSigned(store, chain, opts.trusted);
    cp = signed?.fields;
    cpHash = signed ? payloadHash(signed.payload) : '';
  } else {
    const last = (await listCheckpoints(store, { chain })).at(-1);
    cp = last ? (JSON.parse(last.payload) as CheckpointFields) : undefined;
    cpHash = last ? payloadHash(last.payload) : '';
  }
  const baseSeq = cp?.lastSeq ?? 0;
  const t = store.table('decisions');
  // Figures of the rows after the checkpoint (the min-max index on chain_seq skips older parts).
  const [agg] = await queryRows<HeadRow>(
    store,
    `SELECT toUInt64(max(chain_seq)) AS seq, count() AS n,
            if(n = 0, NULL, toString(min(decided_at))) AS decided_from, if(n = 0, NULL, toString(max(decided_at))) AS decided_to,
            if(n = 0, NULL, toString(min(occurred_at))) AS occurred_from, if(n = 0, NULL, toString(max(occurred_at))) AS occurred_to
     FROM ${t} WHERE kafka_partition = {c:UInt16} AND chain_seq > {base:UInt64}`,
    { c: chain, base: baseSeq },
  );
  const state = emptyChain(chain, opts.window, now);
  let headSeq = Number(agg?.seq ?? 0);
  if (!agg || Number(agg.n) === 0) {
    if (!cp) return state;
    // Nothing after the checkpoint: its last row is the head, and must be there as signed.
    const [last] = await readStored(store, 'kafka_partition = {c:UInt16} AND chain_seq = {s:UInt64}', {
      c: chain,
      s: cp.lastSeq,
    });
    if (!last) {
      const [{ m } = { m: 0 }] = await queryRows<{ m: number }>(
        store,
        `SELECT toUInt64(max(chain_seq)) AS m FROM ${t} WHERE kafka_partition = {c:UInt16}`,
        { c: chain },
      );
      throw new ChainIntegrityError(
        `chain ${chain}: a signed checkpoint covers seq ${cp.lastSeq}, but the stored chain ends at seq ${Number(m)}: the newest rows were deleted`,
      );
    }
    if (last.chain_hash !== cp.lastHash) {
      throw new ChainIntegrityError(`chain ${chain}: the row at seq ${cp.lastSeq} does not carry the hash its checkpoint signed`);
    }
    state.seq = cp.lastSeq;
    state.hash = cp.lastHash;
    state.offset = BigInt(last.kafka_offset);
    state.segment = emptySegment(cp.lastSeq, cp.lastHash, now, cpHash);
  } else {
    const leaves = new MerkleFrontier();
    if (opts.trusted && cp) {
      await checkTail(store, chain, cp, headSeq, opts.pageRows ?? 50_000, leaves);
    } else {
      await tailLeaves(store, chain, baseSeq, headSeq, opts.pageRows ?? 50_000, leaves);
    }
    const [head] = await readStored(store, 'kafka_partition = {c:UInt16} AND chain_seq = {s:UInt64}', { c: chain, s: headSeq });
    if (!head) throw new ChainIntegrityError(`chain ${chain}: head row ${headSeq} vanished while recovering`);
    state.seq = headSeq;
    state.hash = head.chain_hash;
    state.offset = BigInt(head.kafka_offset);
    state.segment = {
      prevSeq: baseSeq,
      prevHash: cp?.lastHash ?? state.segment.prevHash,
      rows: headSeq - baseSeq,
      decidedFrom: agg.decided_from,
      decidedTo: agg.decided_to,
      occurredFrom: agg.occurred_from,
      occurredTo: agg.occurred_to,
      since: now,
      prevCheckpoint: cpHash,
      tree: leaves,
    };
  }
  headSeq = state.seq;
  const recent = await queryRows<{ event_id: string; s: number }>(
    store,
    `SELECT event_id, toUInt64(chain_seq) AS s FROM ${t}
     WHERE kafka_partition = {c:UInt16} AND chain_seq > {floor:UInt64} ORDER BY chain_seq`,
    { c: chain, floor: Math.max(0, headSeq - opts.window) },
  );
  for (const r of recent) state.recent.set(r.event_id, Number(r.s));
  return state;
}

/** The Merkle leaves of rows (base, head], unchecked (no trusted key to check them against). */
async function tailLeaves(
  store: Store,
  chain: number,
  base: number,
  head: number,
  page: number,
  leaves: MerkleFrontier,
): Promise<void> {
  for (let lo = base + 1; lo <= head; lo += page) {
    const rows = await readStored(store, 'kafka_partition = {c:UInt16} AND chain_seq BETWEEN {lo:UInt64} AND {hi:UInt64}', {
      c: chain,
      lo,
      hi: Math.min(head, lo + page - 1),
    });
    let last = -1;
    for (const r of rows) {
      if (r.chain_seq === last) continue; // an identical copy
      last = r.chain_seq;
      leaves.push(leafHash(canonical(r)).toString('latin1'));
    }
  }
}

/** Checks rows (cp.lastSeq, head] link by link from the checkpoint's hash, collecting their Merkle leaves. */
async function checkTail(
  store: Store,
  chain: number,
  cp: CheckpointFields,
  head: number,
  page: number,
  leaves: MerkleFrontier,
): Promise<void> {
  const [anchor] = await readStored(store, 'kafka_partition = {c:UInt16} AND chain_seq = {s:UInt64}', {
    c: chain,
    s: cp.lastSeq,
  });
  if (anchor && anchor.chain_hash !== cp.lastHash) {
    throw new ChainIntegrityError(`chain ${chain}: the row at seq ${cp.lastSeq} does not carry the hash its checkpoint signed`);
  }
  let prev = cp.lastHash;
  let expect = cp.lastSeq + 1;
  let lastOffset = anchor ? BigInt(anchor.kafka_offset) : -1n;
  for (let lo = cp.lastSeq + 1; lo <= head; lo += page) {
    const rows = await readStored(store, 'kafka_partition = {c:UInt16} AND chain_seq BETWEEN {lo:UInt64} AND {hi:UInt64}', {
      c: chain,
      lo,
      hi: Math.min(head, lo + page - 1),
    });
    let last: StoredDecision | undefined;
    for (const r of rows) {
      if (last && r.chain_seq === last.chain_seq) {
        if (r.chain_hash === last.chain_hash && canonical(r) === canonical(last)) continue; // an identical copy
        throw new ChainIntegrityError(`chain ${chain}: two different rows claim seq ${r.chain_seq}`);
      }
      if (r.chain_seq !== expect) throw new ChainIntegrityError(`chain ${chain}: rows ${expect}…${r.chain_seq - 1} are missing`);
      const text = canonical(r);
      if (linkHash(prev, text) !== r.chain_hash) {
        throw new ChainIntegrityError(`chain ${chain}: the row at seq ${r.chain_seq} does not match its hash (modified)`);
      }
      leaves.push(leafHash(text).toString('latin1'));
      const off = BigInt(r.kafka_offset);
      if (off <= lastOffset) throw new ChainIntegrityError(`chain ${chain}: offsets go backwards at seq ${r.chain_seq}`);
      lastOffset = off;
      prev = r.chain_hash;
      expect += 1;
      last = r;
    }
  }
  if (expect !== head + 1) throw new ChainIntegrityError(`chain ${chain}: rows ${expect}…${head} are missing`);
}

export interface AppendResult {
  stored: number;
  skipped: number;
}

/**
 * Appends decision rows to their chains (one per kafka_partition), each in offset order: recovers
 * every chain's head, skips rows at or below it (re-delivered) and duplicates, chains and inserts the
 * rest. For tools, fixtures and tests; the sink does the same batch by batch, keeping state in memory.
 */
export async function appendDecisions(
  store: Store,
  rows: readonly DecisionRow[],
  opts: { window?: number } = {},
): Promise<AppendResult> {
  const byChain = new Map<number, Candidate[]>();
  for (const row of rows) {
    const list = byChain.get(row.kafka_partition) ?? [];
    list.push({ offset: row.kafka_offset, row: { ...row } }); // chaining writes seq and hash into the row
    byChain.set(row.kafka_partition, list);
  }
  const out: AppendResult = { stored: 0, skipped: 0 };
  for (const [chain, list] of byChain) {
    list.sort((a, b) => (BigInt(a.offset) < BigInt(b.offset) ? -1 : BigInt(a.offset) > BigInt(b.offset) ? 1 : 0));
    const state = await recoverChain(store, chain, { window: opts.window ?? 100_000 });
    const p = prepare(state, list);
    await insertPrepared(store, p);
    commit(state, p);
    out.stored += p.rows.length;
    out.skipped += p.skipped.length;
  }
  return out;
}

/**
 * Stores decision rows, chained. `dedupToken` is accepted and ignored: a re-delivered row is
 * recognised by its offset.
 */
export async function insertDecisions(store: Store, rows: DecisionRow[], dedupToken?: string): Promise<void> {
  void dedupToken;
  await appendDecisions(store, rows);
}

/** A signed checkpoint of the chain's rows since its last one; undefined when there are none. */
export function checkpointOf(state: ChainState, topic: string, key: KeyObject, now = Date.now()): Checkpoint | undefined {
  const seg = state.segment;
  if (state.seq <= seg.prevSeq || !seg.decidedFrom || !seg.decidedTo || !seg.occurredFrom || !seg.occurredTo) return undefined;
  return signCheckpoint(
    {
      topic,
      chain: state.chain,
      prevSeq: seg.prevSeq,
      prevHash: seg.prevHash,
      lastSeq: state.seq,
      lastHash: state.hash,
      lastOffset: state.offset.toString(),
      records: state.seq - seg.prevSeq,
      decidedFrom: isoTime(seg.decidedFrom),
      decidedTo: isoTime(seg.decidedTo),
      occurredFrom: isoTime(seg.occurredFrom),
      occurredTo: isoTime(seg.occurredTo),
      createdAt: new Date(now).toISOString(),
      prevCheckpoint: seg.prevCheckpoint,
      // The tree is complete unless the segment was recovered without its rows (never expected).
      ...(seg.tree.size === state.seq - seg.prevSeq ? { merkleRoot: seg.tree.root().toString('hex') } : {}),
    },
    key,
  );
}

/** Signs and stores a checkpoint of the chain's newest rows, and starts a new segment. */
export async function writeCheckpoint(
  store: Store,
  state: ChainState,
  topic: string,
  key: KeyObject,
  now = Date.now(),
): Promise<Checkpoint | undefined> {
  const cp = checkpointOf(state, topic, key, now);
  if (!cp) {
    state.segment.since = now;
    return undefined;
  }
  await insertCheckpoint(store, cp);
  state.segment = emptySegment(state.seq, state.hash, now, payloadHash(cp.payload));
  return cp;
}
