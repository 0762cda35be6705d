/**
 * Verifying stored decisions against their chains and signed checkpoints, and optionally against a
 * record kept outside ClickHouse (the decisions topic, exported checkpoint files).
 *
 * What each source can prove:
 * - the chain alone (hash links, seq numbers, offsets): a modified row (its content no longer gives
 *   its hash), deleted rows (seq gaps, one or many), inserted rows (a second row claiming a seq),
 *   reordered rows (offsets out of order, or two rows whose contents fit each other's place);
 * - signed checkpoints (table): a rewrite that recomputed the hashes after an edit (the row at the
 *   checkpoint's seq no longer carries the signed hash), deleted rows up to the newest checkpoint, a
 *   forged checkpoint (signature, key, or columns that differ from the signed payload);
 * - exported checkpoint files: the same, even when checkpoints were deleted from ClickHouse together
 *   with the rows they cover;
 * - the witness (`witness`: the witness topic or directory, see heads.ts): every checkpoint and head
 *   as it was made, outside ClickHouse — deleted checkpoints, heads, whole chains and the newest
 *   rows they cover, and rows added after the sink closed a chain at a graceful stop;
 * - chained checkpoints (v2 `prevCheckpoint`) and heads: a checkpoint missing between two others,
 *   or named by a head, even when the witness is not read;
 * - the topic (`reference`): the newest rows after the last checkpoint, and which field of which
 *   record was changed — it holds every record as the sink received it (within its retention).
 */
import type { KeyObject } from 'node:crypto';
import { genesisHash, linkHash } from './chain.js';
import {
  type CheckpointFields,
  checkSignature,
  listCheckpoints,
  payloadHash,
  type SignedCheckpoint,
  type StoredCheckpoint,
} from './checkpoints.js';
import { queryRows, type Store } from './client.js';
import { headsConsistency } from './consistency.js';
import {
  canonical,
  contentDiff,
  type DecisionContent,
  encodeContent,
  INSERT_COLUMNS,
  isoTime,
  readStored,
  type StoredDecision,
} from './decisions.js';
import { checkHead, type HeadFields, listHeads, type WitnessLog } from './heads.js';
import { checkReadModels, READ_MODEL_TABLE, type ReadModelCheck, type ReadModelRow } from './read-model.js';
import { retentionHorizon } from './retention.js';

export type Severity = 'error' | 'warning' | 'info';
export type DetectedBy =
  | 'chain'
  | 'checkpoint'
  | 'exported-checkpoint'
  | 'witness'
  | 'head'
  | 'signature'
  | 'topic'
  | 'read-model';

export type FindingKind =
  | 'modified'
  | 'deleted'
  | 'inserted'
  | 'reordered'
  | 'rewritten'
  | 'forged_checkpoint'
  | 'checkpoint_missing'
  | 'fork'
  | 'expired'
  | 'duplicate_copy'
  | 'unverifiable'
  | 'not_yet_stored'
  | 'unchecked_tail'
  /** rows after the newest witnessed checkpoint of a chain that is open (the sink's window) */
  | 'unwitnessed_tail'
  /** a head whose signature does not hold */
  | 'forged_head'
  /** a head the witness holds is not in ClickHouse */
  | 'head_missing'
  /** two genuine heads name one chain at points that do not lie on one line of checkpoints: rewritten history */
  | 'inconsistent_head'
  /** the subject report's read model does not hold exactly the stored decisions */
  | 'read_model_differs';

export interface Finding {
  kind: FindingKind;
  severity: Severity;
  detectedBy: DetectedBy;
  chain?: number;
  /** first (or only) seq concerned */
  seq?: number;
  /** last seq of a range */
  toSeq?: number;
  offset?: string;
  eventId?: string;
  message: string;
  /** for a modified record compared with the topic: what differs */
  fields?: { field: string; stored: unknown; expected: unknown }[];
}

/** A record as kept outside ClickHouse (the topic), to compare stored rows with. */
export interface ReferenceRecord {
  offset: string;
  /** the decision the record holds; absent when it cannot be decoded */
  content?: DecisionContent;
}

export interface ReferenceSource {
  /** shown in findings, e.g. `topic decisions` */
  name: string;
  /** offsets available for a chain: [low, high), and what the sink has committed */
  bounds(chain: number): Promise<{ low: bigint; high: bigint; committed: bigint | null }>;
  /** records with offsets in [from, to), in order */
  read(chain: number, from: bigint, to: bigint): AsyncIterable<ReferenceRecord>;
  /** offsets of the chain's records that were dead-lettered (deliberately not stored) */
  deadLettered(chain: number): Promise<Set<string>>;
}

export interface VerifyOptions {
  /** verify the checkpoint segments whose decided or occurred times reach into [from, to) */
  from?: Date | undefined;
  to?: Date | undefined;
  chains?: number[] | undefined;
  /** public keys whose checkpoint signatures count */
  trusted: readonly KeyObject[];
  /** checkpoints kept outside ClickHouse (e.g. `readCheckpointFiles`) */
  exported?: readonly SignedCheckpoint[] | undefined;
  reference?: ReferenceSource | undefined;
  /** the witness log (topic or directory): checkpoints and heads kept outside ClickHouse */
  witness?: WitnessLog | undefined;
  /** rows whose retention ran out may be gone: gaps among them are `expired`, not `deleted` */
  retentionDays?: number | undefined;
  now?: number | undefined;
  pageRows?: number | undefined;
  /** stop listing findings after this many (counts stay exact) */
  maxFindings?: number | undefined;
  /** also compare the subject report's read model with the decisions (default true) */
  readModel?: boolean | undefined;
  /** told after each page how far the chains have been checked (positions of `total`, roughly rows) */
  onProgress?: ((checked: number, total: number) => void) | undefined;
}

export interface ChainReport {
  chain: number;
  /** seq range verified */
  fromSeq: number;
  toSeq: number;
  rows: number;
  storedHeadSeq: number;
  checkpoints: number;
  lastCheckpointSeq: number | null;
}

export interface VerifyReport {
  ok: boolean;
  checkedAt: string;
  range: { from?: string; to?: string };
  chains: ChainReport[];
  findings: Finding[];
  counts: Partial<Record<FindingKind, number>>;
  /** findings beyond maxFindings were counted, not listed */
  truncated: boolean;
  rows: number;
  checkpoints: { valid: number; forged: number; exported: number; witnessed?: number; heads?: number };
  sources: DetectedBy[];
}

const DAY = 86_400_000;

class Findings {
  readonly list: Finding[] = [];
  readonly counts: Partial<Record<FindingKind, number>> = {};
  truncated = false;
  errors = 0;
  constructor(private readonly max: number) {}
  merge(other: Findings): void {
    for (const [k, n] of Object.entries(other.counts)) this.counts[k as FindingKind] = (this.counts[k as FindingKind] ?? 0) + n;
    this.errors += other.errors;
    for (const f of other.list) {
      if (this.list.length < this.max) this.list.push(f);
      else this.truncated = true;
    }
    if (other.truncated) this.truncated = true;
  }
  add(f: Finding): void {
    this.counts[f.kind] = (this.counts[f.kind] ?? 0) + 1;
    if (f.severity === 'error') this.errors += 1;
    if (this.list.length < this.max) this.list.push(f);
    else this.truncated = true;
  }
}

interface Anchor {
  seq: number;
  hash: string;
  /** the checkpoint that signed it */
  cp: CheckpointFields;
  source: 'checkpoint' | 'exported-checkpoint' | 'witness' | 'head';
  /** SHA-256 of the checkpoint's payload (what the next checkpoint names) */
  digest?: string;
}

const COLUMN_FIELDS: [keyof StoredCheckpoint, keyof CheckpointFields][] = [
  ['chain', 'chain'],
  ['lastSeq', 'lastSeq'],
  ['lastHash', 'lastHash'],
  ['prevSeq', 'prevSeq'],
  ['prevHash', 'prevHash'],
  ['records', 'records'],
  ['lastOffset', 'lastOffset'],
  ['topic', 'topic'],
  ['decidedFrom', 'decidedFrom'],
  ['decidedTo', 'decidedTo'],
  ['keyId', 'keyId'],
];

/** Verifies the stored chains (all, or `chains`) in a time range; see the module comment. */
export async function verifyRange(store: Store, opts: VerifyOptions): Promise<VerifyReport> {
  const now = opts.now ?? Date.now();
  const found = new Findings(opts.maxFindings ?? 1000);
  // Each page is one scan of the table (a chain's rows are spread over every granule): larger pages,
  // fewer scans; 100 000 rendered rows are ~50 MB.
  const pageRows = opts.pageRows ?? 100_000;

  // 1. Checkpoints: which are genuine, which are anchors of which chain.
  const stored = await listCheckpoints(store, opts.chains?.length === 1 ? { chain: opts.chains[0] as number } : {});
  const anchorsByChain = new Map<number, Anchor[]>();
  const addAnchor = (a: Anchor) => {
    const list = anchorsByChain.get(a.cp.chain) ?? [];
    list.push(a);
    anchorsByChain.set(a.cp.chain, list);
  };
  let valid = 0;
  let forged = 0;
  const tablePayloads = new Set<string>();
  for (const c of stored) {
    const check = checkSignature(c, opts.trusted);
    if (!check.ok) {
      forged += 1;
      found.add({
        kind: 'forged_checkpoint',
        severity: 'error',
        detectedBy: 'signature',
        chain: c.chain,
        seq: c.lastSeq,
        message: `checkpoint of chain ${c.chain} at seq ${c.lastSeq} (created ${c.createdAt}) is not genuine: ${check.reason}`,
      });
      continue;
    }
    const differing = COLUMN_FIELDS.filter(([col, field]) => String(c[col]) !== String(check.fields[field])).map(([col]) => col);
    if (differing.length > 0) {
      forged += 1;
      found.add({
        kind: 'forged_checkpoint',
        severity: 'error',
        detectedBy: 'signature',
        chain: c.chain,
        seq: c.lastSeq,
        message: `checkpoint of chain ${check.fields.chain} at seq ${check.fields.lastSeq}: columns ${differing.join(', ')} differ from the signed payload (the payload is what counts)`,
      });
    }
    valid += 1;
    tablePayloads.add(c.payload);
    addAnchor({
      seq: check.fields.lastSeq,
      hash: check.fields.lastHash,
      cp: check.fields,
      source: 'checkpoint',
      digest: payloadHash(c.payload),
    });
  }
  let exportedCount = 0;
  for (const c of opts.exported ?? []) {
    const check = checkSignature(c, opts.trusted);
    if (!check.ok) {
      found.add({
        kind: 'forged_checkpoint',
        severity: 'error',
        detectedBy: 'signature',
        ...(check.fields ? { chain: check.fields.chain, seq: check.fields.lastSeq } : {}),
        message: `an exported checkpoint file is not genuine: ${check.reason}`,
      });
      continue;
    }
    exportedCount += 1;
    if (tablePayloads.has(c.payload)) continue;
    const f = check.fields;
    found.add({
      kind: 'checkpoint_missing',
      severity: 'error',
      detectedBy: 'exported-checkpoint',
      chain: f.chain,
      seq: f.lastSeq,
      message: `the exported checkpoint of chain ${f.chain} at seq ${f.lastSeq} (created ${f.createdAt}) is no longer in ClickHouse: it was deleted`,
    });
    addAnchor({ seq: f.lastSeq, hash: f.lastHash, cp: f, source: 'exported-checkpoint', digest: payloadHash(c.payload) });
  }
  const knownHashes = new Set<string>([...tablePayloads].map(payloadHash));
  for (const c of opts.exported ?? []) knownHashes.add(payloadHash(c.payload));
  const witness = opts.witness ? checkWitness(opts.witness, opts, tablePayloads, knownHashes, addAnchor, found) : undefined;
  const genuineHeads = await checkHeads(store, opts, witness, knownHashes, addAnchor, found);
  const heads = genuineHeads.length;
  for (const [chain, list] of anchorsByChain) checkCheckpointLinks(chain, list, found);
  checkHeadsConsistency(genuineHeads, anchorsByChain, opts, found);

  // 2. Chains to check.
  const chainRows = await queryRows<{ c: number; lo: number; hi: number; n: number }>(
    store,
    `SELECT kafka_partition AS c, toUInt64(min(chain_seq)) AS lo, toUInt64(max(chain_seq)) AS hi, count() AS n
     FROM ${store.table('decisions')} GROUP BY c ORDER BY c`,
  );
  const extent = new Map(chainRows.map((r) => [Number(r.c), { lo: Number(r.lo), hi: Number(r.hi), n: Number(r.n) }]));
  const chains = [...new Set([...extent.keys(), ...anchorsByChain.keys(), ...(witness?.state.keys() ?? [])])]
    .filter((c) => !opts.chains || opts.chains.includes(c))
    .sort((a, b) => a - b);

  // The read model is compared by ClickHouse while the chains are hashed here; its findings follow theirs.
  const readModelFound = new Findings(opts.maxFindings ?? 1000);
  const readModel = opts.readModel !== false ? compareReadModel(store, opts, now, readModelFound) : Promise.resolve(false);
  readModel.catch(() => {}); // awaited below
  const reports: ChainReport[] = [];
  let totalRows = 0;
  const progressTotal = [...extent.values()].reduce((s, e) => s + e.n, 0);
  let progressBefore = 0;
  for (const chain of chains) {
    const before = progressBefore;
    const r = await verifyChain(store, chain, {
      tick: opts.onProgress && ((covered) => opts.onProgress?.(before + covered, progressTotal)),
      anchors: (anchorsByChain.get(chain) ?? []).sort((a, b) => a.seq - b.seq),
      extent: extent.get(chain) ?? { lo: 0, hi: 0, n: 0 },
      found,
      opts,
      now,
      pageRows,
      witnessed: witness?.state.get(chain),
    });
    progressBefore += extent.get(chain)?.n ?? 0;
    if (r) {
      reports.push(r);
      totalRows += r.rows;
    }
  }
  const sources: DetectedBy[] = ['chain', 'signature', 'checkpoint'];
  if (opts.exported) sources.push('exported-checkpoint');
  if (opts.witness) sources.push('witness');
  if (heads > 0) sources.push('head');
  if (opts.reference) sources.push('topic');
  if (await readModel) sources.push('read-model');
  found.merge(readModelFound);
  return {
    ok: found.errors === 0,
    checkedAt: new Date(now).toISOString(),
    range: { ...(opts.from ? { from: opts.from.toISOString() } : {}), ...(opts.to ? { to: opts.to.toISOString() } : {}) },
    chains: reports,
    findings: found.list,
    counts: found.counts,
    truncated: found.truncated,
    rows: totalRows,
    checkpoints: {
      valid,
      forged,
      exported: exportedCount,
      ...(witness ? { witnessed: witness.checkpoints } : {}),
      heads,
    },
    sources,
  };
}

/**
 * The read models against the decisions (read-model.ts): the chain proves `decisions`, this proves
 * the copies subject reports and the search are read from. Returns whether any was compared.
 */
async function compareReadModel(store: Store, opts: VerifyOptions, now: number, found: Findings): Promise<boolean> {
  const limit = Math.min(opts.maxFindings ?? 1000, 100);
  const checks = await checkReadModels(store, {
    from: opts.from,
    to: opts.to,
    chains: opts.chains,
    horizon: opts.retentionDays !== undefined ? retentionHorizon(opts.retentionDays, now) : undefined,
    limit,
  });
  const where = (x: ReadModelRow) => `tenant ${x.tenantId}, subject ${x.subjectId}, chain ${x.chain}, occurred ${x.occurredAt}`;
  const add = (side: ReadModelCheck['missing'], message: (x: ReadModelRow) => string, rest: string) => {
    for (const x of side.rows) {
      found.add({
        kind: 'read_model_differs',
        severity: 'error',
        detectedBy: 'read-model',
        chain: x.chain,
        eventId: x.eventId,
        message: message(x),
      });
    }
    if (side.count > side.rows.length) {
      found.add({
        kind: 'read_model_differs',
        severity: 'error',
        detectedBy: 'read-model',
        message: `… and ${side.count - side.rows.length} more ${rest} (${side.count} in all)`,
      });
    }
  };
  for (const r of checks) {
    const [name, shown, showsNot] =
      r.table === READ_MODEL_TABLE
        ? ["the subject report's read model", 'subject reports', 'subject reports do not show']
        : ["the search's read model", 'search results', 'the search does not show'];
    add(
      r.missing,
      (x) => `decision ${x.eventId} (${where(x)}) is missing from or altered in ${name} (${r.table}): ${showsNot} it as stored`,
      `decisions missing from or altered in ${r.table}`,
    );
    add(
      r.extra,
      (x) =>
        `${r.table} holds a row for event ${x.eventId} (${where(x)}) that no stored decision gives: altered or inserted, and shown in ${shown}`,
      `rows of ${r.table} that no stored decision gives`,
    );
  }
  return checks.length > 0;
}

/** What the witness says of one chain: its newest witnessed checkpoint, and whether the sink closed it. */
interface WitnessedChain {
  lastSeq: number;
  /** set when the newest witness record about the chain is a head that closed it (graceful stop) */
  closed?: { seq: number; at: string };
}

interface WitnessResult {
  checkpoints: number;
  heads: SignedCheckpoint[];
  state: Map<number, WitnessedChain>;
}

/**
 * The witness log: each genuine checkpoint becomes an anchor (and a finding when ClickHouse lost
 * it); the order of records says which chains the sink closed at a graceful stop.
 */
function checkWitness(
  w: WitnessLog,
  opts: VerifyOptions,
  tablePayloads: Set<string>,
  knownHashes: Set<string>,
  addAnchor: (a: Anchor) => void,
  found: Findings,
): WitnessResult {
  const out: WitnessResult = { checkpoints: 0, heads: [], state: new Map() };
  const seen = new Set<string>();
  for (const r of w.records) {
    if (r.type === 'head') {
      const check = checkHead(r, opts.trusted);
      if (!check.ok) {
        found.add({
          kind: 'forged_head',
          severity: 'error',
          detectedBy: 'signature',
          message: `a head in the ${w.name} is not genuine: ${check.reason}`,
        });
        continue;
      }
      out.heads.push(r);
      const h = check.fields;
      for (const c of h.open) {
        const st = out.state.get(c) ?? { lastSeq: 0 };
        delete st.closed;
        out.state.set(c, st);
      }
      for (const c of h.closed) {
        const st = out.state.get(c) ?? { lastSeq: 0 };
        const entry = h.chains.find((e) => e.chain === c);
        st.closed = { seq: Math.max(entry?.lastSeq ?? 0, st.lastSeq), at: h.createdAt };
        out.state.set(c, st);
      }
      continue;
    }
    const check = checkSignature(r, opts.trusted);
    if (!check.ok) {
      found.add({
        kind: 'forged_checkpoint',
        severity: 'error',
        detectedBy: 'signature',
        ...(check.fields ? { chain: check.fields.chain, seq: check.fields.lastSeq } : {}),
        message: `a checkpoint in the ${w.name} is not genuine: ${check.reason}`,
      });
      continue;
    }
    const f = check.fields;
    if (opts.chains && !opts.chains.includes(f.chain)) continue;
    const st = out.state.get(f.chain) ?? { lastSeq: 0 };
    st.lastSeq = Math.max(st.lastSeq, f.lastSeq);
    delete st.closed;
    out.state.set(f.chain, st);
    if (seen.has(r.payload)) continue;
    seen.add(r.payload);
    out.checkpoints += 1;
    knownHashes.add(payloadHash(r.payload));
    if (tablePayloads.has(r.payload)) continue;
    found.add({
      kind: 'checkpoint_missing',
      severity: 'error',
      detectedBy: 'witness',
      chain: f.chain,
      seq: f.lastSeq,
      message: `the checkpoint of chain ${f.chain} at seq ${f.lastSeq} (rows ${f.prevSeq + 1}…${f.lastSeq}, created ${f.createdAt}) is in the ${w.name} but no longer in ClickHouse: it was deleted`,
    });
    addAnchor({ seq: f.lastSeq, hash: f.lastHash, cp: f, source: 'witness', digest: payloadHash(r.payload) });
  }
  return out;
}

/**
 * Heads (stored and witnessed): forged ones, witnessed ones ClickHouse lost, and checkpoints a
 * genuine head names that are nowhere to be found (their claim still counts). Returns how many
 * genuine heads there are.
 */
async function checkHeads(
  store: Store,
  opts: VerifyOptions,
  witness: WitnessResult | undefined,
  knownHashes: Set<string>,
  addAnchor: (a: Anchor) => void,
  found: Findings,
): Promise<HeadFields[]> {
  let stored: SignedCheckpoint[] = [];
  try {
    stored = await listHeads(store);
  } catch {
    stored = []; // a store migrated before heads existed
  }
  const genuine = new Map<string, HeadFields>();
  const storedPayloads = new Set<string>();
  for (const h of stored) {
    const check = checkHead(h, opts.trusted);
    if (!check.ok) {
      found.add({
        kind: 'forged_head',
        severity: 'error',
        detectedBy: 'signature',
        message: `a head stored in ClickHouse is not genuine: ${check.reason}`,
      });
      continue;
    }
    storedPayloads.add(h.payload);
    genuine.set(h.payload, check.fields);
  }
  for (const h of witness?.heads ?? []) {
    const f = (checkHead(h, opts.trusted) as { fields: HeadFields }).fields;
    if (!storedPayloads.has(h.payload)) {
      found.add({
        kind: 'head_missing',
        severity: 'error',
        detectedBy: 'witness',
        message: `the head created ${f.createdAt} (chains ${f.chains.map((e) => `${e.chain}@${e.lastSeq}`).join(', ')}) is in the witness but no longer in ClickHouse: it was deleted`,
      });
    }
    genuine.set(h.payload, f);
  }
  const reported = new Set<string>();
  for (const h of genuine.values()) {
    for (const e of h.chains) {
      if (knownHashes.has(e.checkpoint) || reported.has(e.checkpoint)) continue;
      if (opts.chains && !opts.chains.includes(e.chain)) continue;
      reported.add(e.checkpoint);
      found.add({
        kind: 'checkpoint_missing',
        severity: 'error',
        detectedBy: 'head',
        chain: e.chain,
        seq: e.lastSeq,
        message: `a genuine head (created ${h.createdAt}) names the checkpoint of chain ${e.chain} at seq ${e.lastSeq}, which is nowhere to be found: it was deleted`,
      });
      // The head's own claim: the row at lastSeq carries lastHash.
      addAnchor({
        seq: e.lastSeq,
        hash: e.lastHash,
        source: 'head',
        cp: {
          v: 1,
          kind: 'custos.decisions.checkpoint',
          topic: h.topic,
          chain: e.chain,
          prevSeq: 0,
          prevHash: genesisHash(e.chain),
          lastSeq: e.lastSeq,
          lastHash: e.lastHash,
          lastOffset: '0',
          records: e.lastSeq,
          decidedFrom: new Date(0).toISOString(),
          decidedTo: h.createdAt,
          occurredFrom: new Date(0).toISOString(),
          occurredTo: h.createdAt,
          createdAt: h.createdAt,
          keyId: h.keyId,
        },
      });
    }
  }
  return [...genuine.values()];
}

/** Every genuine head must extend the earlier ones, chain by chain (consistency.ts). */
function checkHeadsConsistency(
  heads: HeadFields[],
  anchorsByChain: Map<number, Anchor[]>,
  opts: VerifyOptions,
  found: Findings,
): void {
  const byDigest = new Map<string, CheckpointFields>();
  for (const list of anchorsByChain.values())
    for (const a of list) if (a.source !== 'head' && a.digest) byDigest.set(a.digest, a.cp);
  for (const c of headsConsistency(heads, byDigest)) {
    if (opts.chains && !opts.chains.includes(c.chain)) continue;
    found.add({
      kind: 'inconsistent_head',
      severity: 'error',
      detectedBy: 'head',
      chain: c.chain,
      seq: Math.min(c.older.lastSeq, c.newer.lastSeq),
      toSeq: Math.max(c.older.lastSeq, c.newer.lastSeq),
      message: `the head created ${c.newer.createdAt} does not extend the head created ${c.older.createdAt} on chain ${c.chain}: ${c.reason}`,
    });
  }
}

/**
 * A chain's genuine checkpoints must follow each other: each segment starts where the previous one
 * ended, and a v2 checkpoint names the previous one's payload hash.
 */
function checkCheckpointLinks(chain: number, anchors: Anchor[], found: Findings): void {
  const byPayload = new Map<string, Anchor>();
  for (const a of anchors) if (a.source !== 'head') byPayload.set(a.digest ?? canonicalKey(a.cp), a);
  const list = [...byPayload.values()].sort((a, b) => a.seq - b.seq || a.cp.prevSeq - b.cp.prevSeq);
  let prev: Anchor | undefined;
  for (const a of list) {
    const expectFrom = prev?.seq ?? 0;
    if (a.cp.prevSeq > expectFrom) {
      found.add({
        kind: 'checkpoint_missing',
        severity: 'error',
        detectedBy: 'checkpoint',
        chain,
        seq: expectFrom + 1,
        toSeq: a.cp.prevSeq,
        message: `no checkpoint of chain ${chain} covers seq ${expectFrom + 1}…${a.cp.prevSeq}, yet the checkpoint at seq ${a.seq} continues from seq ${a.cp.prevSeq}: a checkpoint was deleted`,
      });
    } else if (prev && a.cp.prevSeq === prev.seq && a.cp.prevCheckpoint && a.cp.prevCheckpoint !== prev.digest) {
      found.add({
        kind: 'forged_checkpoint',
        severity: 'error',
        detectedBy: 'checkpoint',
        chain,
        seq: a.seq,
        message: `the checkpoint of chain ${chain} at seq ${a.seq} names a predecessor other than the checkpoint at seq ${prev.seq}: one of them was replayed from elsewhere or the signing key was misused`,
      });
    }
    if (!prev || a.seq >= prev.seq) prev = a;
  }
}

const canonicalKey = (f: CheckpointFields) => `${f.keyId}|${f.createdAt}|${f.prevSeq}|${f.lastSeq}|${f.lastHash}`;

interface ChainContext {
  witnessed?: WitnessedChain | undefined;
  anchors: Anchor[];
  extent: { lo: number; hi: number; n: number };
  found: Findings;
  opts: VerifyOptions;
  now: number;
  pageRows: number;
  /** positions of this chain covered so far */
  tick?: ((covered: number) => void) | undefined;
}

const intersects = (from: string, to: string, a?: Date, b?: Date) =>
  (!b || Date.parse(from) < b.getTime()) && (!a || Date.parse(to) >= a.getTime());

/**
 * One chain, in named steps: the signed claims about its seqs, the seq range to check, a walk over
 * its pages (whole pages checked from ClickHouse's lines, the rest row by row), then what the walk
 * found at the end, among the mismatches and after the last checkpoint.
 */
async function verifyChain(store: Store, chain: number, ctx: ChainContext): Promise<ChainReport | undefined> {
  const claims = claimsOf(chain, ctx.anchors, ctx.found);
  const range = rangeOf(ctx);
  if (!range) return undefined;
  const walk = new ChainWalk(store, chain, ctx, claims, range.lo);
  await walk.run(range.hi);
  reportMissingEnd(walk, range.hi);
  const swapped = classifyMismatches(chain, walk.mismatched, ctx.found, Boolean(ctx.opts.reference));
  reportReordered(walk, swapped);
  reportRewritten(walk, swapped);
  if (walk.refState && ctx.opts.reference && range.tail)
    await compareWithReference(ctx.opts.reference, walk.refState, chain, [], ctx.found, true);
  const lastCp = ctx.anchors.at(-1)?.seq ?? null;
  if (range.tail) reportTail(chain, ctx, lastCp);
  return {
    chain,
    fromSeq: range.lo,
    toSeq: range.hi,
    rows: walk.rows,
    storedHeadSeq: ctx.extent.hi,
    checkpoints: ctx.anchors.length,
    lastCheckpointSeq: lastCp,
  };
}

/**
 * Signed claims "the row at seq s has hash h" (each checkpoint's last row, and the row before its
 * segment); a checkpoint whose segment starts at 0 claims the genesis. Two claims that disagree are a fork.
 */
function claimsOf(chain: number, anchors: readonly Anchor[], found: Findings): Map<number, Anchor> {
  const claims = new Map<number, Anchor>();
  const claim = (a: Anchor) => {
    const prior = claims.get(a.seq);
    if (prior && prior.hash !== a.hash) {
      found.add({
        kind: 'fork',
        severity: 'error',
        detectedBy: 'checkpoint',
        chain,
        seq: a.seq,
        message: `two genuine checkpoints disagree about seq ${a.seq} of chain ${chain} (${prior.hash.slice(0, 12)}… and ${a.hash.slice(0, 12)}…): the chain forked or a signing key was misused`,
      });
      return;
    }
    if (!prior || (prior.source === 'exported-checkpoint' && a.source === 'checkpoint')) claims.set(a.seq, a);
  };
  for (const a of anchors) {
    claim(a);
    if (a.cp.prevSeq === 0) {
      if (a.cp.prevHash !== genesisHash(chain)) {
        found.add({
          kind: 'forged_checkpoint',
          severity: 'error',
          detectedBy: 'checkpoint',
          chain,
          seq: a.seq,
          message: `checkpoint at seq ${a.seq} starts chain ${chain} from a hash that is not its genesis`,
        });
      }
    } else {
      claim({ ...a, seq: a.cp.prevSeq, hash: a.cp.prevHash });
    }
  }
  return claims;
}

/** The seq range to verify, and whether it reaches the chain's end (`tail`). */
function rangeOf(ctx: ChainContext): { lo: number; hi: number; tail: boolean } | undefined {
  const { anchors, extent, opts } = ctx;
  const maxAnchor = anchors.at(-1);
  let lo: number;
  let hi: number;
  let tail = true;
  if (opts.from || opts.to) {
    const inRange = anchors.filter(
      (a) =>
        intersects(a.cp.decidedFrom, a.cp.decidedTo, opts.from, opts.to) ||
        intersects(a.cp.occurredFrom, a.cp.occurredTo, opts.from, opts.to),
    );
    tail = !maxAnchor || !opts.to || opts.to.getTime() > Date.parse(maxAnchor.cp.decidedFrom);
    if (inRange.length === 0 && !tail) return undefined;
    lo = inRange.length ? Math.min(...inRange.map((a) => a.cp.prevSeq + 1)) : (maxAnchor?.seq ?? 0) + 1;
    hi = tail ? Math.max(extent.hi, maxAnchor?.seq ?? 0) : Math.max(...inRange.map((a) => a.seq));
    if (!maxAnchor && extent.n > 0) lo = extent.lo;
  } else {
    lo = Math.min(
      extent.n > 0 ? extent.lo : Number.MAX_SAFE_INTEGER,
      anchors.length ? Math.min(...anchors.map((a) => a.cp.prevSeq + 1)) : Number.MAX_SAFE_INTEGER,
    );
    if (lo === Number.MAX_SAFE_INTEGER) lo = 1;
    hi = Math.max(extent.hi, maxAnchor?.seq ?? 0);
  }
  return hi < lo ? undefined : { lo, hi, tail };
}

/** The walk over a chain's rows in seq order: what it has seen so far and what it found. */
class ChainWalk {
  prevHash: string | null;
  expect: number;
  lastRow: StoredDecision | undefined;
  /** decided_at of the last row checked (ClickHouse text form) */
  lastDecidedAt: string | undefined;
  lastOffset = -1n;
  rows = 0;
  readonly mismatched: { row: StoredDecision; prev: string; prevRow: StoredDecision | undefined }[] = [];
  readonly backwards: { row: StoredDecision; after: bigint }[] = [];
  readonly claimMisses: { seq: number; from: number; claim: Anchor }[] = [];
  lastGoodClaim: number | null;
  refState: ReferenceState | undefined;
  private readonly pending: StoredDecision[] = [];
  /** segments wholly before the retention horizon may have been deleted by the TTL */
  private readonly horizon: number | undefined;

  constructor(
    private readonly store: Store,
    readonly chain: number,
    readonly ctx: ChainContext,
    readonly claims: Map<number, Anchor>,
    readonly lo: number,
  ) {
    this.horizon = ctx.opts.retentionDays ? retentionHorizon(ctx.opts.retentionDays, ctx.now).getTime() : undefined;
    this.prevHash = lo === 1 ? genesisHash(chain) : (claims.get(lo - 1)?.hash ?? null);
    this.expect = lo;
    this.lastGoodClaim = this.prevHash !== null ? lo - 1 : null;
  }

  async run(hi: number): Promise<void> {
    const ref = this.ctx.opts.reference;
    this.refState = ref ? await startReference(ref, this.chain) : undefined;
    const pageRows = this.ctx.pageRows;
    // The next page's lines are read while this one is hashed (ClickHouse renders, JavaScript hashes).
    const linesOf = (from: number) => {
      if (from > hi || this.refState) return undefined;
      const p = readLines(this.store, this.chain, from, Math.min(hi, from + pageRows - 1));
      p.catch(() => {}); // awaited in its turn; not an unhandled rejection meanwhile
      return p;
    };
    let next = linesOf(this.lo);
    for (let from = this.lo; from <= hi; from += pageRows) {
      const to = Math.min(hi, from + pageRows - 1);
      const lines = next ? await next : undefined;
      next = linesOf(from + pageRows);
      if (!(lines && this.prevHash !== null && this.fastPage(lines, from, to))) await this.slowPage(from, to);
      this.ctx.tick?.(to - this.lo + 1);
    }
    await next; // read ahead past a failed page: nothing left to wait for
  }

  /** A page that is whole, in order and links up is done without building rows; false if not. */
  private fastPage(lines: FastLine[], from: number, to: number): boolean {
    if (lines.length !== to - from + 1) return false;
    let h = this.prevHash as string;
    let e = this.expect;
    let off = this.lastOffset;
    for (const l of lines) {
      const o = BigInt(l.offset);
      const c = this.claims.get(l.seq);
      if (l.seq !== e || o <= off || linkHash(h, l.line) !== l.hash || (c && c.hash !== l.hash)) return false;
      h = l.hash;
      e += 1;
      off = o;
    }
    for (const l of lines) if (this.claims.has(l.seq)) this.lastGoodClaim = l.seq;
    this.rows += lines.length;
    this.prevHash = h;
    this.expect = e;
    this.lastOffset = off;
    this.lastRow = undefined;
    this.lastDecidedAt = decidedAtOf(lines.at(-1) as FastLine);
    return true;
  }

  /** A page read as rows and checked row by row (seq by seq: several rows may claim one seq). */
  private async slowPage(from: number, to: number): Promise<void> {
    const page = await readStored(this.store, 'kafka_partition = {c:UInt16} AND chain_seq BETWEEN {lo:UInt64} AND {hi:UInt64}', {
      c: this.chain,
      lo: from,
      hi: to,
    });
    for (let i = 0; i < page.length; ) {
      let j = i + 1;
      while (j < page.length && (page[j] as StoredDecision).chain_seq === (page[i] as StoredDecision).chain_seq) j++;
      this.group(page.slice(i, j), page[j]);
      i = j;
    }
    const ref = this.ctx.opts.reference;
    if (this.refState && ref)
      await compareWithReference(ref, this.refState, this.chain, this.pending.splice(0), this.ctx.found, false);
  }

  /** Missing rows a…b: deleted, or expired when the retention horizon explains them. */
  private gap(a: number, b: number, next: StoredDecision | undefined): void {
    const { anchors, found, opts } = this.ctx;
    const expiredBefore = this.horizon ?? Number.NEGATIVE_INFINITY;
    const tolerance = 2 * DAY;
    const beforeExpired = this.lastDecidedAt === undefined || Date.parse(isoTime(this.lastDecidedAt)) < expiredBefore;
    const nextNearHorizon = !next || Date.parse(isoTime(next.decided_at)) < expiredBefore + tolerance;
    const cover = anchors.find((x) => x.cp.prevSeq < a && a <= x.seq);
    // A gap in a segment whose every row was decided after the horizon was not cut by the TTL.
    const coverYoung = anchors.some((x) => x.cp.prevSeq < b && a <= x.seq && Date.parse(x.cp.decidedFrom) >= expiredBefore);
    if (beforeExpired && nextNearHorizon && this.horizon !== undefined && !coverYoung) {
      found.add({
        kind: 'expired',
        severity: 'info',
        detectedBy: 'chain',
        chain: this.chain,
        seq: a,
        toSeq: b,
        message: `seq ${a}…${b} of chain ${this.chain} are gone and older than the ${opts.retentionDays}-day retention: deleted by the TTL`,
      });
      return;
    }
    const n = b - a + 1;
    found.add({
      kind: 'deleted',
      severity: 'error',
      detectedBy: cover ? cover.source : 'chain',
      chain: this.chain,
      seq: a,
      toSeq: b,
      message:
        n === 1
          ? `the row at seq ${a} of chain ${this.chain} was deleted`
          : `${n} consecutive rows, seq ${a}…${b} of chain ${this.chain}, were deleted`,
    });
  }

  /** The rows stored for one seq, after the previous seq's. */
  private group(group: StoredDecision[], next: StoredDecision | undefined): void {
    const { found } = this.ctx;
    const chain = this.chain;
    const seq = (group[0] as StoredDecision).chain_seq;
    if (seq > this.expect) {
      this.gap(this.expect, seq - 1, group[0]);
      this.prevHash = this.claims.get(seq - 1)?.hash ?? null;
      this.lastGoodClaim = this.prevHash !== null ? seq - 1 : this.lastGoodClaim;
      if (this.prevHash === null) {
        found.add({
          kind: 'unverifiable',
          severity: 'warning',
          detectedBy: 'chain',
          chain,
          seq,
          message: `the row at seq ${seq} of chain ${chain} follows missing rows: its own content cannot be checked, only the rows after it`,
        });
      }
    }
    const row = this.genuineOf(group, next);
    this.rows += 1;
    const off = BigInt(row.kafka_offset);
    if (off <= this.lastOffset) this.backwards.push({ row, after: this.lastOffset });
    else this.lastOffset = off;
    if (this.prevHash !== null && linkHash(this.prevHash, canonical(row)) !== row.chain_hash) {
      this.mismatched.push({ row, prev: this.prevHash, prevRow: this.lastRow });
    }
    const c = this.claims.get(seq);
    if (c) {
      if (c.hash !== row.chain_hash) this.claimMisses.push({ seq, from: (this.lastGoodClaim ?? this.lo - 1) + 1, claim: c });
      else this.lastGoodClaim = seq;
    }
    this.prevHash = row.chain_hash;
    this.lastRow = row;
    this.lastDecidedAt = row.decided_at;
    this.expect = seq + 1;
    if (this.refState) this.pending.push(row);
  }

  /** Several rows for one seq: identical copies are harmless; otherwise one is genuine, the rest inserted. */
  private genuineOf(group: StoredDecision[], next: StoredDecision | undefined): StoredDecision {
    const { found } = this.ctx;
    const chain = this.chain;
    const seq = (group[0] as StoredDecision).chain_seq;
    const distinct: StoredDecision[] = [];
    for (const r of group) {
      const text = canonical(r);
      if (distinct.some((d) => d.chain_hash === r.chain_hash && canonical(d) === text)) {
        found.add({
          kind: 'duplicate_copy',
          severity: 'info',
          detectedBy: 'chain',
          chain,
          seq,
          message: `seq ${seq} of chain ${chain} is stored twice, byte-identical (a batch written twice; merged away by ClickHouse)`,
        });
        continue;
      }
      distinct.push(r);
    }
    if (distinct.length > 1) {
      const anchored = this.claims.get(seq)?.hash;
      const prevHash = this.prevHash;
      const score = (r: StoredDecision) =>
        (anchored !== undefined && r.chain_hash === anchored ? 4 : 0) +
        (prevHash !== null && linkHash(prevHash, canonical(r)) === r.chain_hash ? 2 : 0) +
        (next && next.chain_seq === seq + 1 && linkHash(r.chain_hash, canonical(next)) === next.chain_hash ? 1 : 0);
      distinct.sort((a, b) => score(b) - score(a));
      for (const extra of distinct.slice(1)) {
        found.add({
          kind: 'inserted',
          severity: 'error',
          detectedBy: 'chain',
          chain,
          seq,
          offset: extra.kafka_offset,
          eventId: extra.event_id,
          message: `a second row claims seq ${seq} of chain ${chain} (event ${extra.event_id}, offset ${extra.kafka_offset}): inserted`,
        });
      }
    }
    return distinct[0] as StoredDecision;
  }
}

/** Missing at the end: the chain stops before a signed checkpoint does. */
function reportMissingEnd(walk: ChainWalk, hi: number): void {
  if (walk.expect > hi) return;
  const chain = walk.chain;
  const by = walk.claims.get(hi)?.source ?? 'checkpoint';
  const what = {
    checkpoint: 'checkpoint',
    'exported-checkpoint': 'exported checkpoint',
    witness: 'witnessed checkpoint',
    head: 'head',
  }[by];
  walk.ctx.found.add({
    kind: 'deleted',
    severity: 'error',
    detectedBy: by,
    chain,
    seq: walk.expect,
    toSeq: hi,
    message:
      walk.rows === 0 && walk.expect === 1
        ? `every row of chain ${chain}, seq 1…${hi}, was deleted (the whole chain): a signed ${what} covers seq ${hi}`
        : `the newest rows of chain ${chain}, seq ${walk.expect}…${hi}, were deleted: a signed ${what} covers seq ${hi}, the stored chain ends at ${walk.expect - 1}`,
  });
}

/** Rows whose offset goes backwards, unless part of a swapped pair already named. */
function reportReordered(walk: ChainWalk, swapped: Map<number, StoredDecision[]>): void {
  for (const b of walk.backwards) {
    if (swapped.has(b.row.chain_seq)) continue;
    walk.ctx.found.add({
      kind: 'reordered',
      severity: 'error',
      detectedBy: 'chain',
      chain: walk.chain,
      seq: b.row.chain_seq,
      offset: b.row.kafka_offset,
      eventId: b.row.event_id,
      message: `seq ${b.row.chain_seq} of chain ${walk.chain} holds offset ${b.row.kafka_offset}, not after the previous row's ${b.after}: rows were reordered`,
    });
  }
}

/**
 * A checkpoint's row carrying another hash: either one of a reordered pair (already reported), or
 * the rows since the last matching checkpoint were edited and re-chained. Later checkpoints then
 * disagree too; they are named in the same finding.
 */
function reportRewritten(walk: ChainWalk, swapped: Map<number, StoredDecision[]>): void {
  const misses = walk.claimMisses.filter(
    (m) => !(swapped.has(m.seq) && [...(swapped.get(m.seq) ?? [])].some((r) => r.chain_hash === m.claim.hash)),
  );
  const first = misses[0];
  if (!first) return;
  const later = misses.slice(1).map((m) => m.seq);
  walk.ctx.found.add({
    kind: 'rewritten',
    severity: 'error',
    detectedBy: first.claim.source,
    chain: walk.chain,
    seq: first.from,
    toSeq: first.seq,
    message:
      `the row at seq ${first.seq} of chain ${walk.chain} does not carry the hash a signed checkpoint gives it: some of rows ${first.from}…${first.seq} were changed and the hashes recomputed` +
      `${later.length ? ` (every later checkpoint disagrees too: seq ${later.join(', ')})` : ''}` +
      `${walk.ctx.opts.reference ? '; the topic comparison names the changed rows' : '; compare against the topic to see which'}`,
  });
}

/** Rows after the last checkpoint: inserted after a closed chain, not witnessed yet, or unchecked. */
function reportTail(chain: number, ctx: ChainContext, lastCp: number | null): void {
  const { extent, found, opts } = ctx;
  const ref = opts.reference;
  const w = ctx.witnessed;
  if (w?.closed && extent.hi > w.closed.seq) {
    found.add({
      kind: 'inserted',
      severity: 'error',
      detectedBy: 'witness',
      chain,
      seq: w.closed.seq + 1,
      toSeq: extent.hi,
      message: `seq ${w.closed.seq + 1}…${extent.hi} of chain ${chain} were stored after the sink closed the chain at seq ${w.closed.seq} (its graceful stop at ${w.closed.at}, witnessed) and no sink has reopened it since: not written by the sink`,
    });
  } else if (opts.witness && extent.hi > (w?.lastSeq ?? 0)) {
    found.add({
      kind: 'unwitnessed_tail',
      severity: 'info',
      detectedBy: 'witness',
      chain,
      seq: (w?.lastSeq ?? 0) + 1,
      toSeq: extent.hi,
      message: `seq ${(w?.lastSeq ?? 0) + 1}…${extent.hi} of chain ${chain} are not witnessed yet (a running sink witnesses them within CHECKPOINT_INTERVAL_MS or CHECKPOINT_MAX_ROWS): their links were checked, but deleting the newest of them is not detectable ${ref ? 'beyond the topic comparison done here' : 'without --against-topic'}`,
    });
  } else if (!opts.witness && extent.hi > (lastCp ?? 0)) {
    found.add({
      kind: 'unchecked_tail',
      severity: 'info',
      detectedBy: 'chain',
      chain,
      seq: (lastCp ?? 0) + 1,
      toSeq: extent.hi,
      message: `seq ${(lastCp ?? 0) + 1}…${extent.hi} of chain ${chain} come after the last checkpoint: their links were checked, but deleting the newest of them is detectable only ${ref ? 'against the topic (done here)' : 'against the decisions topic (--against-topic) or a later exported checkpoint'}`,
    });
  }
}

interface FastLine {
  seq: number;
  offset: string;
  hash: string;
  /** the row's canonical bytes as ClickHouse renders them */
  line: string;
}

/** decided_at of a line (its fourth value), parsed only where needed: a page's last line. */
function decidedAtOf(l: FastLine): string {
  return (JSON.parse(l.line) as unknown[])[3] as string;
}

/**
 * The insert columns (canonical columns, then the hash) rendered by ClickHouse as `[v1,v2,…,"hash"]`,
 * one line per row: the CustomSeparated format with JSON escaping gives exactly the line the sink
 * inserted (JSONCompactEachRow's own output puts ", " between values), so the canonical bytes are the
 * line without the hash. Not sorted by ClickHouse (sorting the page in JavaScript by its seq is
 * cheaper than sorting wide rows), nor built as objects. Constant settings, in the query itself.
 */
const LINES_SETTINGS = `SETTINGS date_time_output_format = 'simple', output_format_json_quote_64bit_integers = 0,
  output_format_json_escape_forward_slashes = 0, format_custom_escaping_rule = 'JSON', format_custom_field_delimiter = ',',
  format_custom_row_before_delimiter = '[', format_custom_row_after_delimiter = ']\\n', format_custom_row_between_delimiter = ''`;

/**
 * A page of a chain as rendered lines. When a line hashes onto its predecessor's hash to its stored
 * hash, the stored values render to exactly the bytes the sink hashed: the row is intact. Where a
 * page does not pass whole, the caller checks it row by row, which names what is wrong (and decides
 * where ClickHouse renders a value differently from `canonical`, e.g. U+2028 in a string).
 */
async function readLines(store: Store, chain: number, lo: number, hi: number): Promise<FastLine[]> {
  const rs = await store.client.query({
    query: `SELECT ${INSERT_COLUMNS.join(', ')} FROM ${store.table('decisions')}
            WHERE kafka_partition = {c:UInt16} AND chain_seq BETWEEN {lo:UInt64} AND {hi:UInt64}
            ${LINES_SETTINGS}`,
    query_params: { c: chain, lo, hi },
    format: 'CustomSeparated',
  });
  const text = await rs.text();
  const out: FastLine[] = [];
  // `…,kafka_partition,kafka_offset,chain_seq,"<64 hex>"]`: the last values contain no commas.
  for (let start = 0; start < text.length; ) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    const l = text.slice(start, end);
    start = end + 1;
    if (l.length < 70) continue;
    const body = l.slice(0, l.length - 68);
    const s = body.lastIndexOf(',');
    const o = body.lastIndexOf(',', s - 1);
    out.push({
      seq: Number(body.slice(s + 1)),
      offset: body.slice(o + 1, s),
      hash: l.slice(l.length - 66, l.length - 2),
      line: `${body}]`,
    });
  }
  // seq order; several rows at one seq (a forgery or a copy) in a fixed order, as the row path reads them
  out.sort((a, b) => a.seq - b.seq || (a.hash < b.hash ? -1 : a.hash > b.hash ? 1 : 0));
  return out;
}

/**
 * Rows whose content does not give their hash: two neighbours whose contents fit each other's place
 * were reordered; the rest were modified.
 */
function classifyMismatches(
  chain: number,
  list: { row: StoredDecision; prev: string; prevRow: StoredDecision | undefined }[],
  found: Findings,
  withReference: boolean,
): Map<number, StoredDecision[]> {
  const swapped = new Map<number, StoredDecision[]>();
  for (let i = 0; i < list.length; i++) {
    const a = list[i] as (typeof list)[number];
    const b = list[i + 1];
    if (b && b.row.chain_seq === a.row.chain_seq + 1 && swapFits(a.row, b.row, a.prev)) {
      swapped.set(a.row.chain_seq, [a.row, b.row]);
      swapped.set(b.row.chain_seq, [a.row, b.row]);
      found.add({
        kind: 'reordered',
        severity: 'error',
        detectedBy: 'chain',
        chain,
        seq: a.row.chain_seq,
        toSeq: b.row.chain_seq,
        message: `seq ${a.row.chain_seq} and ${b.row.chain_seq} of chain ${chain} hold each other's records (events ${a.row.event_id} and ${b.row.event_id}): reordered`,
      });
      i++;
      continue;
    }
    // The row after a swapped pair links to whichever of the pair's hashes was not moved.
    const pair = swapped.get(a.row.chain_seq - 1);
    if (pair?.some((p) => linkHash(p.chain_hash, canonical(a.row)) === a.row.chain_hash)) continue;
    if (swapped.has(a.row.chain_seq)) continue;
    found.add({
      kind: 'modified',
      severity: 'error',
      detectedBy: 'chain',
      chain,
      seq: a.row.chain_seq,
      offset: a.row.kafka_offset,
      eventId: a.row.event_id,
      message: `the row at seq ${a.row.chain_seq} of chain ${chain} (event ${a.row.event_id}) no longer matches its hash: modified${withReference ? '' : ' (compare against the topic to see which fields)'}`,
    });
  }
  return swapped;
}

/** Whether x (at seq s) and y (at s + 1) are two genuine rows in each other's place. */
function swapFits(x: StoredDecision, y: StoredDecision, prev: string): boolean {
  const hashes = [x.chain_hash, y.chain_hash];
  const offsets = [x.kafka_offset, y.kafka_offset];
  for (const o1 of offsets) {
    const h1 = linkHash(prev, canonical({ ...y, kafka_offset: o1, chain_seq: x.chain_seq }));
    if (!hashes.includes(h1)) continue;
    for (const o2 of offsets) {
      if (o2 === o1 && offsets[0] !== offsets[1]) continue;
      if (hashes.includes(linkHash(h1, canonical({ ...x, kafka_offset: o2, chain_seq: y.chain_seq })))) return true;
    }
  }
  return false;
}

// --- comparison with the topic ----------------------------------------------------------------

interface ReferenceState {
  low: bigint;
  high: bigint;
  committed: bigint | null;
  dead: Set<string>;
  /** next offset to read */
  at: bigint | null;
  iter: AsyncIterator<ReferenceRecord> | null;
  buffered: ReferenceRecord | null;
}

async function startReference(ref: ReferenceSource, chain: number): Promise<ReferenceState> {
  const b = await ref.bounds(chain);
  return { ...b, dead: await ref.deadLettered(chain), at: null, iter: null, buffered: null };
}

async function nextRecord(ref: ReferenceSource, st: ReferenceState, chain: number): Promise<ReferenceRecord | null> {
  if (st.buffered) {
    const r = st.buffered;
    st.buffered = null;
    return r;
  }
  if (st.at === null || st.at >= st.high) return null;
  if (!st.iter) st.iter = ref.read(chain, st.at, st.high)[Symbol.asyncIterator]();
  const n = await st.iter.next();
  return n.done ? null : n.value;
}

/**
 * Merge-joins stored rows (one page, in chain order) with the topic records of the same offsets.
 * With `final`, reads the topic to its end (what is stored nowhere and was not dead-lettered).
 */
async function compareWithReference(
  ref: ReferenceSource,
  st: ReferenceState,
  chain: number,
  rows: StoredDecision[],
  found: Findings,
  final: boolean,
): Promise<void> {
  const byOffset = new Map<bigint, StoredDecision>();
  let maxOff = -1n;
  for (const r of rows) {
    const o = BigInt(r.kafka_offset);
    byOffset.set(o, r);
    if (o > maxOff) maxOff = o;
    if (st.at === null) st.at = o < st.low ? st.low : o;
  }
  if (st.at === null) {
    if (!final) return;
    st.at = st.low;
  }
  const until = final ? st.high : maxOff + 1n;
  const seen = new Set<bigint>();
  for (;;) {
    const rec = await nextRecord(ref, st, chain);
    if (!rec) break;
    const o = BigInt(rec.offset);
    if (o >= until) {
      st.buffered = rec;
      break;
    }
    seen.add(o);
    const row = byOffset.get(o);
    if (row) {
      if (!rec.content) continue;
      const diff = contentDiff(row, rec.content);
      if (diff.length > 0) {
        found.add({
          kind: 'modified',
          severity: 'error',
          detectedBy: 'topic',
          chain,
          seq: row.chain_seq,
          offset: row.kafka_offset,
          eventId: rec.content.event_id,
          fields: diff,
          message: `the row at seq ${row.chain_seq} of chain ${chain} differs from ${ref.name} at offset ${rec.offset} in ${diff.map((d) => d.field).join(', ')}`,
        });
      }
      continue;
    }
    if (st.dead.has(rec.offset) || !rec.content) continue;
    if (!final) {
      // Not stored although later records of the page are: deleted (or never stored).
      found.add({
        kind: 'deleted',
        severity: 'error',
        detectedBy: 'topic',
        chain,
        offset: rec.offset,
        eventId: rec.content.event_id,
        message: `${ref.name} holds event ${rec.content.event_id} at offset ${rec.offset} of partition ${chain}; no stored row has it and it was not dead-lettered`,
      });
    } else if (st.committed !== null && o < st.committed) {
      found.add({
        kind: 'deleted',
        severity: 'error',
        detectedBy: 'topic',
        chain,
        offset: rec.offset,
        eventId: rec.content.event_id,
        message: `${ref.name} holds event ${rec.content.event_id} at offset ${rec.offset} of partition ${chain}, which the sink committed as stored; no stored row has it: one of the newest rows was deleted`,
      });
    } else {
      found.add({
        kind: 'not_yet_stored',
        severity: 'info',
        detectedBy: 'topic',
        chain,
        offset: rec.offset,
        eventId: rec.content.event_id,
        message: `event ${rec.content.event_id} at offset ${rec.offset} of partition ${chain} is not stored yet (beyond the sink's committed offset)`,
      });
    }
  }
  for (const [o, row] of byOffset) {
    if (seen.has(o) || o < st.low) continue;
    found.add({
      kind: 'inserted',
      severity: 'error',
      detectedBy: 'topic',
      chain,
      seq: row.chain_seq,
      offset: row.kafka_offset,
      eventId: row.event_id,
      message: `the row at seq ${row.chain_seq} of chain ${chain} claims offset ${row.kafka_offset}, where ${ref.name} holds no decision: inserted`,
    });
  }
}

/** One line per finding, for people. */
export function formatReport(r: VerifyReport): string {
  const lines = [
    `${r.ok ? 'OK' : 'FAILED'}: ${r.rows} rows in ${r.chains.length} chain(s), ${r.checkpoints.valid} genuine checkpoint(s)` +
      `${r.checkpoints.exported ? `, ${r.checkpoints.exported} exported` : ''}; checked against ${r.sources.join(', ')}`,
  ];
  for (const c of r.chains) {
    lines.push(
      `  chain ${c.chain}: seq ${c.fromSeq}…${c.toSeq}, ${c.rows} rows, head ${c.storedHeadSeq}, last checkpoint ${c.lastCheckpointSeq ?? 'none'}`,
    );
  }
  for (const f of r.findings) lines.push(`  [${f.severity}] ${f.kind} (${f.detectedBy}): ${f.message}`);
  if (r.truncated) lines.push(`  … more findings not listed: ${JSON.stringify(r.counts)}`);
  return lines.join('\n');
}

/** The content text of a row (for tools comparing rows by content). */
export function contentText(r: DecisionContent): string {
  return encodeContent(r);
}
