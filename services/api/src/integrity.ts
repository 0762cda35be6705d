import type { KeyObject } from 'node:crypto';
import {
  type ConsistencyCheck,
  type ConsistencyProof,
  ConsistencyUnavailable,
  checkConsistency,
  checkSignature,
  type InclusionProof,
  keyId,
  listCheckpoints,
  ProofUnavailable,
  proveConsistency,
  proveInclusion,
  publicKeyPem,
  type ReportSignature,
  reportRests,
  type Store,
  signReport,
  verifyRange,
} from '@custos/store';
import { z } from 'zod';
import { HttpError } from './errors.js';
import { idParam, requestPurposeParam } from './schemas.js';

/**
 * The integrity proof: signed checkpoints over the decisions hash chain, a verification of a range,
 * inclusion proofs of single decisions and the public keys. They are the store's; the API depends on
 * this interface only, so without a store that offers them it says "unavailable" rather than
 * claiming anything.
 */
export interface IntegrityQuery {
  from: Date;
  to: Date;
  /** one tenant, or every tenant in the scope */
  tenants: '*' | string[];
}

export interface CheckpointInfo {
  id: string;
  from?: string;
  to?: string;
  [k: string]: unknown;
}

export interface VerificationResult {
  status: 'verified' | 'failed' | 'unavailable';
  detail?: string;
  [k: string]: unknown;
}

export interface IntegrityProvider {
  /** checkpoints whose range overlaps [from, to) */
  listCheckpoints(q: IntegrityQuery): Promise<CheckpointInfo[]>;
  /** recomputes the chain over [from, to) and checks it against the checkpoints */
  verifyRange(q: IntegrityQuery): Promise<VerificationResult>;
  /** the inclusion proof of one stored decision (throws HttpError 404/409 when there is none) */
  proof(eventId: string): Promise<InclusionProof | Unavailable>;
  /**
   * the proof that head `to` extends head `from` (payload SHA-256s; default: the newest head and the
   * one before it), with the server's own check of it (throws HttpError 404 when a head is unknown)
   */
  consistency?(names: {
    from?: string | undefined;
    to?: string | undefined;
  }): Promise<{ proof: ConsistencyProof; check: ConsistencyCheck } | Unavailable>;
  /** the public keys checkpoints, heads and reports are verified with */
  keys(): PublicKeyInfo[];
  /**
   * Signs a report's bytes over [from, to) (see `@custos/store`'s report-signature); undefined when
   * no report key is configured.
   */
  signReport?(file: string, body: Buffer, range: { from: Date; to: Date }): Promise<ReportSignature | undefined>;
}

export interface Unavailable {
  status: 'unavailable';
  detail: string;
}

export interface PublicKeyInfo {
  keyId: string;
  algorithm: 'Ed25519';
  /** what the key signs: checkpoints and heads (the sink's key), or reports (the API's key) */
  use: 'checkpoint' | 'report';
  /** SPKI PEM */
  publicKey: string;
}

const tenantParam = idParam.optional().describe('a tenant within the credential’s scope; default: the whole scope');

export const integrityProofQuery = z.strictObject({
  tenantId: tenantParam,
  eventId: z.uuid().describe('the decision’s eventId'),
  requestPurpose: requestPurposeParam.optional(),
});

export const integrityProofResponse = z.union([
  z.object({
    v: z.literal(1),
    kind: z.literal('custos.decisions.inclusion-proof'),
    eventId: z.string(),
    tenantId: z.string(),
    chain: z.number(),
    seq: z.number(),
    record: z.string().describe('the leaf data: the row’s canonical bytes (UTF-8)'),
    leafIndex: z.number(),
    treeSize: z.number(),
    leafHash: z.string(),
    path: z.array(z.string()).describe('RFC 9162 audit path, nearest sibling first, hex'),
    checkpoint: z.object({ payload: z.string(), signature: z.string() }),
  }),
  z.object({ status: z.literal('unavailable'), detail: z.string() }),
]);

const headName = z
  .string()
  .regex(/^[0-9a-f]{8,64}$/, 'a head’s payload SHA-256 (hex, or at least its first 8 digits)')
  .optional();

export const integrityConsistencyQuery = z.strictObject({
  tenantId: tenantParam,
  from: headName.describe('the earlier head; default: the head before `to`'),
  to: headName.describe('the later head; default: the newest'),
  requestPurpose: requestPurposeParam.optional(),
});

const signed = z.object({ payload: z.string(), signature: z.string() });
export const integrityConsistencyResponse = z.union([
  z.object({
    proof: z.object({
      v: z.literal(1),
      kind: z.literal('custos.decisions.consistency-proof'),
      from: signed,
      to: signed,
      chains: z.array(z.object({ chain: z.number(), checkpoints: z.array(signed) })),
    }),
    check: z.object({ ok: z.boolean() }).loose().describe('the server’s own check; an auditor repeats it offline'),
  }),
  z.object({ status: z.literal('unavailable'), detail: z.string() }),
]);

export const integrityKeysQuery = z.strictObject({ tenantId: tenantParam, requestPurpose: requestPurposeParam.optional() });

export const integrityKeysResponse = z.object({
  keys: z.array(
    z.object({
      keyId: z.string(),
      algorithm: z.literal('Ed25519'),
      use: z.enum(['checkpoint', 'report']).describe('checkpoint: checkpoints, heads and proofs; report: served reports'),
      publicKey: z.string(),
    }),
  ),
});

/** The proof's HTTP errors: a decision not stored is 404, one not provable yet 409. */
export function proofError(err: unknown): unknown {
  if (!(err instanceof ProofUnavailable)) return err;
  return new HttpError(err.reason === 'not_found' ? 404 : 409, err.message, [{ field: 'eventId', message: err.reason }]);
}

/** Used while the store offers no verification: says so instead of claiming anything. */
export const unavailableIntegrity: IntegrityProvider = {
  proof: async () => ({
    status: 'unavailable',
    detail: 'this deployment offers no inclusion proofs (store without checkpoints)',
  }),
  consistency: async () => ({
    status: 'unavailable',
    detail: 'this deployment offers no consistency proofs (store without heads)',
  }),
  keys: () => [],
  listCheckpoints: async () => [],
  verifyRange: async () => ({
    status: 'unavailable',
    detail: 'this deployment has no hash chain verification (store without verifyRange)',
  }),
};

export type ReportSigner = NonNullable<IntegrityProvider['signReport']>;

/** Signs a report with `key` over the checkpoints (genuine under `trusted`) of its range: one implementation for the API, its schedule and `custos report`. */
export function reportSigner(store: Store, trusted: readonly KeyObject[], key: KeyObject): ReportSigner {
  return async (file, body, range) => signReport(file, body, await reportRests(store, range, trusted), key);
}

/**
 * The store's checkpoints, chain verification and inclusion proofs. Chains run per Kafka partition across
 * tenants, so for a credential scoped to some tenants only the verdict and counts are returned, not
 * findings that name other tenants' records.
 */
export function storeIntegrity(
  store: Store,
  opts: {
    trusted: readonly KeyObject[];
    retentionDays?: number | undefined;
    maxFindings?: number;
    /** signs served and written reports; without one they go unsigned */
    reportKey?: KeyObject | undefined;
  },
): IntegrityProvider {
  const reportKey = opts.reportKey;
  return {
    ...(reportKey ? { signReport: reportSigner(store, opts.trusted, reportKey) } : {}),
    consistency: async (names) => {
      if (opts.trusted.length === 0) return { status: 'unavailable', detail: 'no trusted checkpoint public key is configured' };
      try {
        const proof = await proveConsistency(store, opts.trusted, names);
        return { proof, check: checkConsistency(proof, opts.trusted) };
      } catch (err) {
        if (err instanceof ConsistencyUnavailable)
          throw new HttpError(404, err.message, [
            { field: names.from && /from/.test(err.message) ? 'from' : 'to', message: err.reason },
          ]);
        throw err;
      }
    },
    proof: async (eventId) => {
      if (opts.trusted.length === 0) return { status: 'unavailable', detail: 'no trusted checkpoint public key is configured' };
      try {
        return await proveInclusion(store, eventId, opts.trusted);
      } catch (err) {
        throw proofError(err);
      }
    },
    keys: () => [
      ...opts.trusted.map((k) => ({
        keyId: keyId(k),
        algorithm: 'Ed25519' as const,
        use: 'checkpoint' as const,
        publicKey: publicKeyPem(k),
      })),
      ...(reportKey
        ? [{ keyId: keyId(reportKey), algorithm: 'Ed25519' as const, use: 'report' as const, publicKey: publicKeyPem(reportKey) }]
        : []),
    ],
    listCheckpoints: async (q) =>
      (await listCheckpoints(store, { from: q.from, to: q.to, limit: 10_000 })).map((c) => ({
        id: `${c.topic}/p${c.chain}/${c.lastSeq}`,
        from: c.decidedFrom,
        to: c.decidedTo,
        chain: c.chain,
        prevSeq: c.prevSeq,
        lastSeq: c.lastSeq,
        lastHash: c.lastHash,
        records: c.records,
        occurredFrom: c.occurredFrom,
        occurredTo: c.occurredTo,
        createdAt: c.createdAt,
        keyId: c.keyId,
        signatureValid: checkSignature(c, opts.trusted).ok,
      })),
    verifyRange: async (q) => {
      if (opts.trusted.length === 0) return { status: 'unavailable', detail: 'no trusted checkpoint public key is configured' };
      const r = await verifyRange(store, {
        from: q.from,
        to: q.to,
        trusted: opts.trusted,
        retentionDays: opts.retentionDays,
        maxFindings: opts.maxFindings ?? 50,
        // The trail itself (what reports are made of); the subject read model's full comparison is
        // `custos verify`'s (seconds per month of decisions: too slow for a request or a report).
        readModel: false,
      });
      const base = {
        status: r.ok ? ('verified' as const) : ('failed' as const),
        checkedAt: r.checkedAt,
        rows: r.rows,
        counts: r.counts,
        checkpoints: r.checkpoints,
      };
      if (q.tenants !== '*') return base;
      return { ...base, chains: r.chains, findings: r.findings, truncated: r.truncated, sources: r.sources };
    },
  };
}
