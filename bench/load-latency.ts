/**
 * End-to-end latency of `pnpm load`, measured to the moment a row is queryable, and where it went.
 *
 * `stored_at` (the column's DEFAULT now64()) is taken while ClickHouse parses the insert's block,
 * before the part, the projection and the read model's view are written and the insert is
 * committed: a row is not queryable until the insert returns. The sink logs every insert it made
 * (debug line 'rows stored': chain, seq range, when the batch reached the sink, when the insert
 * started, when it returned); each stored row is matched to the insert that stored it, and its
 * latency is `load.sent` (the SDK's record()) → that insert's return.
 *
 * The breakdown, per row:
 *   decide  sent → decided_at          SDK batching, Kafka, the enforcer's fetch and judging
 *   reach   decided_at → at the sink   the enforcer's transaction commit, the sink's fetch (size/time)
 *   prepare at the sink → insert start decode, chain, waiting for the partition's previous batch
 *   insert  insert start → returned    ClickHouse: part, projection, read model, commit
 */
import type { Store } from '../packages/store/src/index.js';

/** one 'rows stored' line of the sink */
export interface StoredInsert {
  chain: number;
  firstSeq: number;
  lastSeq: number;
  receivedAt: number;
  insertAt: number;
  storedAt: number;
}

/** Collects the sink's 'rows stored' lines from its JSON log output, chunk by chunk. */
export class StoredLines {
  readonly inserts: StoredInsert[] = [];
  private carry = '';

  push(chunk: string): void {
    const text = this.carry + chunk;
    const end = text.lastIndexOf('\n');
    this.carry = text.slice(end + 1);
    if (end < 0 || !text.includes('"rows stored"')) return;
    for (const line of text.slice(0, end).split('\n')) {
      if (!line.includes('"rows stored"')) continue;
      try {
        const o = JSON.parse(line) as StoredInsert & { msg?: string };
        if (o.msg === 'rows stored') this.inserts.push(o);
      } catch {
        // not one of the sink's JSON lines
      }
    }
  }

  /** A new process: a line it did not finish is not continued by the next one. */
  reset(): void {
    this.carry = '';
  }
}

function quantile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
}

export interface LatencyBreakdown {
  /** rows matched to an insert, and rows that were not (their latency is unknown) */
  matched: number;
  unmatched: number;
  /** p50/p99 (ms) of each segment and of the whole */
  figures: Record<string, [number, string]>;
}

/** Matches every stored row of the run to its insert and computes the figures (`load.e2e_*`). */
export async function latencyBreakdown(store: Store, idPrefix: string, inserts: StoredInsert[]): Promise<LatencyBreakdown> {
  // Per chain, inserts by first seq; a range stored twice (a retry, a restart) counts when first stored.
  const byChain = new Map<number, StoredInsert[]>();
  for (const i of inserts) {
    const list = byChain.get(i.chain) ?? [];
    list.push(i);
    byChain.set(i.chain, list);
  }
  for (const [chain, list] of byChain) {
    list.sort((a, b) => a.firstSeq - b.firstSeq || a.storedAt - b.storedAt);
    // the same range stored twice (a retry, a restart): it was queryable when first stored
    byChain.set(
      chain,
      list.filter((m, i) => i === 0 || (list[i - 1] as StoredInsert).firstSeq !== m.firstSeq),
    );
  }
  const find = (chain: number, seq: number): StoredInsert | undefined => {
    const list = byChain.get(chain);
    if (!list) return undefined;
    let lo = 0;
    let hi = list.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((list[mid] as StoredInsert).firstSeq <= seq) lo = mid;
      else hi = mid - 1;
    }
    // halves of a split insert overlap the range of the whole: look a few inserts back
    for (let i = lo; i >= 0 && i > lo - 8; i--) {
      const m = list[i] as StoredInsert;
      if (m.firstSeq <= seq && seq <= m.lastSeq) return m;
    }
    return undefined;
  };
  const rs = await store.client.query({
    query: `SELECT kafka_partition, toUInt64(chain_seq), toInt64OrZero(attributes['load.sent']),
                   toInt64(toUnixTimestamp64Milli(decided_at)), toInt64(toUnixTimestamp64Milli(stored_at))
            FROM ${store.table('decisions')}
            WHERE source_service = 'load' AND startsWith(toString(event_id), {run:String})`,
    query_params: { run: idPrefix },
    format: 'JSONCompactEachRow',
  });
  const rows = (await rs.json()) as [number, number, number, number, number][];
  const n = rows.length;
  const e2e = new Float64Array(n);
  const storedAt = new Float64Array(n);
  const decide = new Float64Array(n);
  const reach = new Float64Array(n);
  const prepare = new Float64Array(n);
  const insert = new Float64Array(n);
  let matched = 0;
  for (const [chain, seq, sent, decided, stored] of rows) {
    const i = find(Number(chain), Number(seq));
    if (!i) continue;
    const s = Number(sent);
    e2e[matched] = i.storedAt - s;
    storedAt[matched] = Number(stored) - s;
    decide[matched] = Number(decided) - s;
    reach[matched] = i.receivedAt - Number(decided);
    prepare[matched] = i.insertAt - i.receivedAt;
    insert[matched] = i.storedAt - i.insertAt;
    matched++;
  }
  const figures: Record<string, [number, string]> = {};
  const add = (name: string, a: Float64Array) => {
    const s = a.subarray(0, matched).sort();
    figures[`load.${name}_p50_ms`] = [Math.round(quantile(s, 0.5)), 'ms'];
    figures[`load.${name}_p99_ms`] = [Math.round(quantile(s, 0.99)), 'ms'];
  };
  add('e2e', e2e);
  add('e2e_stored_at', storedAt);
  add('e2e_decide', decide);
  add('e2e_reach_sink', reach);
  add('e2e_prepare', prepare);
  add('e2e_insert', insert);
  // Inserts: a joint insert (several partitions' batches) logs one line per batch, all with its end.
  figures['load.sink_batches_stored'] = [inserts.length, 'batches'];
  figures['load.sink_inserts'] = [new Set(inserts.map((i) => i.storedAt)).size, 'inserts'];
  return { matched, unmatched: n - matched, figures };
}
