/**
 * Inclusion proofs: that one stored decision is the row a signed checkpoint's Merkle tree holds at
 * its place, shown with that row, the audit path and the checkpoint alone (RFC 9162 §2.1.3). The
 * checkpoint's signature binds the tree head (`merkleRoot`) and its size (`records`); anyone with
 * the public key can check a proof without access to the store.
 */
import type { KeyObject } from 'node:crypto';
import { type CheckpointFields, checkSignature, listCheckpoints, type SignedCheckpoint } from './checkpoints.js';
import type { Store } from './client.js';
import { canonical, readStored, type StoredDecision } from './decisions.js';
import { inclusionProof, leafHash, merkleRoot, verifyInclusion } from './merkle.js';

export interface InclusionProof {
  v: 1;
  kind: 'custos.decisions.inclusion-proof';
  eventId: string;
  tenantId: string;
  chain: number;
  seq: number;
  /** the leaf's data: the row's canonical bytes (UTF-8), which its chain hash also covers */
  record: string;
  /** 0-based place of the leaf in the checkpoint's tree; the tree has `checkpoint.records` leaves */
  leafIndex: number;
  treeSize: number;
  /** SHA-256(0x00 ‖ record), hex */
  leafHash: string;
  /** audit path, nearest sibling first, hex */
  path: string[];
  /** the signed checkpoint whose `merkleRoot` the path leads to */
  checkpoint: SignedCheckpoint;
}

export class ProofUnavailable extends Error {
  constructor(
    message: string,
    readonly reason: 'not_found' | 'not_checkpointed' | 'no_tree' | 'tampered',
  ) {
    super(message);
  }
}

/** Proves that decision `eventId` is stored as a signed checkpoint's tree holds it. */
export async function proveInclusion(store: Store, eventId: string, trusted: readonly KeyObject[]): Promise<InclusionProof> {
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(eventId))
    throw new ProofUnavailable(`eventId ${JSON.stringify(eventId)} is not a UUID`, 'not_found');
  const [row] = await readStored(store, 'event_id = {e:UUID}', { e: eventId });
  if (!row) throw new ProofUnavailable(`no stored decision has eventId ${eventId}`, 'not_found');
  const cps = await listCheckpoints(store, { chain: row.kafka_partition });
  let cp: { signed: SignedCheckpoint; fields: CheckpointFields } | undefined;
  for (const c of cps) {
    if (!(c.prevSeq < row.chain_seq && row.chain_seq <= c.lastSeq)) continue;
    const check = checkSignature(c, trusted);
    if (check.ok && check.fields.merkleRoot)
      cp = { signed: { payload: c.payload, signature: c.signature }, fields: check.fields };
  }
  if (!cp) {
    const covered = cps.some((c) => c.prevSeq < row.chain_seq && row.chain_seq <= c.lastSeq);
    throw covered
      ? new ProofUnavailable(
          `the checkpoint covering seq ${row.chain_seq} of chain ${row.kafka_partition} has no Merkle tree (an older checkpoint)`,
          'no_tree',
        )
      : new ProofUnavailable(
          `decision ${eventId} (seq ${row.chain_seq} of chain ${row.kafka_partition}) is not checkpointed yet: the sink checkpoints within CHECKPOINT_INTERVAL_MS`,
          'not_checkpointed',
        );
  }
  const f = cp.fields;
  const rows = await readStored(store, 'kafka_partition = {c:UInt16} AND chain_seq > {lo:UInt64} AND chain_seq <= {hi:UInt64}', {
    c: f.chain,
    lo: f.prevSeq,
    hi: f.lastSeq,
  });
  const leaves: Buffer[] = [];
  let last = -1;
  for (const r of rows) {
    if (r.chain_seq === last) continue;
    last = r.chain_seq;
    leaves.push(leafHash(canonical(r)));
  }
  if (leaves.length !== f.records || merkleRoot(leaves).toString('hex') !== f.merkleRoot) {
    throw new ProofUnavailable(
      `the stored rows ${f.prevSeq + 1}…${f.lastSeq} of chain ${f.chain} do not give the tree head their checkpoint signed: they were changed (run custos verify)`,
      'tampered',
    );
  }
  const index = row.chain_seq - f.prevSeq - 1;
  const record = canonical(row as StoredDecision);
  return {
    v: 1,
    kind: 'custos.decisions.inclusion-proof',
    eventId: row.event_id,
    tenantId: row.tenant_id,
    chain: f.chain,
    seq: row.chain_seq,
    record,
    leafIndex: index,
    treeSize: f.records,
    leafHash: (leaves[index] as Buffer).toString('hex'),
    path: inclusionProof(leaves, index).map((h) => h.toString('hex')),
    checkpoint: cp.signed,
  };
}

export type ProofCheck = { ok: true; checkpoint: CheckpointFields } | { ok: false; reason: string };

/** Checks a proof with the trusted public keys alone (offline). */
export function checkInclusionProof(p: InclusionProof, trusted: readonly KeyObject[]): ProofCheck {
  const sig = checkSignature(p.checkpoint, trusted);
  if (!sig.ok) return { ok: false, reason: `the checkpoint is not genuine: ${sig.reason}` };
  const f = sig.fields;
  if (!f.merkleRoot) return { ok: false, reason: 'the checkpoint has no Merkle tree head' };
  if (f.chain !== p.chain || p.seq !== f.prevSeq + 1 + p.leafIndex || p.treeSize !== f.records)
    return { ok: false, reason: 'the proof places the record elsewhere than the checkpoint says' };
  const leaf = leafHash(p.record);
  if (leaf.toString('hex') !== p.leafHash) return { ok: false, reason: 'the record does not give the leaf hash' };
  let record: unknown[];
  try {
    record = JSON.parse(p.record) as unknown[];
  } catch {
    return { ok: false, reason: 'the record is not canonical JSON' };
  }
  if (!Array.isArray(record) || record.at(-1) !== p.seq || record.at(-3) !== p.chain || !record.includes(p.eventId))
    return { ok: false, reason: 'the record names another event, chain or seq' };
  const ok = verifyInclusion(
    p.leafIndex,
    p.treeSize,
    leaf,
    p.path.map((h) => Buffer.from(h, 'hex')),
    Buffer.from(f.merkleRoot, 'hex'),
  );
  return ok ? { ok: true, checkpoint: f } : { ok: false, reason: 'the audit path does not lead to the signed tree head' };
}
