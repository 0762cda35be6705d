/**
 * One insert for the batches of several chains that are ready together (group commit).
 *
 * Every insert into `decisions` costs ClickHouse a fixed amount besides its rows: a part for the
 * table, its projection and each read model's view, and later merges of all of them. The sink
 * stores each partition's batch on its own, so one fetch of six partitions made six inserts (and
 * ~24 parts) where one would do. Here the batches handed to the sink together register (`enter`);
 * each prepared one waits (`insert`) until every registered batch has either joined or left, or
 * `windowMs` passed since the first one joined, and then all are stored by one insert.
 *
 * Nothing about a chain changes: each partition still chains its own rows, commits its chain state
 * and its offsets only after the insert holding its rows returned. If the joint insert fails for
 * any reason, each member is told so (`insert` resolves false) and stores its rows alone, through
 * the sink's own path (retries, bisecting a refused record, splitting a slow insert). A joint
 * insert that failed in ClickHouse stored nothing (chDB) or, on a server whose insert timed out
 * after all, byte-identical copies of rows its members then store again, which merges collapse and
 * readers and `verify` treat as one (as for a fenced-out sink).
 */
import { createHash } from 'node:crypto';
import { DECISIONS_INSERT_SETTINGS, INSERT_COLUMNS, type Prepared, type Store } from '@custos/store';

interface Member {
  p: Prepared;
  done: (stored: boolean) => void;
  fail: (err: unknown) => void;
}

/** A chunk registered with the joiner: it joins an insert or leaves, once. */
export interface JointTicket {
  /**
   * Stores `p` with the other members' rows. False: the joint insert failed, store it alone. When
   * it was alone after all, its insert's error is thrown, as from an insert of its own.
   */
  insert(p: Prepared): Promise<boolean>;
  /** This chunk will not insert (nothing to store, or it failed before its insert). */
  leave(): void;
}

const NEWLINE = Buffer.from('\n');

/**
 * How long a prepared batch waits for the other partitions'. The wait normally ends when the last
 * of them is prepared (the next fetch waits for all of them anyway); this bounds it when one is held
 * up (a large batch, ClickHouse unavailable while its chain is recovered).
 */
export const DEFAULT_JOINT_INSERT_WINDOW_MS = 500;

export class JointInserter {
  /** chunks registered and neither joined nor left */
  private preparing = 0;
  private members: Member[] = [];
  private rows = 0;
  private timer: NodeJS.Timeout | undefined;
  /** inserts made and batches they held (for tests and metrics) */
  readonly stats = { inserts: 0, members: 0, failures: 0 };

  constructor(
    private readonly store: Store,
    private readonly opts: {
      /** the longest a prepared batch waits for others */
      windowMs: number;
      /** most rows per joint insert: a batch that would exceed it flushes those waiting first */
      maxRows: () => number;
      onInsert?: (members: number, rows: number, seconds: number) => void;
      onFailure?: (err: unknown, members: number) => void;
    },
  ) {}

  enter(): JointTicket {
    this.preparing += 1;
    let open = true;
    const close = () => {
      if (!open) return false;
      open = false;
      this.preparing -= 1;
      return true;
    };
    return {
      insert: (p) => {
        if (!close()) return Promise.resolve(false);
        return this.join(p);
      },
      leave: () => {
        if (close()) this.maybeFlush();
      },
    };
  }

  private join(p: Prepared): Promise<boolean> {
    if (this.members.length > 0 && this.rows + p.rows.length > this.opts.maxRows()) this.flush();
    return new Promise<boolean>((done, fail) => {
      this.members.push({ p, done, fail });
      this.rows += p.rows.length;
      if (this.timer === undefined && this.preparing > 0) {
        this.timer = setTimeout(() => this.flush(), this.opts.windowMs);
      }
      this.maybeFlush();
    });
  }

  private maybeFlush(): void {
    if (this.members.length > 0 && this.preparing === 0) this.flush();
  }

  private flush(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    const members = this.members;
    this.members = [];
    this.rows = 0;
    if (members.length === 0) return;
    void this.write(members);
  }

  private async write(members: Member[]): Promise<void> {
    const t0 = performance.now();
    const rows = members.reduce((n, m) => n + m.p.rows.length, 0);
    try {
      const parts: Buffer[] = [];
      for (const m of members) {
        parts.push(m.p.body);
        if (m.p.body[m.p.body.length - 1] !== 0x0a) parts.push(NEWLINE);
      }
      // The same members (a retried joint insert) give the same token; members' own tokens differ.
      const token =
        members.length === 1
          ? (members[0] as Member).p.token
          : `custos-j-${createHash('sha256')
              .update(members.map((m) => m.p.token).join('|'))
              .digest('hex')
              .slice(0, 32)}`;
      await this.store.insertRaw({
        table: this.store.table('decisions'),
        columns: INSERT_COLUMNS,
        format: 'JSONCompactEachRow',
        body: members.length === 1 ? (members[0] as Member).p.body : Buffer.concat(parts),
        settings: { ...DECISIONS_INSERT_SETTINGS, insert_deduplication_token: token },
      });
      this.stats.inserts += 1;
      this.stats.members += members.length;
      this.opts.onInsert?.(members.length, rows, (performance.now() - t0) / 1000);
      for (const m of members) m.done(true);
    } catch (err) {
      this.stats.failures += 1;
      if (members.length === 1) {
        // the batch's own insert (its own token): the sink's handling of the error is unchanged
        (members[0] as Member).fail(err);
        return;
      }
      this.opts.onFailure?.(err, members.length);
      for (const m of members) m.done(false);
    }
  }
}
