/**
 * Signed reports. A report file (JSON, CSV or PDF) gets a signature file beside it,
 * `<file>.sig.json`: `{payload, signature}` where `payload` is canonical JSON naming the file, its
 * SHA-256, the checkpoints and head it rests on (SHA-256 of their payloads) and the key id, and
 * `signature` is Ed25519 over exactly those bytes (base64). An auditor checks it with the public
 * key alone — `custos report verify`, or openssl:
 *
 *   jq -j .payload R.pdf.sig.json > payload && jq -r .signature R.pdf.sig.json | base64 -d > sig
 *   openssl pkeyutl -verify -pubin -inkey public.pem -rawin -in payload -sigfile sig
 *   sha256sum R.pdf   # equals the payload's "sha256"
 */
import { createHash, type KeyObject, sign, verify } from 'node:crypto';
import { basename } from 'node:path';
import { canonicalJson } from '@custos/schemas';
import { checkSignature, keyId, listCheckpoints, payloadHash, type SignedCheckpoint } from './checkpoints.js';
import type { Store } from './client.js';
import { checkHead, listHeads } from './heads.js';

export interface ReportSignatureFields {
  v: 1;
  kind: 'custos.report.signature';
  /** the report file's name (not its directory) */
  file: string;
  sha256: string;
  /**
   * SHA-256 (hex) of the payloads of the checkpoints the report rests on: per chain, the first and
   * the last genuine checkpoint covering the report's period. Those between are bound to them by
   * their `prevCheckpoint` links, so the list stays a few entries a chain however long the period.
   */
  checkpoints: string[];
  /** SHA-256 (hex) of the newest head's payload when the report was signed, if any */
  head?: string;
  signedAt: string;
  keyId: string;
}

export interface ReportSignature extends SignedCheckpoint {
  fields: ReportSignatureFields;
}

/** What a report rests on: see `ReportSignatureFields.checkpoints` and `.head`. */
export interface ReportRests {
  checkpoints: string[];
  head?: string | undefined;
}

/**
 * The genuine checkpoints a report over [from, to) rests on (first and last per chain) and the
 * newest genuine head. `trusted` are the checkpoint keys (not the report key).
 */
export async function reportRests(
  store: Store,
  range: { from: Date; to: Date },
  trusted: readonly KeyObject[],
): Promise<ReportRests> {
  const ends = new Map<number, { first: string; last: string }>();
  // oldest first per chain (listCheckpoints orders by chain, lastSeq)
  for (const c of await listCheckpoints(store, { from: range.from, to: range.to })) {
    if (!checkSignature(c, trusted).ok) continue;
    const h = payloadHash(c.payload);
    const e = ends.get(c.chain);
    if (e) e.last = h;
    else ends.set(c.chain, { first: h, last: h });
  }
  const checkpoints = [...new Set([...ends.values()].flatMap((e) => [e.first, e.last]))];
  const head = (await listHeads(store).catch(() => [])).filter((h) => checkHead(h, trusted).ok).at(-1);
  return { checkpoints, ...(head ? { head: payloadHash(head.payload) } : {}) };
}

/** The companion file's bytes (`<file>.sig.json`). */
export function reportSignatureFile(sig: SignedCheckpoint): string {
  return `${JSON.stringify({ payload: sig.payload, signature: sig.signature }, null, 2)}\n`;
}

export function signReport(path: string, body: Buffer, rests: ReportRests, key: KeyObject, now = new Date()): ReportSignature {
  const fields: ReportSignatureFields = {
    v: 1,
    kind: 'custos.report.signature',
    file: basename(path),
    sha256: createHash('sha256').update(body).digest('hex'),
    checkpoints: [...rests.checkpoints].sort(),
    ...(rests.head ? { head: rests.head } : {}),
    signedAt: now.toISOString(),
    keyId: keyId(key),
  };
  const payload = canonicalJson(fields);
  return { payload, signature: sign(null, Buffer.from(payload), key).toString('base64'), fields };
}

export type ReportCheck = { ok: true; fields: ReportSignatureFields } | { ok: false; reason: string };

/** Checks a report's bytes against its signature file with the trusted public keys alone. */
export function checkReport(body: Buffer, sig: SignedCheckpoint, trusted: readonly KeyObject[], fileName?: string): ReportCheck {
  let fields: ReportSignatureFields;
  try {
    fields = JSON.parse(sig.payload) as ReportSignatureFields;
  } catch {
    return { ok: false, reason: 'the signature file’s payload is not JSON' };
  }
  if (fields?.kind !== 'custos.report.signature' || fields.v !== 1) return { ok: false, reason: 'not a v1 report signature' };
  const key = trusted.find((k) => keyId(k) === fields.keyId);
  if (!key) return { ok: false, reason: `signed by key ${fields.keyId}, which is not a trusted key` };
  let good = false;
  try {
    good = verify(null, Buffer.from(sig.payload), key, Buffer.from(sig.signature, 'base64'));
  } catch {
    good = false;
  }
  if (!good) return { ok: false, reason: 'the signature does not match its payload (the signature file was edited or forged)' };
  const sha = createHash('sha256').update(body).digest('hex');
  if (sha !== fields.sha256)
    return {
      ok: false,
      reason: `the report’s SHA-256 is ${sha}, the signed one ${fields.sha256}: the report was edited after signing`,
    };
  if (fileName !== undefined && basename(fileName) !== fields.file)
    return { ok: false, reason: `the signature is for ${fields.file}, not ${basename(fileName)}` };
  return { ok: true, fields };
}
