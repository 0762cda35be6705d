/**
 * The store's settings from the environment (`storeProcessEnv` adds the common ones): retention and
 * legal holds, and the checkpoint signing key. There is no default key: outside the demo one must be
 * configured; the demo (CHECKPOINT_KEY_AUTOGEN=true) creates one in the data directory and logs its
 * public key.
 */

import type { KeyObject } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { env } from '@custos/config';
import { z } from 'zod';
import { keyId, loadOrCreateKeyFile, loadPrivateKey, loadPublicKeys, publicKeyPem } from './checkpoints.js';
import { type LegalHold, MIN_RETENTION_DAYS, type RetentionConfig } from './retention.js';

const legalHold = z.object({
  id: z.string().min(1),
  tenantId: z.string().min(1).optional(),
  subjectId: z.string().min(1).optional(),
  actorId: z.string().min(1).optional(),
  until: z
    .string()
    .regex(/^\d{4}-\d{2}-\d{2}$/, 'must be a date YYYY-MM-DD')
    .optional(),
});

/** JSON text, or the path of a JSON file, holding an array of legal holds. */
const legalHolds = z.string().transform((v, ctx): LegalHold[] => {
  let text = v;
  if (!v.trimStart().startsWith('[')) {
    if (!existsSync(v)) {
      ctx.addIssue({ code: 'custom', message: 'must be a JSON array of holds or the path of a file holding one' });
      return z.NEVER;
    }
    text = readFileSync(v, 'utf8');
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    ctx.addIssue({ code: 'custom', message: 'is not valid JSON' });
    return z.NEVER;
  }
  const r = z.array(legalHold).safeParse(parsed);
  if (!r.success) {
    ctx.addIssue({ code: 'custom', message: r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ') });
    return z.NEVER;
  }
  return r.data;
});

export const storeEnv = z.object({
  /** days an audit record is kept after its decision; at least 365 (DPDP Rules 8(3)) */
  AUDIT_RETENTION_DAYS: env.int({ min: MIN_RETENTION_DAYS }).default(MIN_RETENTION_DAYS),
  /** legal holds: JSON array or file, e.g. [{"id":"KOL-2026-0042","tenantId":"spera","until":"2028-12-31"}] */
  AUDIT_LEGAL_HOLDS: legalHolds.default([]),
  /** Ed25519 private key signing checkpoints: PEM text or the path of a PEM file */
  CHECKPOINT_PRIVATE_KEY: z.string().optional(),
  /** trusted public key(s) for verification: PEM text or file; defaults to the private key's */
  CHECKPOINT_PUBLIC_KEY: z.string().optional(),
  /** demo only: create (or reuse) a key at CHECKPOINT_KEY_FILE when none is configured */
  CHECKPOINT_KEY_AUTOGEN: env.bool().default(false),
  CHECKPOINT_KEY_FILE: z.string().default('.data/checkpoint-ed25519.pem'),
  /**
   * Ed25519 private key signing the reports the API serves (and `custos report`): PEM text or file.
   * A key of its own, so the internet-facing API never holds the checkpoint key.
   */
  REPORT_PRIVATE_KEY: z.string().optional(),
  /** trusted report public key(s): PEM text or file; defaults to the private key's */
  REPORT_PUBLIC_KEY: z.string().optional(),
  /** demo only (with CHECKPOINT_KEY_AUTOGEN): the report key created when none is configured */
  REPORT_KEY_FILE: z.string().default('.data/report-ed25519.pem'),
  /** a chain is checkpointed at least this often while it grows */
  CHECKPOINT_INTERVAL_MS: env.int({ min: 100 }).default(60_000),
  /** …and after at most this many rows */
  CHECKPOINT_MAX_ROWS: env.int({ min: 1 }).default(100_000),
  /** also witness checkpoints and heads as files in this directory (meant to be write-once storage) */
  WITNESS_DIR: z.string().min(1).optional(),
});
export type StoreEnv = z.infer<typeof storeEnv>;

export function retentionConfig(e: StoreEnv): RetentionConfig {
  return { days: e.AUDIT_RETENTION_DAYS, holds: e.AUDIT_LEGAL_HOLDS };
}

interface InfoLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

/**
 * The checkpoint signing key: configured, or (demo) created at CHECKPOINT_KEY_FILE. Undefined when
 * neither — the caller decides whether that is an error.
 */
export function checkpointSigningKey(e: StoreEnv, logger?: InfoLogger): KeyObject | undefined {
  if (e.CHECKPOINT_PRIVATE_KEY) return loadPrivateKey(e.CHECKPOINT_PRIVATE_KEY);
  if (!e.CHECKPOINT_KEY_AUTOGEN) return undefined;
  const { key, created } = loadOrCreateKeyFile(e.CHECKPOINT_KEY_FILE);
  logger?.warn(
    { file: e.CHECKPOINT_KEY_FILE, keyId: keyId(key), created, publicKey: publicKeyPem(key) },
    'demo checkpoint key (CHECKPOINT_KEY_AUTOGEN): configure CHECKPOINT_PRIVATE_KEY outside the demo; give auditors this public key',
  );
  return key;
}

/** Public keys a verifier trusts: CHECKPOINT_PUBLIC_KEY, else the private key's, else the demo key file's. */
export function trustedCheckpointKeys(e: StoreEnv): KeyObject[] {
  if (e.CHECKPOINT_PUBLIC_KEY) return loadPublicKeys(e.CHECKPOINT_PUBLIC_KEY);
  if (e.CHECKPOINT_PRIVATE_KEY) return loadPublicKeys(e.CHECKPOINT_PRIVATE_KEY);
  if (existsSync(e.CHECKPOINT_KEY_FILE)) return loadPublicKeys(e.CHECKPOINT_KEY_FILE);
  return [];
}

/**
 * The report signing key: REPORT_PRIVATE_KEY, or (demo, CHECKPOINT_KEY_AUTOGEN) created at
 * REPORT_KEY_FILE. Undefined when neither: reports are then served unsigned and say so.
 */
export function reportSigningKey(e: StoreEnv, logger?: InfoLogger): KeyObject | undefined {
  if (e.REPORT_PRIVATE_KEY) return loadPrivateKey(e.REPORT_PRIVATE_KEY);
  if (!e.CHECKPOINT_KEY_AUTOGEN) return undefined;
  const { key, created } = loadOrCreateKeyFile(e.REPORT_KEY_FILE);
  logger?.warn(
    { file: e.REPORT_KEY_FILE, keyId: keyId(key), created, publicKey: publicKeyPem(key) },
    'demo report key (CHECKPOINT_KEY_AUTOGEN): configure REPORT_PRIVATE_KEY outside the demo; give auditors this public key',
  );
  return key;
}

/** Public keys reports are verified with: REPORT_PUBLIC_KEY, else the private key's, else the demo key file's. */
export function trustedReportKeys(e: StoreEnv): KeyObject[] {
  if (e.REPORT_PUBLIC_KEY) return loadPublicKeys(e.REPORT_PUBLIC_KEY);
  if (e.REPORT_PRIVATE_KEY) return loadPublicKeys(e.REPORT_PRIVATE_KEY);
  if (existsSync(e.REPORT_KEY_FILE)) return loadPublicKeys(e.REPORT_KEY_FILE);
  return [];
}
