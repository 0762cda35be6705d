import type { KeyObject } from 'node:crypto';
import { checkSignature, listCheckpoints, type Store, verifyRange } from '@custos/store';

/**
 * The integrity proof: signed checkpoints over the decisions hash chain and a verification of a
 * range. They come from the store; the API depends on this interface only, and says "unavailable"
 * when it is given none.
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
}

/** Used while the store offers no verification: says so instead of claiming anything. */
export const unavailableIntegrity: IntegrityProvider = {
  listCheckpoints: async () => [],
  verifyRange: async () => ({
    status: 'unavailable',
    detail: 'this deployment has no hash chain verification (store without verifyRange)',
  }),
};

/**
 * The store's checkpoints and chain verification. Chains run per Kafka partition across
 * tenants, so for a credential scoped to some tenants only the verdict and counts are returned, not
 * findings that name other tenants' records.
 */
export function storeIntegrity(
  store: Store,
  opts: { trusted: readonly KeyObject[]; retentionDays?: number | undefined; maxFindings?: number },
): IntegrityProvider {
  return {
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
