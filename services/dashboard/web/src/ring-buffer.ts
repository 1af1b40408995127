// A fixed-size ring of samples: the charts keep the last N points whatever the page's age,
// so a dashboard left open for a day holds as much memory as one open for a minute.

export class RingBuffer {
  private readonly buf: Float64Array;
  private head = 0;
  private count = 0;

  readonly size: number;

  constructor(size: number) {
    this.size = size;
    this.buf = new Float64Array(size);
  }

  push(v: number): void {
    this.buf[this.head] = v;
    this.head = (this.head + 1) % this.size;
    if (this.count < this.size) this.count++;
  }

  get length(): number {
    return this.count;
  }

  /** Oldest first, as uPlot wants its columns. */
  toArray(): number[] {
    const out = new Array<number>(this.count);
    const start = (this.head - this.count + this.size) % this.size;
    for (let i = 0; i < this.count; i++) out[i] = this.buf[(start + i) % this.size];
    return out;
  }

  sum(): number {
    let s = 0;
    for (let i = 0; i < this.count; i++) s += this.buf[i];
    return s;
  }

  clear(): void {
    this.head = 0;
    this.count = 0;
  }
}
