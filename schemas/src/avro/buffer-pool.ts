/**
 * A bounded free list of large buffers, handed out again instead of being freed. Fresh ArrayBuffer
 * memory is what V8 answers with full mark-compacts of the heap (one per 64 MiB of it), which cost
 * the sink more CPU than its own JavaScript (store-notes §4) and the enforcer a collection of its
 * fetched batches per few slices (docs/decisions/judging-on-a-worker-thread.md). Here beside the wire-format writers
 * because both the store and the enforcer reuse their encode buffers through it.
 */
export class BufferPool {
  private readonly free: Buffer[] = [];
  constructor(private readonly maxFree: number) {}

  /** The smallest free buffer of at least `n` bytes, if there is one. */
  takeFree(n: number): Buffer | undefined {
    let best = -1;
    for (let i = 0; i < this.free.length; i++) {
      const b = this.free[i] as Buffer;
      if (b.length >= n && (best < 0 || b.length < (this.free[best] as Buffer).length)) best = i;
    }
    return best < 0 ? undefined : (this.free.splice(best, 1)[0] as Buffer);
  }

  /** The smallest free buffer of at least `n` bytes, or a new one of `allocate` (≥ n) bytes. */
  take(n: number, allocate = n): Buffer {
    return this.takeFree(n) ?? Buffer.allocUnsafeSlow(allocate);
  }

  /**
   * Keeps `b` for a later `take`; when full, the largest ones are kept. An empty buffer (one whose
   * ArrayBuffer was transferred to another thread) is not kept.
   */
  give(b: Buffer): void {
    if (b.length === 0 || this.maxFree === 0) return;
    if (this.free.length < this.maxFree) {
      this.free.push(b);
      return;
    }
    let min = 0;
    for (let i = 1; i < this.free.length; i++) if ((this.free[i] as Buffer).length < (this.free[min] as Buffer).length) min = i;
    if ((this.free[min] as Buffer).length < b.length) this.free[min] = b;
  }
}
