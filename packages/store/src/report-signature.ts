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
import { keyId, type SignedCheckpoint } from './checkpoints.js';

export interface ReportSignatureFields {
  v: 1;
  kind: 'custos.report.signature';
  /** the report file's name (not its directory) */
  file: string;
  sha256: string;
  /** SHA-256 (hex) of the payloads of the checkpoints covering the report's period */
  checkpoints: string[];
  /** SHA-256 (hex) of the newest head's payload when the report was signed, if any */
  head?: string;
  signedAt: string;
  keyId: string;
}

export interface ReportSignature extends SignedCheckpoint {
  fields: ReportSignatureFields;
}

export function signReport(
  path: string,
  body: Buffer,
  rests: { checkpoints: string[]; head?: string | undefined },
  key: KeyObject,
  now = new Date(),
): ReportSignature {
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
