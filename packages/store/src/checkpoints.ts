/**
 * Signed checkpoints: "chain C holds rows (prevSeq, lastSeq] linking prevHash to lastHash, `records`
 * rows, decided and occurred in these time ranges", signed with Ed25519. They live in the
 * checkpoints table and can be exported as files an auditor keeps outside ClickHouse; the verifier
 * trusts only public keys it is given, never a key stored next to the data.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject, sign, verify } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { canonicalJson } from '@custos/schemas';
import { type Store, settingsClause } from './client.js';
import { chTime, isoTime } from './decisions.js';

export interface CheckpointFields {
  /** 1: the first form; 2 adds prevCheckpoint and merkleRoot */
  v: 1 | 2;
  kind: 'custos.decisions.checkpoint';
  topic: string;
  chain: number;
  prevSeq: number;
  prevHash: string;
  lastSeq: number;
  lastHash: string;
  /** Kafka offset of the row at lastSeq (decimal string) */
  lastOffset: string;
  /** rows in (prevSeq, lastSeq]; the chain holds lastSeq rows in all */
  records: number;
  decidedFrom: string;
  decidedTo: string;
  occurredFrom: string;
  occurredTo: string;
  createdAt: string;
  keyId: string;
  /**
   * v2: SHA-256 (hex) of the payload of the chain's previous checkpoint, empty for its first: the
   * checkpoints of a chain form a chain of their own, so one deleted in the middle is named.
   */
  prevCheckpoint?: string;
  /** v2: RFC 6962 Merkle tree head (hex) over the rows (prevSeq, lastSeq], for inclusion proofs */
  merkleRoot?: string;
}

/** SHA-256 (hex) of a signed payload: how checkpoints and heads name each other. */
export function payloadHash(payload: string): string {
  return createHash('sha256').update(payload).digest('hex');
}

/** What is stored and exported: the exact signed bytes and the signature. */
export interface SignedCheckpoint {
  /** canonical JSON of the fields: the signed bytes */
  payload: string;
  /** Ed25519 signature of `payload`, base64 */
  signature: string;
}

export interface Checkpoint extends SignedCheckpoint {
  fields: CheckpointFields;
}

// --- keys -------------------------------------------------------------------------------------

const isPem = (s: string) => s.trimStart().startsWith('-----BEGIN');

/** A PEM text or the path of a PEM file. */
export function readPem(spec: string): string {
  return isPem(spec) ? spec : readFileSync(spec, 'utf8');
}

export function loadPrivateKey(spec: string): KeyObject {
  const key = createPrivateKey(readPem(spec));
  if (key.asymmetricKeyType !== 'ed25519') throw new Error(`checkpoint key must be Ed25519, not ${key.asymmetricKeyType}`);
  return key;
}

/** Every public key in a PEM text or file (several may be concatenated, e.g. after a rotation). */
export function loadPublicKeys(spec: string): KeyObject[] {
  const text = readPem(spec);
  const blocks = text.match(/-----BEGIN [A-Z ]+-----[\s\S]+?-----END [A-Z ]+-----/g) ?? [];
  if (blocks.length === 0) throw new Error('no PEM block found in the checkpoint public key');
  return blocks.map((b) => {
    const key = b.includes('PRIVATE KEY') ? createPublicKey(createPrivateKey(b)) : createPublicKey(b);
    if (key.asymmetricKeyType !== 'ed25519') throw new Error(`checkpoint key must be Ed25519, not ${key.asymmetricKeyType}`);
    return key;
  });
}

export function publicKeyPem(key: KeyObject): string {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  return pub.export({ type: 'spki', format: 'pem' }).toString();
}

/** First 16 hex digits of SHA-256 of the public key (SPKI DER). */
export function keyId(key: KeyObject): string {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  return createHash('sha256')
    .update(pub.export({ type: 'spki', format: 'der' }))
    .digest('hex')
    .slice(0, 16);
}

/** Reads the key file, or creates one (mode 0600) when there is none. For the demo only. */
export function loadOrCreateKeyFile(path: string): { key: KeyObject; created: boolean } {
  if (existsSync(path)) return { key: loadPrivateKey(path), created: false };
  mkdirSync(dirname(path), { recursive: true });
  const { privateKey } = generateKeyPairSync('ed25519');
  writeFileSync(path, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600, flag: 'wx' });
  return { key: privateKey, created: true };
}

// --- signing ----------------------------------------------------------------------------------

export type UnsignedFields = Omit<CheckpointFields, 'v' | 'kind' | 'keyId' | 'createdAt'> & { createdAt?: string };

export function signCheckpoint(fields: UnsignedFields, privateKey: KeyObject): Checkpoint {
  const full: CheckpointFields = {
    ...fields,
    v: fields.prevCheckpoint !== undefined || fields.merkleRoot !== undefined ? 2 : 1,
    kind: 'custos.decisions.checkpoint',
    createdAt: fields.createdAt ?? new Date().toISOString(),
    keyId: keyId(privateKey),
  };
  const payload = canonicalJson(full);
  const signature = sign(null, Buffer.from(payload), privateKey).toString('base64');
  return { payload, signature, fields: full };
}

export type SignatureCheck = { ok: true; fields: CheckpointFields } | { ok: false; reason: string; fields?: CheckpointFields };

/** Checks the signature against the trusted keys and that the payload is a well-formed checkpoint. */
export function checkSignature(c: SignedCheckpoint, trusted: readonly KeyObject[]): SignatureCheck {
  let fields: CheckpointFields;
  try {
    fields = JSON.parse(c.payload) as CheckpointFields;
  } catch {
    return { ok: false, reason: 'payload is not JSON' };
  }
  if (fields?.kind !== 'custos.decisions.checkpoint' || (fields.v !== 1 && fields.v !== 2))
    return { ok: false, reason: 'payload is not a v1 or v2 checkpoint' };
  if (canonicalJson(fields) !== c.payload) return { ok: false, reason: 'payload is not in canonical form', fields };
  const key = trusted.find((k) => keyId(k) === fields.keyId);
  if (!key) return { ok: false, reason: `signed by key ${fields.keyId}, which is not a trusted key`, fields };
  let good = false;
  try {
    good = verify(null, Buffer.from(c.payload), key, Buffer.from(c.signature, 'base64'));
  } catch {
    good = false;
  }
  return good ? { ok: true, fields } : { ok: false, reason: 'signature does not match the payload', fields };
}

// --- storage ----------------------------------------------------------------------------------

interface CheckpointRow {
  chain: number;
  last_seq: number;
  last_hash: string;
  prev_seq: number;
  prev_hash: string;
  records: number;
  last_offset: string;
  topic: string;
  decided_from: string;
  decided_to: string;
  occurred_from: string;
  occurred_to: string;
  created_at: string;
  key_id: string;
  payload: string;
  signature: string;
}

export async function insertCheckpoint(store: Store, c: Checkpoint): Promise<void> {
  const f = c.fields;
  const row: CheckpointRow = {
    chain: f.chain,
    last_seq: f.lastSeq,
    last_hash: f.lastHash,
    prev_seq: f.prevSeq,
    prev_hash: f.prevHash,
    records: f.records,
    last_offset: f.lastOffset,
    topic: f.topic,
    decided_from: chTime(f.decidedFrom),
    decided_to: chTime(f.decidedTo),
    occurred_from: chTime(f.occurredFrom),
    occurred_to: chTime(f.occurredTo),
    created_at: chTime(f.createdAt),
    key_id: f.keyId,
    payload: c.payload,
    signature: c.signature,
  };
  await store.client.insert({ table: store.table('checkpoints'), values: [row], format: 'JSONEachRow' });
}

/** A stored checkpoint: what its columns say, and its signed payload (which is what counts). */
export interface StoredCheckpoint extends SignedCheckpoint {
  chain: number;
  lastSeq: number;
  lastHash: string;
  prevSeq: number;
  prevHash: string;
  records: number;
  lastOffset: string;
  topic: string;
  decidedFrom: string;
  decidedTo: string;
  occurredFrom: string;
  occurredTo: string;
  createdAt: string;
  keyId: string;
}

export interface ListCheckpointsOptions {
  chain?: number;
  /** checkpoints whose rows were decided at or after… */
  from?: Date;
  /** …and before */
  to?: Date;
  /** only checkpoints with lastSeq above */
  afterSeq?: number;
  limit?: number;
}

/** Checkpoints in chain, seq order. Nothing here is trusted until `checkSignature` says so. */
export async function listCheckpoints(store: Store, opts: ListCheckpointsOptions = {}): Promise<StoredCheckpoint[]> {
  const where: string[] = [];
  const params: Record<string, unknown> = {};
  if (opts.chain !== undefined) {
    where.push('chain = {chain:UInt16}');
    params.chain = opts.chain;
  }
  if (opts.from) {
    where.push(`decided_to >= {from:DateTime64(3, 'UTC')}`);
    params.from = chTime(opts.from.toISOString());
  }
  if (opts.to) {
    where.push(`decided_from < {to:DateTime64(3, 'UTC')}`);
    params.to = chTime(opts.to.toISOString());
  }
  if (opts.afterSeq !== undefined) {
    where.push('last_seq > {afterSeq:UInt64}');
    params.afterSeq = opts.afterSeq;
  }
  const rs = await store.client.query({
    query: `SELECT chain, last_seq, last_hash, prev_seq, prev_hash, records, toString(last_offset) AS last_offset, topic,
                   decided_from, decided_to, occurred_from, occurred_to, created_at, key_id, payload, signature
            FROM ${store.table('checkpoints')} ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
            ORDER BY chain, last_seq, created_at ${opts.limit ? `LIMIT ${Math.floor(opts.limit)}` : ''}
            ${settingsClause({ date_time_output_format: 'simple' })}`,
    query_params: params,
    format: 'JSONEachRow',
  });
  return (await rs.json<CheckpointRow>()).map((r) => ({
    chain: Number(r.chain),
    lastSeq: Number(r.last_seq),
    lastHash: r.last_hash,
    prevSeq: Number(r.prev_seq),
    prevHash: r.prev_hash,
    records: Number(r.records),
    lastOffset: r.last_offset,
    topic: r.topic,
    decidedFrom: isoTime(r.decided_from),
    decidedTo: isoTime(r.decided_to),
    occurredFrom: isoTime(r.occurred_from),
    occurredTo: isoTime(r.occurred_to),
    createdAt: isoTime(r.created_at),
    keyId: r.key_id,
    payload: r.payload,
    signature: r.signature,
  }));
}

/** The newest checkpoint of a chain whose signature holds (forged ones are passed over). */
export async function latestValidCheckpoint(
  store: Store,
  chain: number,
  trusted: readonly KeyObject[],
): Promise<CheckpointFields | undefined> {
  return (await latestValidSigned(store, chain, trusted))?.fields;
}

/** The same, with its signed payload (whose hash the next checkpoint names). */
export async function latestValidSigned(
  store: Store,
  chain: number,
  trusted: readonly KeyObject[],
): Promise<Checkpoint | undefined> {
  const all = await listCheckpoints(store, { chain });
  for (let i = all.length - 1; i >= 0; i--) {
    const c = all[i] as StoredCheckpoint;
    const check = checkSignature(c, trusted);
    if (check.ok) return { payload: c.payload, signature: c.signature, fields: check.fields };
  }
  return undefined;
}

// --- files ------------------------------------------------------------------------------------

/** The file an exported checkpoint is kept in; stable, so exporting twice rewrites nothing. */
export function checkpointFileName(f: Pick<CheckpointFields, 'topic' | 'chain' | 'lastSeq' | 'createdAt'>): string {
  const safeTopic = f.topic.replace(/[^\w.-]/g, '_');
  return `checkpoint-${safeTopic}-p${f.chain}-${String(f.lastSeq).padStart(12, '0')}-${f.createdAt.replace(/[:.]/g, '')}.json`;
}

export interface ExportResult {
  written: string[];
  skipped: number;
}

/**
 * Writes each checkpoint as `{payload, signature, publicKey?}` JSON into `dir`, leaving existing
 * files alone. Only well-signed checkpoints are exported when `trusted` is given.
 */
export async function exportCheckpoints(
  store: Store,
  dir: string,
  opts: ListCheckpointsOptions & { trusted?: readonly KeyObject[] } = {},
): Promise<ExportResult> {
  mkdirSync(dir, { recursive: true });
  const out: ExportResult = { written: [], skipped: 0 };
  for (const c of await listCheckpoints(store, opts)) {
    if (opts.trusted && !checkSignature(c, opts.trusted).ok) {
      out.skipped += 1;
      continue;
    }
    const fields = JSON.parse(c.payload) as CheckpointFields;
    const path = join(dir, checkpointFileName(fields));
    if (existsSync(path)) {
      out.skipped += 1;
      continue;
    }
    const key = opts.trusted?.find((k) => keyId(k) === fields.keyId);
    const body = { payload: c.payload, signature: c.signature, ...(key ? { publicKey: publicKeyPem(key) } : {}) };
    writeFileSync(path, `${JSON.stringify(body, null, 2)}\n`);
    out.written.push(path);
  }
  return out;
}

/** Reads exported checkpoint files (any `*.json` in `dir` with payload and signature). */
export function readCheckpointFiles(dir: string): SignedCheckpoint[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => {
      const j = JSON.parse(readFileSync(join(dir, f), 'utf8')) as Partial<SignedCheckpoint>;
      if (typeof j.payload !== 'string' || typeof j.signature !== 'string') throw new Error(`${f}: not an exported checkpoint`);
      return { payload: j.payload, signature: j.signature };
    });
}
