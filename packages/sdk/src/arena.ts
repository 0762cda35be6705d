/**
 * The arena record() encodes frames into: 256 KiB chunks written front to back. A chunk the arena
 * has moved past is reused once the spool has written and the queue has let go of everything in it
 * (batches hold copies), instead of leaving 256 KiB of external memory per ~1500 events for V8 to
 * free whenever it collects.
 */

export const CHUNK_BYTES = 256 * 1024;

export class Arena {
  /** the chunk being written, and where the next frame goes in it */
  chunk: Buffer = Buffer.allocUnsafe(CHUNK_BYTES);
  pos = 0;
  /** chunks moved past, oldest first, with the log end when it did (every frame in the chunk lies below) */
  private readonly retired: { chunk: Buffer; endLsn: number }[] = [];
  private readonly free: Buffer[] = [];
  /**
   * How many free chunks are kept for reuse. Past the memory bound, events leave memory in bursts
   * (down to 3/4 of the bound), freeing up to a quarter of it in chunks at once; a free list that
   * can take such a burst keeps the arena from dropping chunks only to allocate them again. With 8
   * it did: under a full-speed overload the caller's thread ran ~5 mark-compacts a second (V8
   * collects after every 64 MiB of new ArrayBuffer memory), its young generation grew, and RSS went
   * to 230–270 MiB; with room for the burst, 2 mark-compacts in 12 s and ~190–196 MiB.
   */
  private readonly maxFree: number;

  constructor(maxQueueBytes: number) {
    this.maxFree = Math.ceil(maxQueueBytes / 4 / CHUNK_BYTES) + 8;
  }

  /**
   * Moves on to a chunk with at least `room` bytes (`pos` 0). The current chunk retires at `endLsn`;
   * retired chunks whose frames all lie below `doneBelow` (written to the spool and out of the
   * queue) become free.
   */
  next(room: number, endLsn: number, doneBelow: number): Buffer {
    const retired = this.retired;
    retired.push({ chunk: this.chunk, endLsn });
    let n = 0;
    while (n < retired.length && retired[n]!.endLsn <= doneBelow) {
      const c = retired[n]!.chunk;
      if (c.length === CHUNK_BYTES && this.free.length < this.maxFree) this.free.push(c);
      n++;
    }
    if (n > 0) retired.splice(0, n);
    let c = room <= CHUNK_BYTES ? this.free.pop() : undefined;
    c ??= Buffer.allocUnsafe(Math.max(CHUNK_BYTES, room));
    this.chunk = c;
    this.pos = 0;
    return c;
  }
}
