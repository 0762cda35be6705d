/**
 * The spool: an append-only log of frames (frame.ts) on local disk, in segment files named by the
 * log position (LSN, a byte offset that only grows) of their first byte. Every recorded event is
 * appended here (write-ahead) and stays until Kafka has acknowledged it; a cursor file remembers how
 * far Kafka has acknowledged, so a restart replays only the rest (give or take the last cursor save).
 *
 * Writes are grouped: whatever was appended while the previous write (+ fsync) ran goes out in one
 * positional writev, then fsync per the policy:
 *   always   — each append is written and fdatasync'ed before record() returns
 *   batch    — one fdatasync per group write (group commit, `flushDelayMs` after the first append)
 *   interval — group writes, fdatasync at most every `fsyncIntervalMs`
 *   none     — group writes, fsync only at close/flush (the OS decides)
 */
import {
  closeSync,
  fdatasync,
  fdatasyncSync,
  fstatSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  read,
  readdirSync,
  readFileSync,
  readSync,
  renameSync,
  unlinkSync,
  writeFileSync,
  writevSync,
} from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { crc32 } from 'node:zlib';
import {
  CORRUPT,
  checkFrame,
  decodeRecord,
  FRAME_HEADER,
  INCOMPLETE,
  type SpoolRecord,
  sealFrames,
  valueStart,
} from './frame.js';
import type { LoggerLike } from './logger.js';

const fdatasyncP = promisify(fdatasync);
const readP = promisify(read);

export type FsyncPolicy = 'always' | 'batch' | 'interval' | 'none';

export interface SpoolOptions {
  /** directory of the spool; one client (process) at a time, enforced by a lock file */
  dir: string;
  /** when appended frames are fsync'ed (see the README for what each policy can lose); default 'batch' */
  fsync?: FsyncPolicy;
  /** how long the first append waits for others to join its group write; default 2 ms */
  flushDelayMs?: number;
  /** 'interval' policy: the longest time between fdatasyncs; default 1000 ms */
  fsyncIntervalMs?: number;
  /** a segment file is closed and a new one started past this size; default 16 MiB */
  segmentBytes?: number;
}

export class SpoolLockedError extends Error {
  readonly retriable = false;
  constructor(dir: string, pid: number) {
    super(`spool directory ${dir} is in use by process ${pid}; give each client its own spool directory`);
    this.name = 'SpoolLockedError';
  }
}

interface Segment {
  base: number;
  /** valid bytes (sealed segments) or bytes assigned so far (the current one) */
  size: number;
  path: string;
  wfd?: number | undefined;
  rfd?: number | undefined;
}

interface Range {
  chunk: Buffer;
  off: number;
  end: number;
  lsn: number;
  seg: Segment;
  count: number;
}

/** A region of the spool as read: frame i's header is at buf[starts[i]], its payload lens[i] bytes. */
export interface RawRead {
  buf: Buffer;
  count: number;
  starts: Uint32Array;
  lens: Uint32Array;
  /** the LSN of buf[0] */
  firstLsn: number;
  /** where the next read continues */
  next: number;
}
const EMPTY = Buffer.alloc(0);
const NO_OFFSETS = new Uint32Array(0);

export interface ReadFrame {
  lsn: number;
  end: number;
  record: SpoolRecord;
}

const SEGMENT_RE = /^(\d{20})\.seg$/;
const CURSOR_MAGIC = 0x43555253; // "CURS"
const locked = new Set<string>();

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function acquireLock(dir: string): string {
  const path = join(dir, 'LOCK');
  if (locked.has(path)) throw new SpoolLockedError(dir, process.pid);
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = openSync(path, 'wx');
      writeFileSync(fd, String(process.pid));
      closeSync(fd);
      locked.add(path);
      return path;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      let pid = 0;
      try {
        pid = Number.parseInt(readFileSync(path, 'utf8'), 10);
      } catch {
        // vanished or unreadable: treat as stale
      }
      if (pid > 0 && pid !== process.pid && pidAlive(pid)) throw new SpoolLockedError(dir, pid);
      try {
        unlinkSync(path); // stale: its process is gone (e.g. it was killed)
      } catch {
        // someone else removed it first
      }
    }
  }
  throw new Error(`could not lock spool directory ${dir}`);
}

/**
 * writev of all `total` bytes of `bufs` at `pos`: a short write (the disk filled up in the middle)
 * continues with the rest, so that either every byte is written or the error that stopped it is
 * thrown. Never leaves a frame counted as written that is not.
 */
function writeAll(fd: number, bufs: Buffer[], pos: number, total: number): void {
  let done = writevSync(fd, bufs, pos);
  while (done < total) {
    const rest: Buffer[] = [];
    let skip = done;
    for (const b of bufs) {
      if (skip >= b.length) skip -= b.length;
      else {
        rest.push(skip > 0 ? b.subarray(skip) : b);
        skip = 0;
      }
    }
    const n = writevSync(fd, rest, pos + done);
    if (n === 0) throw Object.assign(new Error(`spool: write made no progress at ${pos + done}`), { code: 'EIO' });
    done += n;
  }
}

function segmentName(base: number): string {
  return `${String(base).padStart(20, '0')}.seg`;
}

export class Spool {
  readonly dir: string;
  readonly policy: FsyncPolicy;
  private readonly flushDelayMs: number;
  private readonly fsyncIntervalMs: number;
  private readonly segmentBytes: number;
  private readonly lockPath: string;
  private readonly cursorFd: number;

  /** sealed segments first, the current one (if any) last */
  private readonly segments: Segment[] = [];
  private current: Segment | undefined;
  /** next LSN to assign */
  endLsn: number;
  /** every frame below is written to the OS */
  writtenLsn: number;
  /** every frame below is fsync'ed */
  syncedLsn: number;
  /** Kafka has acknowledged every frame below */
  ackedLsn: number;
  private savedAckedLsn: number;

  /** events appended / written / fsync'ed by this process */
  appendedEvents = 0;
  writtenEvents = 0;
  syncedEvents = 0;
  /** events found in the spool at start that were not yet acknowledged */
  recoveredEvents = 0;
  writeErrors = 0;
  lastWriteError: Error | undefined;
  private failingSince = 0;
  /** called after pending frames were written (the client frees callers waiting for room) */
  onWritten: (() => void) | undefined;

  private pending: Range[] = [];
  private flushing: Promise<void> | undefined;
  private flushTimer: NodeJS.Timeout | undefined;
  private fsyncTimer: NodeJS.Timeout | undefined;
  private cursorTimer: NodeJS.Timeout | undefined;
  private lastFsync = Date.now();
  /** the segment open for writing; the next fsync covers it (earlier ones are fsync'ed when retired) */
  private writing: Segment | undefined;
  /** segments a rotation left behind, to fsync and close */
  private readonly retiring: Segment[] = [];
  private syncWaiters: { lsn: number; resolve: () => void }[] = [];
  private closed = false;
  /** resolves when the segments left by an earlier run have been checked (torn tails truncated) */
  readonly recovered: Promise<void>;

  constructor(
    opts: SpoolOptions,
    private readonly logger: LoggerLike,
  ) {
    this.dir = opts.dir;
    this.policy = opts.fsync ?? 'batch';
    this.flushDelayMs = opts.flushDelayMs ?? 2;
    this.fsyncIntervalMs = opts.fsyncIntervalMs ?? 1000;
    this.segmentBytes = opts.segmentBytes ?? 16 * 1024 * 1024;
    mkdirSync(this.dir, { recursive: true });
    this.lockPath = acquireLock(this.dir);
    try {
      const cursorPath = join(this.dir, 'cursor');
      try {
        this.cursorFd = openSync(cursorPath, 'r+');
      } catch {
        this.cursorFd = openSync(cursorPath, 'w+');
      }
      const cursor = this.readCursor();
      let end = cursor;
      for (const name of readdirSync(this.dir).sort()) {
        const m = SEGMENT_RE.exec(name);
        if (!m) continue;
        const path = join(this.dir, name);
        const fd = openSync(path, 'r+');
        const size = fstatSync(fd).size;
        closeSync(fd);
        if (size === 0) {
          // nothing in it, and a new segment may get the same name: remove it now
          unlinkSync(path);
          continue;
        }
        const seg: Segment = { base: Number(m[1]), size, path };
        this.segments.push(seg);
        end = Math.max(end, seg.base + size);
      }
      this.endLsn = end;
      this.writtenLsn = end;
      this.syncedLsn = end;
      this.ackedLsn = cursor;
      this.savedAckedLsn = cursor;
      this.recovered = this.recover();
    } catch (err) {
      this.releaseLock();
      throw err;
    }
  }

  private releaseLock(): void {
    locked.delete(this.lockPath);
    try {
      unlinkSync(this.lockPath);
    } catch {
      // already gone
    }
  }

  private readCursor(): number {
    const buf = Buffer.alloc(16);
    const n = readSync(this.cursorFd, buf, 0, 16, 0);
    if (n < 16 || buf.readUInt32BE(12) !== CURSOR_MAGIC || crc32(buf.subarray(0, 8)) !== buf.readUInt32BE(8)) return 0;
    return Number(buf.readBigUInt64BE(0));
  }

  /** Checks every frame of the segments found at start; truncates a torn or corrupt tail. */
  private async recover(): Promise<void> {
    const old = this.segments.slice();
    const endAtOpen = this.endLsn;
    for (const seg of old) {
      const fd = openSync(seg.path, 'r+');
      try {
        let pos = 0;
        let buf = Buffer.allocUnsafe(1024 * 1024);
        let count = 0;
        scan: while (pos < seg.size) {
          const want = Math.min(buf.length, seg.size - pos);
          const { bytesRead } = await readP(fd, buf, 0, want, pos);
          const atEnd = pos + bytesRead >= seg.size || bytesRead < want;
          let p = 0;
          for (;;) {
            const len = checkFrame(buf, p, bytesRead);
            if (len === INCOMPLETE) {
              if (atEnd) {
                pos += p; // the file ends here, or inside this frame (torn)
                break scan;
              }
              if (p === 0) {
                // a frame larger than the buffer
                buf = Buffer.allocUnsafe(Math.max(buf.length * 2, FRAME_HEADER + buf.readUInt32BE(0)));
              }
              break;
            }
            if (len === CORRUPT || decodeRecord(buf, p, len) === undefined) {
              pos += p;
              break scan;
            }
            if (seg.base + pos + p >= this.ackedLsn) count++;
            p += FRAME_HEADER + len;
          }
          pos += p;
        }
        if (pos < seg.size) {
          this.logger.warn(
            { segment: seg.path, validBytes: pos, droppedBytes: seg.size - pos },
            'spool: truncating a torn or corrupt segment tail',
          );
          ftruncateSync(fd, pos);
          seg.size = pos;
        }
        this.recoveredEvents += count;
      } finally {
        closeSync(fd);
      }
    }
    // The log ended where the files ended; if a torn tail was cut off, it ends earlier now. Left
    // as it was, the client would wait for frames that no longer exist: a flush after a crash
    // never completed (the rare "killed in the middle" failure of crash.int.test.ts). If events
    // were appended meanwhile, they went to a new segment past the old end; readers skip the gap.
    if (this.endLsn === endAtOpen) {
      let end = this.ackedLsn;
      for (const seg of this.segments) end = Math.max(end, seg.base + seg.size);
      this.endLsn = end;
      this.writtenLsn = Math.min(this.writtenLsn, end);
      this.syncedLsn = Math.min(this.syncedLsn, end);
    }
    this.deleteAcked();
  }

  /**
   * Appends the frames in chunk[off, off + len) (one frame per call, CRC blank: sealed at write time)
   * and returns the frame's LSN. In 'always' mode the frame is on disk when this returns.
   */
  append(chunk: Buffer, off: number, len: number): number {
    if (this.closed) throw new Error('spool is closed');
    let seg = this.current;
    if (seg === undefined || (seg.size > 0 && seg.size + len > this.segmentBytes)) {
      seg = { base: this.endLsn, size: 0, path: join(this.dir, segmentName(this.endLsn)) };
      this.segments.push(seg);
      this.current = seg;
    }
    const lsn = this.endLsn;
    seg.size += len;
    this.endLsn += len;
    this.appendedEvents++;
    const last = this.pending.length > 0 ? this.pending[this.pending.length - 1] : undefined;
    if (last !== undefined && last.chunk === chunk && last.end === off && last.seg === seg) {
      last.end += len;
      last.count++;
    } else {
      this.pending.push({ chunk, off, end: off + len, lsn, seg, count: 1 });
    }
    if (this.policy === 'always') {
      try {
        this.writeSyncNow();
      } catch (err) {
        // stays pending (a timer retries); the caller learns it is not on disk yet
        if (this.flushTimer === undefined) this.flushTimer = setTimeout(this.onFlushTimer, 500);
        throw err;
      }
    } else if (this.flushTimer === undefined) {
      this.flushTimer = setTimeout(this.onFlushTimer, this.flushDelayMs);
    }
    return lsn;
  }

  private readonly onFlushTimer = (): void => {
    this.flushTimer = undefined;
    if (this.flushing === undefined) {
      void this.flush(false);
      return;
    }
    // A round is waiting for fsync: write now anyway (so a process crash loses at most flushDelayMs
    // of events, whatever the disk's fsync latency); the round fsyncs it when it loops.
    try {
      this.writePending();
    } catch {
      // logged; stays pending for the round
    }
  };

  /**
   * Writes every pending frame now, on the caller's thread: positional writev calls into the page
   * cache (cheap; only fsync is slow, and that runs on the thread pool). Segments left behind by a
   * rotation are queued for fsync + close. Throws (leaving the frames pending) if the write fails.
   */
  private writePending(): void {
    const ranges = this.pending;
    if (ranges.length === 0) return;
    this.pending = [];
    let i = 0;
    try {
      while (i < ranges.length) {
        const seg = ranges[i]!.seg;
        const bufs: Buffer[] = [];
        const start = ranges[i]!.lsn;
        let count = 0;
        let end = start;
        let j = i;
        for (; j < ranges.length && ranges[j]!.seg === seg; j++) {
          const r = ranges[j]!;
          sealFrames(r.chunk, r.off, r.end);
          bufs.push(r.chunk.subarray(r.off, r.end));
          count += r.count;
          end = r.lsn + (r.end - r.off);
        }
        if (this.writing !== seg) {
          if (this.writing !== undefined) this.retiring.push(this.writing);
          if (seg.wfd === undefined) seg.wfd = openSync(seg.path, 'w');
          this.writing = seg;
        }
        writeAll(seg.wfd!, bufs, start - seg.base, end - start);
        i = j;
        this.writtenLsn = end;
        this.writtenEvents += count;
      }
    } catch (err) {
      this.pending = ranges.slice(i).concat(this.pending);
      this.noteWriteError(err);
      throw err;
    }
    if (this.lastWriteError !== undefined) {
      this.logger.warn(
        { dir: this.dir, failedForMs: Date.now() - this.failingSince, writeErrors: this.writeErrors },
        'spool: writes succeed again',
      );
      this.lastWriteError = undefined;
    }
    this.onWritten?.();
  }

  /** 'always' policy: write and fsync on the caller's thread. */
  private writeSyncNow(): void {
    this.writePending();
    fdatasyncSync(this.writing!.wfd!);
    for (const seg of this.retiring.splice(0)) {
      fdatasyncSync(seg.wfd!);
      closeSync(seg.wfd!);
      seg.wfd = undefined;
    }
    this.syncedLsn = this.writtenLsn;
    this.syncedEvents = this.writtenEvents;
    this.notifySynced();
  }

  /**
   * Writes what is pending at once, without waiting for the group-commit timer (fsync still follows
   * the policy). The client calls this when memory is at its bound and events must be evictable.
   */
  writeNow(): boolean {
    try {
      this.writePending();
    } catch {
      return false;
    }
    if (this.flushing === undefined && this.flushTimer === undefined && !this.closed) {
      this.flushTimer = setTimeout(this.onFlushTimer, 0); // fsync per policy
    }
    return true;
  }

  private noteWriteError(err: unknown): void {
    this.writeErrors++;
    const e = err instanceof Error ? err : new Error(String(err));
    if (this.lastWriteError === undefined) {
      this.failingSince = Date.now();
      const code = (e as NodeJS.ErrnoException).code ?? e.message;
      // Once per episode: the events stay in memory (and go to Kafka from there) and are written
      // when the disk takes them again; the client applies back-pressure past its memory bound.
      this.logger.error(
        { err: e, dir: this.dir, code },
        `spool: cannot write to ${this.dir} (${code}); events are held in memory until it can`,
      );
    }
    this.lastWriteError = e;
  }

  /** true while writes to the spool fail (e.g. ENOSPC: the disk is full) */
  get failing(): boolean {
    return this.lastWriteError !== undefined;
  }

  /**
   * Writes every pending frame and fsyncs as the policy says, or always when `forceSync`. Rounds run
   * one at a time; a call during a round runs another round after it if needed.
   */
  flush(forceSync: boolean): Promise<void> {
    if (this.flushing !== undefined) {
      const running = this.flushing;
      return running.then(() => (forceSync || this.pending.length > 0 || this.needsSync() ? this.flush(forceSync) : undefined));
    }
    if (this.flushTimer !== undefined) {
      clearTimeout(this.flushTimer);
      this.flushTimer = undefined;
    }
    const p = this.flushRound(forceSync).finally(() => {
      this.flushing = undefined;
      if ((this.pending.length > 0 || this.needsSync()) && this.flushTimer === undefined && !this.closed) {
        this.flushTimer = setTimeout(this.onFlushTimer, this.lastWriteError ? 500 : 0);
      }
    });
    this.flushing = p;
    return p;
  }

  private needsSync(): boolean {
    return (this.policy === 'batch' && this.syncedLsn < this.writtenLsn) || this.retiring.length > 0;
  }

  private async flushRound(forceSync: boolean): Promise<void> {
    for (let round = 0; round === 0 || this.pending.length > 0 || this.needsSync(); round++) {
      try {
        this.writePending();
      } catch {
        return; // logged; the frames stay pending and a timer retries
      }
      try {
        for (const seg of this.retiring.splice(0)) {
          await fdatasyncP(seg.wfd!);
          closeSync(seg.wfd!);
          seg.wfd = undefined;
        }
      } catch (err) {
        this.noteWriteError(err);
        return;
      }
      const now = Date.now();
      if (forceSync || this.policy === 'batch' || (this.policy === 'interval' && now - this.lastFsync >= this.fsyncIntervalMs)) {
        await this.syncWritten();
      } else if (this.policy === 'interval' && this.fsyncTimer === undefined && this.syncedLsn < this.writtenLsn) {
        this.fsyncTimer = setTimeout(
          () => {
            this.fsyncTimer = undefined;
            if (this.syncedLsn < this.writtenLsn) void this.flush(true);
          },
          Math.max(0, this.fsyncIntervalMs - (now - this.lastFsync)),
        );
      }
      if (round > 1000) break; // appends outpacing fsync: let the timer take the rest
    }
  }

  /** fsyncs everything written so far (earlier segments were fsync'ed when they were retired). */
  private async syncWritten(): Promise<void> {
    const target = this.writtenLsn;
    const events = this.writtenEvents;
    if (target <= this.syncedLsn) return;
    try {
      if (this.writing?.wfd !== undefined) await fdatasyncP(this.writing.wfd);
    } catch (err) {
      this.noteWriteError(err);
      return;
    }
    this.lastFsync = Date.now();
    this.syncedLsn = Math.max(this.syncedLsn, target);
    this.syncedEvents = Math.max(this.syncedEvents, events);
    this.notifySynced();
  }

  private notifySynced(): void {
    if (this.syncWaiters.length === 0) return;
    const ready = this.syncWaiters.filter((w) => w.lsn <= this.syncedLsn);
    this.syncWaiters = this.syncWaiters.filter((w) => w.lsn > this.syncedLsn);
    for (const w of ready) w.resolve();
  }

  /** Resolves once every frame below `lsn` is fsync'ed. */
  whenSynced(lsn: number): Promise<void> {
    if (lsn <= this.syncedLsn) return Promise.resolve();
    return new Promise((resolve) => this.syncWaiters.push({ lsn, resolve }));
  }

  /** Bytes appended but not yet written to the OS. */
  get unwrittenBytes(): number {
    return this.endLsn - this.writtenLsn;
  }

  /** Bytes in the spool that Kafka has not acknowledged. */
  get backlogBytes(): number {
    return Math.max(0, this.endLsn - this.ackedLsn);
  }

  /**
   * Reads whole frames from `from` up to `limit` (at most about `maxBytes`), only from what is
   * written. Skips gaps between segments. `next` is where the next read continues.
   */
  async read(from: number, limit: number, maxBytes: number): Promise<{ frames: ReadFrame[]; next: number }> {
    const raw = await this.readRaw(from, limit, maxBytes);
    const frames: ReadFrame[] = [];
    for (let i = 0; i < raw.count; i++) {
      const p = raw.starts[i]!;
      const lsn = raw.firstLsn + p;
      // readRaw checked every frame it returns
      frames.push({ lsn, end: lsn + FRAME_HEADER + raw.lens[i]!, record: decodeRecord(raw.buf, p, raw.lens[i]!)! });
    }
    return { frames, next: raw.next };
  }

  /**
   * `read` without an object per frame: the region as read (into a buffer from `alloc`, e.g. the
   * sender thread's shared memory, so its keys and values are sent from where they were read) and
   * where each checked frame starts in it.
   */
  async readRaw(
    from: number,
    limit: number,
    maxBytes: number,
    alloc: (size: number) => Buffer = Buffer.allocUnsafe,
  ): Promise<RawRead> {
    const none = (next: number): RawRead => ({
      buf: EMPTY,
      count: 0,
      starts: NO_OFFSETS,
      lens: NO_OFFSETS,
      firstLsn: from,
      next,
    });
    const stop = Math.min(limit, this.writtenLsn);
    const seg = this.segments.find((s) => from < s.base + s.size);
    if (seg === undefined || from >= stop) return none(from);
    if (from < seg.base) from = seg.base; // a gap left by a truncated tail
    const segEnd = Math.min(seg.base + seg.size, stop);
    if (from >= segEnd) return none(from);
    let want = Math.min(segEnd - from, Math.max(maxBytes, 64 * 1024));
    if (seg.rfd === undefined) seg.rfd = openSync(seg.path, 'r');
    for (;;) {
      const buf = alloc(want);
      const { bytesRead } = await readP(seg.rfd, buf, 0, want, from - seg.base);
      const starts: number[] = [];
      const lens: number[] = [];
      const read = (next: number): RawRead => ({
        buf,
        count: starts.length,
        starts: Uint32Array.from(starts),
        lens: Uint32Array.from(lens),
        firstLsn: from,
        next,
      });
      let p = 0;
      for (;;) {
        const len = checkFrame(buf, p, bytesRead);
        if (len === INCOMPLETE) break;
        if (len === CORRUPT || valueStart(buf, p, len) < 0) {
          // Cannot happen after recovery unless the disk corrupted the file: skip the segment's rest.
          this.logger.error(
            { segment: seg.path, offset: from - seg.base + p },
            'spool: corrupt frame; skipping the segment rest',
          );
          return read(seg.base + seg.size);
        }
        starts.push(p);
        lens.push(len);
        p += FRAME_HEADER + len;
      }
      if (p === 0 && bytesRead >= FRAME_HEADER && bytesRead < segEnd - from) {
        want = FRAME_HEADER + buf.readUInt32BE(0); // one frame larger than the buffer
        continue;
      }
      return read(from + p);
    }
  }

  /** Kafka acknowledged everything below `lsn`. */
  ack(lsn: number): void {
    if (lsn <= this.ackedLsn || this.closed) return;
    this.ackedLsn = lsn;
    this.deleteAcked();
    if (this.cursorTimer === undefined && !this.closed) {
      this.cursorTimer = setTimeout(() => {
        this.cursorTimer = undefined;
        this.saveCursor();
      }, 100);
    }
  }

  private saveCursor(): void {
    if (this.savedAckedLsn === this.ackedLsn) return;
    const buf = Buffer.allocUnsafe(16);
    buf.writeBigUInt64BE(BigInt(this.ackedLsn), 0);
    buf.writeUInt32BE(crc32(buf.subarray(0, 8)), 8);
    buf.writeUInt32BE(CURSOR_MAGIC, 12);
    try {
      // In place: 16 bytes, checked by CRC on read; a lost update only means some duplicates on replay.
      writevSync(this.cursorFd, [buf], 0);
      this.savedAckedLsn = this.ackedLsn;
    } catch (err) {
      this.logger.warn({ err }, 'spool: could not save the cursor');
    }
  }

  /** Deletes sealed segments whose frames are all acknowledged. */
  private deleteAcked(): void {
    while (this.segments.length > 0) {
      const seg = this.segments[0]!;
      if (seg === this.current || seg.base + seg.size > this.ackedLsn || seg.base + seg.size > this.writtenLsn) break;
      if (seg.wfd !== undefined) break; // still being closed by a flush round
      this.segments.shift();
      if (seg.rfd !== undefined) closeSync(seg.rfd);
      try {
        unlinkSync(seg.path); // once per segment: cheap, and done when ack() returns
      } catch (err) {
        this.logger.warn({ err, segment: seg.path }, 'spool: could not delete a segment');
      }
    }
  }

  /**
   * Writes and fsyncs everything, saves the cursor and releases the directory. When Kafka has
   * acknowledged everything, no segment is left behind.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.flush(true);
    await this.flushing;
    this.closed = true;
    for (const t of [this.flushTimer, this.fsyncTimer, this.cursorTimer]) if (t !== undefined) clearTimeout(t);
    this.saveCursor();
    // Frames Kafka acknowledged need no writing (a full disk may have kept them pending).
    const allAcked = this.ackedLsn >= this.endLsn;
    if (this.pending.length > 0 && !allAcked) {
      this.logger.error(
        { dir: this.dir, events: this.pending.reduce((n, r) => n + r.count, 0), err: this.lastWriteError },
        'spool: events could not be written at close',
      );
    }
    for (const seg of this.segments) {
      if (seg.wfd !== undefined) {
        closeSync(seg.wfd);
        seg.wfd = undefined;
      }
      if (seg.rfd !== undefined) {
        closeSync(seg.rfd);
        seg.rfd = undefined;
      }
      if (allAcked) {
        try {
          unlinkSync(seg.path);
        } catch {
          // never written
        }
      }
    }
    if (allAcked) this.segments.length = 0;
    closeSync(this.cursorFd);
    this.releaseLock();
  }
}

/** Reads the writer schemas and registry ids kept beside the segments, for replay without a registry. */
export class SchemaStore {
  private readonly idsPath: string;
  private ids: Record<string, number>;

  constructor(private readonly dir: string) {
    mkdirSync(join(dir, 'schemas'), { recursive: true });
    this.idsPath = join(dir, 'schema-ids.json');
    try {
      this.ids = JSON.parse(readFileSync(this.idsPath, 'utf8')) as Record<string, number>;
    } catch {
      this.ids = {};
    }
  }

  /** Keeps the writer schema of `fingerprint` (once), durably, before any frame refers to it. */
  saveSchema(fingerprint: string, schema: object): void {
    const path = join(this.dir, 'schemas', `${fingerprint}.avsc`);
    try {
      readFileSync(path);
      return;
    } catch {
      // not there yet
    }
    const tmp = `${path}.tmp`;
    const fd = openSync(tmp, 'w');
    writeFileSync(fd, JSON.stringify(schema));
    fdatasyncSync(fd);
    closeSync(fd);
    renameSync(tmp, path);
  }

  loadSchema(fingerprint: string): object | undefined {
    try {
      return JSON.parse(readFileSync(join(this.dir, 'schemas', `${fingerprint}.avsc`), 'utf8')) as object;
    } catch {
      return undefined;
    }
  }

  id(registryUrl: string, subject: string, fingerprint: string): number | undefined {
    return this.ids[`${registryUrl} ${subject} ${fingerprint}`];
  }

  saveId(registryUrl: string, subject: string, fingerprint: string, id: number): void {
    const k = `${registryUrl} ${subject} ${fingerprint}`;
    if (this.ids[k] === id) return;
    this.ids[k] = id;
    const tmp = `${this.idsPath}.tmp`;
    writeFileSync(tmp, JSON.stringify(this.ids, null, 1));
    renameSync(tmp, this.idsPath);
  }
}
