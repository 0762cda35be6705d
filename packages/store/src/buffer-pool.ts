/**
 * A bounded free list of large buffers, handed out again instead of being freed. The sink's batches
 * let tens of MiB of ArrayBuffer memory go each; V8 answers every 64 MiB of that with a full
 * mark-compact of the heap, which cost the sink more CPU than its own JavaScript (store-notes §4).
 */
export class BufferPool {
  private readonly free: Buffer[] = [];
  constructor(private readonly maxFree: number) {}

  /** The smallest free buffer of at least `n` bytes, or a new one. */
  take(n: number): Buffer {
    let best = -1;
    for (let i = 0; i < this.free.length; i++) {
      const b = this.free[i] as Buffer;
      if (b.length >= n && (best < 0 || b.length < (this.free[best] as Buffer).length)) best = i;
    }
    if (best < 0) return Buffer.allocUnsafeSlow(n);
    return this.free.splice(best, 1)[0] as Buffer;
  }

  /** Keeps `b` for a later `take`; when full, the largest ones are kept. */
  give(b: Buffer): void {
    if (this.free.length < this.maxFree) {
      this.free.push(b);
      return;
    }
    let min = 0;
    for (let i = 1; i < this.free.length; i++) if ((this.free[i] as Buffer).length < (this.free[min] as Buffer).length) min = i;
    if ((this.free[min] as Buffer).length < b.length) this.free[min] = b;
  }
}
