/**
 * Consistency between signed heads: a later head must extend an earlier one, chain by chain, never
 * rewrite it. The trees here are per checkpoint segment, so the role of an RFC 6962 consistency proof
 * (§2.1.2) is played by the chain of checkpoints: each names the previous one's payload hash
 * (`prevCheckpoint`) and starts where it ended (`prevSeq`, `prevHash`). A proof between two heads
 * is, per chain they share, the signed checkpoints leading from the earlier head's checkpoint to the
 * later one's; an auditor checks it with the public key alone (`checkConsistency`), and
 * `verifyRange` checks every pair of genuine heads it knows the same way (`headsConsistency`).
 */
import type { KeyObject } from 'node:crypto';
import { type CheckpointFields, checkSignature, listCheckpoints, payloadHash, type SignedCheckpoint } from './checkpoints.js';
import type { Store } from './client.js';
import { checkHead, type HeadEntry, type HeadFields, listHeads } from './heads.js';

export type Extends = { ok: true; path: string[] } | { ok: false; reason: string } | { ok: 'unknown'; reason: string };

/**
 * Whether `newer` (a head's entry for one chain) extends `older` along the checkpoints in `byDigest`
 * (payload hash → fields). `path`: the digests walked, newest first, `older`'s excluded.
 */
export function entryExtends(older: HeadEntry, newer: HeadEntry, byDigest: ReadonlyMap<string, CheckpointFields>): Extends {
  if (newer.lastSeq < older.lastSeq)
    return {
      ok: false,
      reason: `it ends at seq ${newer.lastSeq}, before seq ${older.lastSeq} of the earlier head: history was cut back`,
    };
  if (newer.lastSeq === older.lastSeq) {
    return newer.checkpoint === older.checkpoint && newer.lastHash === older.lastHash
      ? { ok: true, path: [] }
      : { ok: false, reason: `both end at seq ${older.lastSeq} with different checkpoints: the history up to it was rewritten` };
  }
  const path: string[] = [];
  let digest = newer.checkpoint;
  for (;;) {
    const cp = byDigest.get(digest);
    if (!cp) return { ok: 'unknown', reason: `the checkpoint ${digest.slice(0, 16)}… is not available` };
    if (cp.chain !== newer.chain || cp.lastSeq <= older.lastSeq)
      return { ok: false, reason: `the checkpoint ${digest.slice(0, 16)}… does not continue the chain` };
    path.push(digest);
    if (cp.prevSeq < older.lastSeq)
      return {
        ok: false,
        reason: `its checkpoint covering seq ${cp.prevSeq + 1}…${cp.lastSeq} passes over seq ${older.lastSeq}, where the earlier head's checkpoint ends: the history was rewritten`,
      };
    if (cp.prevSeq === older.lastSeq) {
      if (cp.prevHash !== older.lastHash || (cp.prevCheckpoint !== undefined && cp.prevCheckpoint !== older.checkpoint))
        return {
          ok: false,
          reason: `the checkpoint after seq ${older.lastSeq} continues from a different hash or checkpoint than the earlier head's: the history up to seq ${older.lastSeq} was rewritten`,
        };
      if (cp.prevCheckpoint === undefined) return { ok: 'unknown', reason: 'a v1 checkpoint does not name its predecessor' };
      return { ok: true, path };
    }
    if (!cp.prevCheckpoint) return { ok: 'unknown', reason: 'a v1 checkpoint does not name its predecessor' };
    digest = cp.prevCheckpoint;
  }
}

export interface HeadConflict {
  chain: number;
  older: { createdAt: string; lastSeq: number; checkpoint: string };
  newer: { createdAt: string; lastSeq: number; checkpoint: string };
  reason: string;
}

/**
 * Every chain's entries in these genuine heads must lie on one line of checkpoints: ordered by seq,
 * each extends the one before. (Heads of several sinks may name a chain at different points, so the
 * order is by seq, not by time; two entries at one seq with different checkpoints, or one that does
 * not lead back to a lower one, are a rewritten history.) Links through unavailable checkpoints are
 * not judged here: their absence is a finding of its own.
 */
export function headsConsistency(heads: readonly HeadFields[], byDigest: ReadonlyMap<string, CheckpointFields>): HeadConflict[] {
  const byChain = new Map<number, Map<string, { e: HeadEntry; createdAt: string }>>();
  for (const h of heads) {
    for (const e of h.chains) {
      const m = byChain.get(e.chain) ?? new Map<string, { e: HeadEntry; createdAt: string }>();
      const seen = m.get(e.checkpoint);
      if (!seen || seen.createdAt > h.createdAt) m.set(e.checkpoint, { e, createdAt: h.createdAt });
      byChain.set(e.chain, m);
    }
  }
  const out: HeadConflict[] = [];
  for (const [chain, m] of [...byChain].sort((a, b) => a[0] - b[0])) {
    const list = [...m.values()].sort((a, b) => a.e.lastSeq - b.e.lastSeq || a.createdAt.localeCompare(b.createdAt));
    for (let i = 1; i < list.length; i++) {
      const a = list[i - 1] as { e: HeadEntry; createdAt: string };
      const b = list[i] as { e: HeadEntry; createdAt: string };
      const r = entryExtends(a.e, b.e, byDigest);
      if (r.ok === false) {
        const [older, newer] = a.createdAt <= b.createdAt ? [a, b] : [b, a];
        out.push({
          chain,
          older: { createdAt: older.createdAt, lastSeq: older.e.lastSeq, checkpoint: older.e.checkpoint },
          newer: { createdAt: newer.createdAt, lastSeq: newer.e.lastSeq, checkpoint: newer.e.checkpoint },
          reason: r.reason,
        });
      }
    }
  }
  return out;
}

export interface ConsistencyProof {
  v: 1;
  kind: 'custos.decisions.consistency-proof';
  /** the earlier and the later signed head */
  from: SignedCheckpoint;
  to: SignedCheckpoint;
  /** per chain both heads name: the signed checkpoints after `from`'s up to `to`'s, oldest first */
  chains: { chain: number; checkpoints: SignedCheckpoint[] }[];
}

export class ConsistencyUnavailable extends Error {
  readonly retriable = false;
  constructor(
    message: string,
    readonly reason: 'not_found' | 'bad_request',
  ) {
    super(message);
  }
}

/**
 * The proof that head `to` extends head `from` (each named by its payload's SHA-256; default `to`:
 * the newest genuine head, `from`: the genuine head before it). Built from the stored checkpoints;
 * whether it holds is for `checkConsistency` to say.
 */
export async function proveConsistency(
  store: Store,
  trusted: readonly KeyObject[],
  names: { from?: string | undefined; to?: string | undefined } = {},
): Promise<ConsistencyProof> {
  const heads = (await listHeads(store).catch(() => []))
    .map((h) => ({ h, check: checkHead(h, trusted), digest: payloadHash(h.payload) }))
    .filter((x) => x.check.ok);
  const find = (name: string, what: string) => {
    const x = heads.find((y) => y.digest === name || (name.length >= 8 && y.digest.startsWith(name)));
    if (!x) throw new ConsistencyUnavailable(`no genuine head ${name} is stored (${what})`, 'not_found');
    return x;
  };
  const to = names.to ? find(names.to, 'to') : heads.at(-1);
  if (!to) throw new ConsistencyUnavailable('no genuine head is stored', 'not_found');
  const from = names.from ? find(names.from, 'from') : heads[heads.indexOf(to) - 1];
  if (!from) throw new ConsistencyUnavailable('there is no earlier head to prove consistency from', 'not_found');
  const fromFields = (from.check as { fields: HeadFields }).fields;
  const toFields = (to.check as { fields: HeadFields }).fields;
  const chains: ConsistencyProof['chains'] = [];
  for (const older of fromFields.chains) {
    const newer = toFields.chains.find((e) => e.chain === older.chain);
    if (!newer || newer.lastSeq <= older.lastSeq) {
      if (newer) chains.push({ chain: older.chain, checkpoints: [] });
      continue;
    }
    const cps = (await listCheckpoints(store, { chain: older.chain, afterSeq: older.lastSeq })).filter(
      (c) => c.lastSeq <= newer.lastSeq && checkSignature(c, trusted).ok,
    );
    const byDigest = new Map(cps.map((c) => [payloadHash(c.payload), c]));
    const fields = new Map([...byDigest].map(([d, c]) => [d, JSON.parse(c.payload) as CheckpointFields]));
    const r = entryExtends(older, newer, fields);
    // A proof that does not hold is still returned (the checker names why); one link missing shortens it.
    const path = r.ok === true ? r.path : walk(newer.checkpoint, fields);
    chains.push({
      chain: older.chain,
      checkpoints: path
        .reverse()
        .map((d) => byDigest.get(d))
        .filter((c) => c !== undefined)
        .map((c) => ({ payload: c.payload, signature: c.signature })),
    });
  }
  return {
    v: 1,
    kind: 'custos.decisions.consistency-proof',
    from: { payload: from.h.payload, signature: from.h.signature },
    to: { payload: to.h.payload, signature: to.h.signature },
    chains,
  };
}

function walk(start: string, byDigest: ReadonlyMap<string, CheckpointFields>): string[] {
  const out: string[] = [];
  let d: string | undefined = start;
  while (d && byDigest.has(d) && !out.includes(d)) {
    out.push(d);
    d = byDigest.get(d)?.prevCheckpoint;
  }
  return out;
}

export type ConsistencyCheck =
  | { ok: true; chains: { chain: number; fromSeq: number; toSeq: number; checkpoints: number }[]; notInLater: number[] }
  | { ok: false; reason: string; chain?: number };

/**
 * Checks a consistency proof offline with the trusted public keys alone: both heads genuine, the later
 * not older than the earlier, and for every chain the earlier head names that the later one names too,
 * the proof's genuine checkpoints lead from the earlier head's checkpoint to the later head's.
 * `notInLater`: chains only the earlier head names (another sink's, say), not judged.
 */
export function checkConsistency(proof: ConsistencyProof, trusted: readonly KeyObject[]): ConsistencyCheck {
  if (proof?.kind !== 'custos.decisions.consistency-proof' || proof.v !== 1)
    return { ok: false, reason: 'not a v1 consistency proof' };
  const a = checkHead(proof.from, trusted);
  if (!a.ok) return { ok: false, reason: `the earlier head is not genuine: ${a.reason}` };
  const b = checkHead(proof.to, trusted);
  if (!b.ok) return { ok: false, reason: `the later head is not genuine: ${b.reason}` };
  if (b.fields.createdAt < a.fields.createdAt)
    return { ok: false, reason: 'the "later" head was created before the earlier one' };
  const chains: { chain: number; fromSeq: number; toSeq: number; checkpoints: number }[] = [];
  const notInLater: number[] = [];
  for (const older of a.fields.chains) {
    const newer = b.fields.chains.find((e) => e.chain === older.chain);
    if (!newer) {
      notInLater.push(older.chain);
      continue;
    }
    const given = proof.chains.find((c) => c.chain === older.chain)?.checkpoints ?? [];
    const byDigest = new Map<string, CheckpointFields>();
    for (const c of given) {
      const s = checkSignature(c, trusted);
      if (!s.ok)
        return {
          ok: false,
          chain: older.chain,
          reason: `a checkpoint of chain ${older.chain} in the proof is not genuine: ${s.reason}`,
        };
      byDigest.set(payloadHash(c.payload), s.fields);
    }
    const r = entryExtends(older, newer, byDigest);
    if (r.ok !== true)
      return {
        ok: false,
        chain: older.chain,
        reason: `chain ${older.chain}: the later head does not extend the earlier: ${r.reason}`,
      };
    chains.push({ chain: older.chain, fromSeq: older.lastSeq, toSeq: newer.lastSeq, checkpoints: r.path.length });
  }
  return { ok: true, chains, notInLater };
}
