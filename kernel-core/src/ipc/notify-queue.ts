// Notifications coalesce, as in MINIX: bits for the same destination and source OR
// together until delivered, so the queue holds at most one word per (destination,
// source) pair however many notifications are sent.
export type NotifySink = (dst: string, source: string, bits: number) => void;

export class NotifyQueue {
  private readonly pending = new Map<string, Map<string, number>>();
  private scheduled = false;
  private readonly sink: NotifySink;

  constructor(sink: NotifySink) {
    this.sink = sink;
  }

  add(dst: string, source: string, bits: number): void {
    let bySrc = this.pending.get(dst);
    if (!bySrc) this.pending.set(dst, (bySrc = new Map()));
    bySrc.set(source, (bySrc.get(source) ?? 0) | bits);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  /** A dead destination's pending bits are dropped with it. */
  drop(dst: string): void {
    this.pending.delete(dst);
  }

  private flush(): void {
    this.scheduled = false;
    const all = [...this.pending];
    this.pending.clear();
    for (const [dst, bySrc] of all) for (const [source, bits] of bySrc) this.sink(dst, source, bits);
  }
}
