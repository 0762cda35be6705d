/**
 * The in-memory queue of unsent events: a ring of parallel typed arrays rather than one object per
 * event, so a queue of 100k events is a few flat arrays the garbage collector never has to trace or
 * promote. Each event is a frame in an arena chunk; the only pointer kept is the chunk.
 */
export class EventQueue {
  private cap: number;
  private mask: number;
  private chunks: (Buffer | undefined)[];
  private keyLens: Uint32Array;
  private offs: Uint32Array;
  private lens: Uint32Array;
  private ids: Uint32Array;
  private kinds: Uint8Array;
  private lsns: Float64Array;
  private head = 0;
  size = 0;

  constructor(initial = 1024) {
    this.cap = initial;
    this.mask = initial - 1;
    this.chunks = new Array(initial).fill(undefined);
    this.keyLens = new Uint32Array(initial);
    this.offs = new Uint32Array(initial);
    this.lens = new Uint32Array(initial);
    this.ids = new Uint32Array(initial);
    this.kinds = new Uint8Array(initial);
    this.lsns = new Float64Array(initial);
  }

  private grow(): void {
    const n = this.cap * 2;
    const chunks = new Array<Buffer | undefined>(n).fill(undefined);
    const keyLens = new Uint32Array(n);
    const offs = new Uint32Array(n);
    const lens = new Uint32Array(n);
    const ids = new Uint32Array(n);
    const kinds = new Uint8Array(n);
    const lsns = new Float64Array(n);
    for (let i = 0; i < this.size; i++) {
      const j = (this.head + i) & this.mask;
      chunks[i] = this.chunks[j];
      keyLens[i] = this.keyLens[j]!;
      offs[i] = this.offs[j]!;
      lens[i] = this.lens[j]!;
      ids[i] = this.ids[j]!;
      kinds[i] = this.kinds[j]!;
      lsns[i] = this.lsns[j]!;
    }
    this.chunks = chunks;
    this.keyLens = keyLens;
    this.offs = offs;
    this.lens = lens;
    this.ids = ids;
    this.kinds = kinds;
    this.lsns = lsns;
    this.head = 0;
    this.cap = n;
    this.mask = n - 1;
  }

  push(kind: number, chunk: Buffer, off: number, len: number, keyLen: number, id: number, lsn: number): void {
    if (this.size === this.cap) this.grow();
    const j = (this.head + this.size) & this.mask;
    this.chunks[j] = chunk;
    this.keyLens[j] = keyLen;
    this.offs[j] = off;
    this.lens[j] = len;
    this.ids[j] = id;
    this.kinds[j] = kind;
    this.lsns[j] = lsn;
    this.size++;
  }

  /** Fields of the i-th event from the head (0 = oldest). */
  chunk(i: number): Buffer {
    return this.chunks[(this.head + i) & this.mask]!;
  }
  /** the length of the Kafka key (its bytes are in the frame) */
  keyLen(i: number): number {
    return this.keyLens[(this.head + i) & this.mask]!;
  }
  off(i: number): number {
    return this.offs[(this.head + i) & this.mask]!;
  }
  len(i: number): number {
    return this.lens[(this.head + i) & this.mask]!;
  }
  id(i: number): number {
    return this.ids[(this.head + i) & this.mask]!;
  }
  kind(i: number): number {
    return this.kinds[(this.head + i) & this.mask]!;
  }
  lsn(i: number): number {
    return this.lsns[(this.head + i) & this.mask]!;
  }

  /** Drops the oldest `n` events. */
  shift(n: number): void {
    for (let i = 0; i < n; i++) {
      const j = (this.head + i) & this.mask;
      this.chunks[j] = undefined;
    }
    this.head = (this.head + n) & this.mask;
    this.size -= n;
  }
}
