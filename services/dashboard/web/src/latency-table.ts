// Latency per message path over the last minute, slowest p99 first: the row to look at is on top.

import { micros } from "./format.ts";
import { KeyedTable } from "./keyed-table.ts";
import type { LatencyRow } from "./types.ts";

const COLS = ["path", "p50", "p99", "count"] as const;

export class LatencyTable {
  private readonly table: KeyedTable;

  constructor(tbody: HTMLTableSectionElement) {
    this.table = new KeyedTable(tbody, COLS);
  }

  /** busiest: the path the chart shows, marked in the table. */
  update(rows: LatencyRow[], busiest: string | null): void {
    // Serving first, slowest p99 on top; what waits by design (a console read waiting for a line) last.
    const sorted = [...rows].sort(
      (a, b) => Number(a.waiting) - Number(b.waiting) || (b.p99_us ?? -1) - (a.p99_us ?? -1) || a.path.localeCompare(b.path),
    );
    this.table.update(
      sorted.map((r) => ({
        key: r.path,
        cells: {
          path: {
            text: r.waiting ? `${r.path} (waiting for input)` : r.path === busiest ? `${r.path} (busiest: the chart)` : r.path,
            cls: r.waiting ? "mono muted" : r.path === busiest ? "mono busiest" : "mono",
          },
          p50: { text: micros(r.p50_us), cls: "num" },
          p99: { text: micros(r.p99_us), cls: "num" },
          count: { text: String(r.count), cls: "num" },
        },
      })),
    );
  }
}
