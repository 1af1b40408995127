// The scheduler panel, like htop: who holds the CPU, at what priority and quantum. Shown
// only while the scheduler runs (State.sched is null otherwise).

import { el } from "./dom.ts";
import { stateClass } from "./format.ts";
import { KeyedTable } from "./keyed-table.ts";
import type { SchedRow } from "./types.ts";

const COLS = ["label", "pid", "state", "priority", "quantum_ms", "cpu_pct", "switches"] as const;

function bar(pct: number): Node {
  const clamped = Math.max(0, Math.min(100, pct));
  const fill = el("span", { class: "bar-fill" });
  fill.style.width = `${clamped}%`;
  if (clamped > 80) fill.classList.add("hot");
  return el("span", { class: "bar" }, fill);
}

export class SchedTable {
  private readonly table: KeyedTable;

  private readonly panel: HTMLElement;

  constructor(panel: HTMLElement, tbody: HTMLTableSectionElement) {
    this.panel = panel;
    this.table = new KeyedTable(tbody, COLS);
  }

  update(rows: SchedRow[] | null): void {
    this.panel.hidden = rows === null;
    if (rows === null) return;
    const sorted = [...rows].sort((a, b) => b.cpu_pct - a.cpu_pct || a.label.localeCompare(b.label));
    this.table.update(
      sorted.map((r) => ({
        key: r.label,
        cells: {
          label: { text: r.label, cls: "mono" },
          pid: { text: String(r.pid), cls: "num" },
          state: { text: r.state, cls: `state st-${stateClass(r.state === "running" ? "ready" : r.state)}` },
          priority: { text: String(r.priority), cls: "num" },
          quantum_ms: { text: `${r.quantum_ms} ms`, cls: "num" },
          cpu_pct: { text: `${r.cpu_pct.toFixed(1)}%`, cls: "cpu", extra: { key: r.cpu_pct.toFixed(0), make: () => bar(r.cpu_pct) } },
          switches: { text: String(r.switches), cls: "num" },
        },
      })),
    );
  }
}
