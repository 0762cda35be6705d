/**
 * Builds the one batch shape every transport takes (transport.ts) from the client's memory queue
 * or from the spool, in shared buffers kept for reuse.
 */
import { FRAME_HEADER, KIND_ACCESS, KIND_SUBJECT_STATE, type Kind, RECORD_HEADER, valueStart } from './frame.js';
import type { EventQueue } from './queue.js';
import type { Spool } from './spool.js';
import type { Stream } from './stream.js';
import type { PackedBatch, PackedTopic } from './transport.js';

/** A batch on its way, with what the client needs once Kafka acknowledged it. */
export interface Batch {
  packed: PackedBatch;
  count: number;
  /** bytes it holds against the memory bound (0 when read from the spool) */
  memBytes: number;
  /** the log position after its last event */
  endLsn: number;
  fromDisk: boolean;
}

/** Pack buffers kept for reuse (the batch in flight, the next one being built, one spare). */
const POOL = 3;
const EMPTY_INDEX = new Int32Array(0);

export class BatchPacker {
  private readonly pool: SharedArrayBuffer[] = [];
  /** size of pooled buffers: a full batch (batchMaxBytes of frames) fits */
  private readonly bufferBytes: number;
  /** scratch for fromMemory: (offset, schema id) pairs */
  private readonly idPatches: number[] = [];

  constructor(
    private readonly streams: Record<Kind, Stream>,
    private readonly batchMaxBytes: number,
    /** the registry id of writer schema `fpHex` of stream `kind`, for spool frames of another schema */
    private readonly schemaId: (kind: Kind, fpHex: string) => Promise<number>,
  ) {
    this.bufferBytes = Math.max(1024 * 1024, 2 * batchMaxBytes);
  }

  /** A pack buffer of at least `size` bytes (shared memory: a sender thread reads it, nothing is copied). */
  private buffer(size: number): Buffer {
    let sab = this.pool.pop();
    if (sab === undefined || sab.byteLength < size) sab = new SharedArrayBuffer(Math.max(size, this.bufferBytes));
    return Buffer.from(sab);
  }

  /** Gives a batch's buffer back once Kafka acknowledged it (a failed batch keeps it for its retry). */
  release(packed: PackedBatch): void {
    this.releaseBuffer(packed.buf);
  }

  private releaseBuffer(sab: SharedArrayBuffer): void {
    if (this.pool.length < POOL && sab.byteLength === this.bufferBytes) this.pool.push(sab);
  }

  /**
   * The queue's oldest events, up to batchMaxBytes (at least one): the events' frames lie back to
   * back in arena chunks, so each run of them is copied with one call and the index points at the
   * keys and values inside the copy (no per-event copy or object). The queue is left as it was.
   */
  fromMemory(q: EventQueue): { packed: PackedBatch; count: number; bytes: number } {
    let n = 0;
    let bytes = 0;
    while (n < q.size && (n === 0 || bytes + q.len(n) <= this.batchMaxBytes)) bytes += q.len(n++);
    const buf = this.buffer(bytes);
    const indexes = [EMPTY_INDEX, new Int32Array(4 * n), new Int32Array(4 * n)]; // by Kind (1, 2)
    const counts = [0, 0, 0];
    let dst = 0;
    let runChunk: Buffer | undefined;
    let runStart = 0;
    let runEnd = 0;
    let runDst = 0;
    for (let i = 0; i < n; i++) {
      const chunk = q.chunk(i);
      const off = q.off(i);
      const len = q.len(i);
      if (chunk !== runChunk || off !== runEnd) {
        if (runChunk !== undefined) dst += runChunk.copy(buf, dst, runStart, runEnd);
        runChunk = chunk;
        runStart = off;
        runDst = dst;
      }
      runEnd = off + len;
      const kind = q.kind(i) as Kind;
      const keyAt = runDst + (off - runStart) + FRAME_HEADER + RECORD_HEADER;
      const keyLen = q.keyLen(i);
      const valueAt = keyAt + keyLen;
      const s = this.streams[kind];
      const index = indexes[kind]!;
      const j = 4 * counts[kind]!++;
      index[j] = keyAt;
      index[j + 1] = keyLen;
      index[j + 2] = valueAt;
      index[j + 3] = len - FRAME_HEADER - RECORD_HEADER - keyLen;
      // recorded before the registry answered: the id goes into the copy (patched after the run's copy)
      if (q.id(i) !== s.id) this.idPatches.push(valueAt + 1, s.id);
    }
    if (runChunk !== undefined) runChunk.copy(buf, dst, runStart, runEnd);
    for (let k = 0; k < this.idPatches.length; k += 2) buf.writeUInt32BE(this.idPatches[k + 1]!, this.idPatches[k]!);
    this.idPatches.length = 0;
    return { packed: { buf: buf.buffer as SharedArrayBuffer, topics: this.topics(indexes, counts) }, count: n, bytes };
  }

  /**
   * The spool's events from `from` (below `limit`): read straight into a pack buffer, with the index
   * pointing at the keys and values where they were read (no object per event: at full speed most
   * events can come this way, and objects alive through a send make V8 grow its young generation).
   * `packed` is undefined when nothing could be read; `next` is where the following read starts.
   */
  async fromSpool(
    spool: Spool,
    from: number,
    limit: number,
  ): Promise<{ packed: PackedBatch | undefined; count: number; next: number }> {
    const raw = await spool.readRaw(from, limit, this.batchMaxBytes, (n) => this.buffer(n));
    if (raw.count === 0) {
      if (raw.buf.length > 0) this.releaseBuffer(raw.buf.buffer as SharedArrayBuffer);
      return { packed: undefined, count: 0, next: raw.next };
    }
    const buf = raw.buf;
    const indexes = [EMPTY_INDEX, new Int32Array(4 * raw.count), new Int32Array(4 * raw.count)]; // by Kind
    const counts = [0, 0, 0];
    for (let i = 0; i < raw.count; i++) {
      const p = raw.starts[i]!;
      const s = p + FRAME_HEADER;
      const kind = buf[s + 1] as Kind;
      const valueAt = valueStart(buf, p, raw.lens[i]!); // checked by readRaw: ≥ 0
      const stream = this.streams[kind];
      // frames of this SDK's schema carry its fingerprint; others (an older SDK's) ask the registry
      const id =
        buf.compare(stream.fingerprint, 0, 8, s + 2, s + 10) === 0
          ? stream.id
          : await this.schemaId(kind, buf.toString('hex', s + 2, s + 10));
      if (buf.readUInt32BE(valueAt + 1) !== id) buf.writeUInt32BE(id, valueAt + 1);
      const index = indexes[kind]!;
      const j = 4 * counts[kind]!++;
      index[j] = s + RECORD_HEADER;
      index[j + 1] = valueAt - (s + RECORD_HEADER);
      index[j + 2] = valueAt;
      index[j + 3] = s + raw.lens[i]! - valueAt;
    }
    const packed: PackedBatch = { buf: buf.buffer as SharedArrayBuffer, topics: this.topics(indexes, counts) };
    return { packed, count: raw.count, next: raw.next };
  }

  /** The per-kind indexes of a packed batch (4 numbers per record, `counts` records each), by topic. */
  private topics(indexes: Int32Array[], counts: number[]): PackedTopic[] {
    const topics: PackedTopic[] = [];
    for (const kind of [KIND_ACCESS, KIND_SUBJECT_STATE] as const) {
      const n = counts[kind]!;
      if (n > 0) topics.push({ topic: this.streams[kind].topic, index: indexes[kind]!.subarray(0, 4 * n) });
    }
    return topics;
  }
}
