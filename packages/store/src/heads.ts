/**
 * Signed heads and the witness.
 *
 * A head lists, for every chain the signer knows, the newest checkpoint (its last seq and hash, and
 * the SHA-256 of its payload), and names the previous head; `open` and `closed` say which chains the
 * signing sink is writing to right now and which it stopped writing to gracefully. The sink writes a
 * head after each round of checkpoints, when it takes over a chain, and when it stops.
 *
 * The witness is the log of every checkpoint and head in the order they were made, kept where the
 * store's administrator cannot reach: a Kafka topic of its own (unlimited retention, not compacted)
 * and optionally files in a write-once directory. `verifyRange(…, { witness })` fails when the store
 * lacks a checkpoint, a head or rows that the witness vouches for.
 */
import { type KeyObject, sign, verify } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { canonicalJson } from '@custos/schemas';
import { keyId, type SignedCheckpoint } from './checkpoints.js';
import { type Store, settingsClause } from './client.js';
import { chTime, isoTime } from './decisions.js';

export interface HeadEntry {
  chain: number;
  lastSeq: number;
  lastHash: string;
  /** SHA-256 (hex) of the checkpoint's payload */
  checkpoint: string;
}

export interface HeadFields {
  v: 1;
  kind: 'custos.decisions.head';
  topic: string;
  createdAt: string;
  keyId: string;
  /** SHA-256 (hex) of the payload of the previous head this signer wrote; empty for its first */
  prevHead: string;
  /** newest checkpoint of every chain the signer knows, by chain */
  chains: HeadEntry[];
  /** chains the signer is storing into now: rows after their checkpoint are expected */
  open: number[];
  /** chains the signer stopped storing into (graceful stop): nothing may follow their checkpoint */
  closed: number[];
}

export interface Head extends SignedCheckpoint {
  fields: HeadFields;
}

export function signHead(
  fields: Omit<HeadFields, 'v' | 'kind' | 'keyId' | 'createdAt'> & { createdAt?: string },
  key: KeyObject,
): Head {
  const full: HeadFields = {
    ...fields,
    chains: [...fields.chains].sort((a, b) => a.chain - b.chain),
    open: [...fields.open].sort((a, b) => a - b),
    closed: [...fields.closed].sort((a, b) => a - b),
    v: 1,
    kind: 'custos.decisions.head',
    createdAt: fields.createdAt ?? new Date().toISOString(),
    keyId: keyId(key),
  };
  const payload = canonicalJson(full);
  return { payload, signature: sign(null, Buffer.from(payload), key).toString('base64'), fields: full };
}

export type HeadCheck = { ok: true; fields: HeadFields } | { ok: false; reason: string; fields?: HeadFields };

export function checkHead(h: SignedCheckpoint, trusted: readonly KeyObject[]): HeadCheck {
  let fields: HeadFields;
  try {
    fields = JSON.parse(h.payload) as HeadFields;
  } catch {
    return { ok: false, reason: 'payload is not JSON' };
  }
  if (fields?.kind !== 'custos.decisions.head' || fields.v !== 1 || !Array.isArray(fields.chains))
    return { ok: false, reason: 'payload is not a v1 head' };
  if (canonicalJson(fields) !== h.payload) return { ok: false, reason: 'payload is not in canonical form', fields };
  const key = trusted.find((k) => keyId(k) === fields.keyId);
  if (!key) return { ok: false, reason: `signed by key ${fields.keyId}, which is not a trusted key`, fields };
  let good = false;
  try {
    good = verify(null, Buffer.from(h.payload), key, Buffer.from(h.signature, 'base64'));
  } catch {
    good = false;
  }
  return good ? { ok: true, fields } : { ok: false, reason: 'signature does not match the payload', fields };
}

export async function insertHead(store: Store, h: Head): Promise<void> {
  await store.client.insert({
    table: store.table('heads'),
    values: [{ created_at: chTime(h.fields.createdAt), key_id: h.fields.keyId, payload: h.payload, signature: h.signature }],
    format: 'JSONEachRow',
  });
}

/** Stored heads, oldest first. Nothing here is trusted until `checkHead` says so. */
export async function listHeads(store: Store): Promise<(SignedCheckpoint & { createdAt: string })[]> {
  const rs = await store.client.query({
    query: `SELECT created_at, payload, signature FROM ${store.table('heads')} ORDER BY created_at
            ${settingsClause({ date_time_output_format: 'simple' })}`,
    format: 'JSONEachRow',
  });
  return (await rs.json<{ created_at: string; payload: string; signature: string }>()).map((r) => ({
    createdAt: isoTime(r.created_at),
    payload: r.payload,
    signature: r.signature,
  }));
}

// --- the witness --------------------------------------------------------------------------------

export type WitnessType = 'checkpoint' | 'head';

/** One record of the witness: a checkpoint or a head, exactly as signed. */
export interface WitnessRecord extends SignedCheckpoint {
  type: WitnessType;
}

/** The witness as read back: its records in the order they were written. */
export interface WitnessLog {
  /** shown in findings, e.g. `witness topic decisions.witness` */
  name: string;
  records: WitnessRecord[];
}

/** A witness record's bytes (JSON), as written to the topic and to files. */
export function encodeWitness(r: WitnessRecord): Buffer {
  return Buffer.from(JSON.stringify({ type: r.type, payload: r.payload, signature: r.signature }));
}

/** Parses a witness record; undefined for bytes that are not one (they prove nothing). */
export function decodeWitness(bytes: Buffer | string | null): WitnessRecord | undefined {
  if (!bytes) return undefined;
  try {
    const j = JSON.parse(String(bytes)) as Partial<WitnessRecord>;
    if ((j.type === 'checkpoint' || j.type === 'head') && typeof j.payload === 'string' && typeof j.signature === 'string')
      return { type: j.type, payload: j.payload, signature: j.signature };
  } catch {
    // not a witness record
  }
  return undefined;
}

/**
 * Writes a witness record into `dir` as a file of its own, never overwriting one (the directory is
 * meant to be write-once storage: an object-locked bucket mount, a WORM volume). Names sort in the
 * order the records were made.
 */
export function writeWitnessFile(dir: string, r: WitnessRecord, seq: number): string {
  mkdirSync(dir, { recursive: true });
  const f = JSON.parse(r.payload) as { createdAt?: string; chain?: number; lastSeq?: number };
  const when = String(f.createdAt ?? new Date().toISOString()).replace(/[:.]/g, '');
  const what = r.type === 'checkpoint' ? `checkpoint-p${f.chain}-${String(f.lastSeq).padStart(12, '0')}` : 'head';
  const path = join(dir, `${when}-${String(seq).padStart(6, '0')}-${what}.json`);
  if (!existsSync(path)) writeFileSync(path, `${encodeWitness(r).toString()}\n`, { flag: 'wx' });
  return path;
}

/** Reads a witness directory (files written by `writeWitnessFile`), in the order written. */
export function readWitnessDir(dir: string): WitnessLog {
  const records: WitnessRecord[] = [];
  for (const f of readdirSync(dir)
    .filter((x) => x.endsWith('.json'))
    .sort()) {
    const r = decodeWitness(readFileSync(join(dir, f)));
    if (r) records.push(r);
  }
  return { name: `witness directory ${dir}`, records };
}
