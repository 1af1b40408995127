// Time-aligned ring buffers for the charts: one column of timestamps and one column per
// key (a node, a message path), all the same length, the last 120 samples (2 minutes at
// one State per second). Keys that went quiet and left the State are dropped, so the
// number of columns stays bounded by what the system actually has.

import { RingBuffer } from "./ring-buffer.ts";

const CHART_POINTS = 120;

export class SeriesStore {
  readonly times = new RingBuffer(CHART_POINTS);
  private readonly cols = new Map<string, RingBuffer>();

  /** One sample: every known key gets a value (NaN when it has none, drawn as a gap). */
  push(tMs: number, values: Map<string, number>): void {
    const last = this.times.toArray().at(-1);
    if (last !== undefined && tMs / 1000 <= last) return;
    this.times.push(tMs / 1000);
    for (const key of values.keys()) {
      if (!this.cols.has(key)) {
        const ring = new RingBuffer(CHART_POINTS);
        // Pad the new column so it lines up with the timestamps already held.
        for (let i = 1; i < this.times.length; i++) ring.push(Number.NaN);
        this.cols.set(key, ring);
      }
    }
    for (const [key, ring] of this.cols) {
      const v = values.get(key);
      ring.push(v === undefined ? Number.NaN : v);
      if (v === undefined && this.quiet(ring)) this.cols.delete(key);
    }
  }

  private quiet(ring: RingBuffer): boolean {
    return ring.toArray().every((x) => Number.isNaN(x) || x === 0);
  }

  /** Keys ranked by the sum of their values over the window, largest first. */
  ranked(): { key: string; sum: number }[] {
    const out: { key: string; sum: number }[] = [];
    for (const [key, ring] of this.cols) {
      let s = 0;
      for (const x of ring.toArray()) if (!Number.isNaN(x)) s += x;
      out.push({ key, sum: s });
    }
    return out.sort((a, b) => b.sum - a.sum || a.key.localeCompare(b.key));
  }

  column(key: string): (number | null)[] {
    const ring = this.cols.get(key);
    if (ring === undefined) return new Array<null>(this.times.length).fill(null);
    return ring.toArray().map((x) => (Number.isNaN(x) ? null : x));
  }
}
