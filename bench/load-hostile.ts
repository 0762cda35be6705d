/**
 * The hostile and bad records `pnpm load --invalid-percent X [--hostile]` writes straight to the access-event
 * topic beside the SDK's traffic, and what each must become:
 *
 * | kind                     | record                                                       | expected                                   |
 * | ------------------------ | ------------------------------------------------------------ | ------------------------------------------ |
 * | garbage bytes            | random bytes                                                 | access-event DLQ, step `decode`            |
 * | unknown schema id        | Confluent framing with an id the registry never gave out     | access-event DLQ, step `decode`            |
 * | contract-breaking Avro   | the access-event schema, empty actor id and no category      | access-event DLQ, step `validate`          |
 * | another schema           | valid Avro of another registered schema (a subject-state change) | access-event DLQ, step `decode`        |
 * | oversized                | a valid event beyond MAX_ACCESS_EVENT_BYTES                  | access-event DLQ, step `validate`          |
 * | (with --hostile:)        |                                                              |                                            |
 * | duplicate eventId        | a valid event, then the same eventId with other content      | first decided and stored; the second decided, then dead-lettered by the sink (`decisions.dlq`, step `dedup`) |
 * | far future / far past    | valid events stamped ~20 years ahead / in 2001               | decided and stored (the contract bounds the year only) |
 * | outlier then burst       | once per run: one actor's event a year ahead, then 250 reads of distinct subjects | decided; the burst raises BULK_ACCESS |
 *
 * Every record's key starts with `hostile:<kind>:` (a dead letter keeps its record's key), and the
 * valid ones carry `source.service = 'load-hostile'` and `attributes['hostile.kind']`, so the
 * reconciliation can count each kind apart from the SDK's traffic.
 */
import { randomBytes } from 'node:crypto';
import type { RegisteredSchema } from '../packages/kafka/src/index.js';
import { MAX_ACCESS_EVENT_BYTES } from '../schemas/src/index.js';

/** the kinds that must be dead-lettered (`--invalid-percent` alone) */
export const BAD_KINDS = ['garbage bytes', 'unknown schema id', 'contract-breaking Avro', 'another schema', 'oversized'] as const;
/** with `--hostile`, also valid records meant to confuse (the outlier and burst once per run) */
export const HOSTILE_KINDS = [...BAD_KINDS, 'duplicate eventId', 'far future', 'far past'] as const;
export type HostileKind = (typeof HOSTILE_KINDS)[number] | 'outlier then burst';

/** Where a kind's records must end up. */
export const EXPECTED: Record<HostileKind, { dlq?: string; decided?: true; dedup?: true }> = {
  'garbage bytes': { dlq: 'decode' },
  'unknown schema id': { dlq: 'decode' },
  'contract-breaking Avro': { dlq: 'validate' },
  'another schema': { dlq: 'decode' },
  oversized: { dlq: 'validate' },
  'duplicate eventId': { decided: true, dedup: true },
  'far future': { decided: true },
  'far past': { decided: true },
  'outlier then burst': { decided: true },
};

export interface HostileRecord {
  kind: HostileKind;
  key: string;
  value: Buffer;
  /** the eventId of a valid record (each must be decided once and stored once) */
  eventId?: string;
}

const DAY = 86_400_000;
export const BURST_SUBJECTS = 250;

/** The hostile records of a run; `access`/`other`: the run's registered access-event and subject-state schemas. */
export class HostileRecords {
  private n = 0;

  constructor(
    private readonly run: string,
    private readonly access: RegisteredSchema,
    private readonly other: RegisteredSchema,
    private readonly kinds: readonly (typeof HOSTILE_KINDS)[number][] = HOSTILE_KINDS,
  ) {}

  /** eventIds `<run>-eeee-7000-8000-<n>`: UUID-shaped, told apart from the SDK's `<run>-0000-…` */
  private id(): string {
    return `${this.run}-eeee-7000-8000-${String(this.n++).padStart(12, '0')}`;
  }

  private event(
    kind: HostileKind,
    eventId: string,
    occurredAt: number,
    over: Record<string, unknown> = {},
  ): Record<string, unknown> {
    return {
      eventId,
      occurredAt,
      tenantId: 'spera',
      actor: { id: 's-asha', type: 'staff' },
      subject: { id: `cust-${this.n % 500}`, type: 'customer' },
      categories: ['personal.contact'],
      fields: null,
      action: 'read',
      purpose: 'service.support',
      recipient: null,
      legalBasis: null,
      dataCollectedAt: null,
      recordCount: 1,
      source: { service: 'load-hostile', requestId: null, traceId: null, ip: null },
      attributes: { 'hostile.kind': kind },
      ...over,
    };
  }

  /** The i-th bad record of the rotation (one record, or two for a duplicate). */
  next(i: number): HostileRecord[] {
    const kind = this.kinds[i % this.kinds.length]!;
    const key = `hostile:${kind}:${i}`;
    const now = Date.now();
    const header = Buffer.alloc(5);
    switch (kind) {
      case 'garbage bytes':
        return [{ kind, key, value: randomBytes(40 + (i % 200)) }];
      case 'unknown schema id':
        header.writeUInt32BE(0x7fff0000 + (i % 1000), 1);
        return [{ kind, key, value: Buffer.concat([header, randomBytes(60)]) }];
      case 'contract-breaking Avro':
        return [
          {
            kind,
            key,
            value: this.access.encode(this.event(kind, this.id(), now, { actor: { id: '', type: 'staff' }, categories: [] })),
          },
        ];
      case 'another schema':
        return [
          {
            kind,
            key,
            value: this.other.encode({
              eventId: this.id(),
              occurredAt: now,
              tenantId: 'spera',
              subjectId: 'cust-1',
              change: 'legal_hold_placed',
              reference: null,
            }),
          },
        ];
      case 'oversized': {
        // valid in every other way; just beyond the limit (well under the broker's own)
        const pad = 'x'.repeat(MAX_ACCESS_EVENT_BYTES + (i % 10_000));
        const value = this.access.encode(this.event(kind, this.id(), now, { attributes: { 'hostile.kind': kind, pad } }));
        return [{ kind, key, value }];
      }
      case 'duplicate eventId': {
        const eventId = this.id();
        const first = this.access.encode(this.event(kind, eventId, now));
        const second = this.access.encode(
          this.event(kind, eventId, now, { action: 'export', purpose: 'marketing', recordCount: 9999 }),
        );
        return [
          { kind, key, value: first, eventId },
          { kind, key, value: second },
        ];
      }
      case 'far future': {
        const eventId = this.id();
        const at = now + 20 * 365 * DAY + (i % 300) * DAY;
        return [{ kind, key, value: this.access.encode(this.event(kind, eventId, at)), eventId }];
      }
      case 'far past': {
        const eventId = this.id();
        const at = Date.UTC(2001, 0, 1) + (i % 300) * DAY;
        return [{ kind, key, value: this.access.encode(this.event(kind, eventId, at)), eventId }];
      }
    }
  }

  /**
   * One actor's event stamped a year ahead, then a burst of reads of BURST_SUBJECTS distinct
   * subjects now (all on one key, so one partition and in this order): the burst must raise
   * BULK_ACCESS (the SDK's traffic of the same actor, on whatever partition, only adds subjects).
   */
  outlierThenBurst(): HostileRecord[] {
    const kind = 'outlier then burst';
    const key = `hostile:${kind}`;
    const now = Date.now();
    const actor = { id: 's-asha', type: 'staff' };
    const out: HostileRecord[] = [];
    const outlier = this.id();
    out.push({ kind, key, eventId: outlier, value: this.access.encode(this.event(kind, outlier, now + 365 * DAY, { actor })) });
    for (let j = 0; j < BURST_SUBJECTS; j++) {
      const eventId = this.id();
      const subject = { id: `burst-${this.run}-${j}`, type: 'customer' };
      out.push({ kind, key, eventId, value: this.access.encode(this.event(kind, eventId, now + j, { actor, subject })) });
    }
    return out;
  }
}

interface KindCount {
  injected: number;
  dlq: number;
  /** dead letters of the kind at another step than expected */
  wrongStep: number;
  /** decisions of the kind's valid records */
  decisions: number;
  /** dead letters of the sink (`decisions.dlq`, step `dedup`) */
  dedup: number;
}

type Store = ReturnType<typeof import('../packages/store/src/index.js').createStore>;

/** Counts what became of each kind (fed by the load's independent reader) and judges it. */
export class HostileCount {
  private readonly kinds = new Map<HostileKind, KindCount>();
  /** valid records' eventId → [kind, decisions seen] */
  private readonly valid = new Map<string, [HostileKind, number]>();
  /** decisions of ids of the hostile range that no valid record had, and sink letters of anything else */
  private unexpected = 0;
  private stored?: { rows: number; ids: number; bulk: number; overwritten: number };

  constructor(private readonly idPrefix: string) {}

  private kind(k: HostileKind): KindCount {
    let c = this.kinds.get(k);
    if (c === undefined) {
      c = { injected: 0, dlq: 0, wrongStep: 0, decisions: 0, dedup: 0 };
      this.kinds.set(k, c);
    }
    return c;
  }

  private kindOfKey(key: Buffer | null): HostileKind | undefined {
    const m = /^hostile:([^:]+)/.exec(key?.toString() ?? '');
    return m ? (m[1] as HostileKind) : undefined;
  }

  injected(r: HostileRecord): void {
    this.kind(r.kind).injected++;
    if (r.eventId !== undefined) this.valid.set(r.eventId, [r.kind, 0]);
  }

  /** a dead letter of the enforcer; false when it is none of the hostile records */
  letter(key: Buffer | null, step: string | undefined): boolean {
    const k = this.kindOfKey(key);
    if (k === undefined) return false;
    const c = this.kind(k);
    c.dlq++;
    if (step !== EXPECTED[k].dlq) c.wrongStep++;
    return true;
  }

  /** a dead letter of the sink */
  sinkLetter(key: Buffer | null, step: string | undefined): void {
    const k = this.kindOfKey(key);
    if (k !== undefined && EXPECTED[k].dedup && step === 'dedup') this.kind(k).dedup++;
    else this.unexpected++;
  }

  /** a decision; false when its eventId is not of the hostile range */
  decision(id: string): boolean {
    if (!id.startsWith(this.idPrefix)) return false;
    const v = this.valid.get(id);
    if (v === undefined) this.unexpected++;
    else {
      v[1]++;
      this.kind(v[0]).decisions++;
    }
    return true;
  }

  private expectedDecisions(k: HostileKind): number {
    return k === 'duplicate eventId' ? 2 : 1;
  }

  /** every record accounted for on the topics (decided, dead-lettered) */
  settled(): boolean {
    for (const [k, c] of this.kinds) {
      if (EXPECTED[k].dlq !== undefined && c.dlq < c.injected) return false;
      if (EXPECTED[k].dedup && c.dedup < c.injected / 2) return false;
    }
    for (const [k, n] of this.valid.values()) if (n < this.expectedDecisions(k)) return false;
    return true;
  }

  /** Reads what the sink stored of the valid hostile records. */
  async readStored(store: Store): Promise<void> {
    const r = await store.client.query({
      query: `SELECT count() AS rows, uniqExact(event_id) AS ids,
                     countIf(attributes['hostile.kind'] = 'outlier then burst' AND has(codes, 'BULK_ACCESS')) AS bulk,
                     countIf(attributes['hostile.kind'] = 'duplicate eventId' AND action = 'export') AS overwritten
              FROM ${store.table('decisions')}
              WHERE source_service = 'load-hostile'`,
      format: 'JSONEachRow',
    });
    const [row] = (await r.json()) as Record<string, number | string>[];
    this.stored = {
      rows: Number(row?.rows ?? 0),
      ids: Number(row?.ids ?? 0),
      bulk: Number(row?.bulk ?? 0),
      overwritten: Number(row?.overwritten ?? 0),
    };
  }

  /** Per kind: injected, dead letters, decisions, sink dedup letters; and whether all is as expected. */
  report(): { table: Record<string, KindCount>; exact: boolean; problems: string[] } {
    const problems: string[] = [];
    for (const [k, c] of this.kinds) {
      const e = EXPECTED[k];
      if (e.dlq !== undefined && (c.dlq !== c.injected || c.wrongStep > 0))
        problems.push(`${k}: ${c.dlq} dead letters (${c.wrongStep} at another step than ${e.dlq}) for ${c.injected} records`);
      if (e.dlq === undefined && c.dlq > 0) problems.push(`${k}: ${c.dlq} dead-lettered, expected decided`);
      if (e.dedup && c.dedup !== c.injected / 2)
        problems.push(`${k}: ${c.dedup} sink dedup letters for ${c.injected / 2} second copies`);
    }
    for (const [id, [k, n]] of this.valid) {
      if (n !== this.expectedDecisions(k)) problems.push(`${k}: ${id} decided ${n} times, expected ${this.expectedDecisions(k)}`);
    }
    if (this.unexpected > 0) problems.push(`${this.unexpected} unexpected decisions or sink dead letters`);
    const s = this.stored;
    if (s === undefined) problems.push('stored rows not read');
    else {
      if (s.rows !== this.valid.size || s.ids !== this.valid.size)
        problems.push(`stored ${s.rows} rows of ${s.ids} ids for ${this.valid.size} valid hostile records`);
      if (s.overwritten > 0) problems.push(`${s.overwritten} second copies of a duplicate eventId were stored`);
      if (this.kinds.has('outlier then burst') && s.bulk === 0)
        problems.push('the burst after a year-ahead outlier raised no BULK_ACCESS');
    }
    return { table: Object.fromEntries(this.kinds), exact: problems.length === 0, problems: problems.slice(0, 20) };
  }

  /** decisions of the burst that raised BULK_ACCESS (after readStored) */
  get bulkRaised(): number {
    return this.stored?.bulk ?? 0;
  }
}
