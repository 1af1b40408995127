// The endpoint table: one row per node of the State, the numbers a reader checks after a
// fault (generation went up, restarts counted, how long the recovery took).

import { dash, duration, rate, stateClass } from "./format.ts";
import { KeyedTable } from "./keyed-table.ts";
import type { State } from "./types.ts";

const COLS = ["label", "kind", "placement", "state", "generation", "pid", "restarts", "last_cause", "recover_ms", "msgs_per_s"] as const;

export class EndpointTable {
  private readonly table: KeyedTable;

  constructor(tbody: HTMLTableSectionElement) {
    this.table = new KeyedTable(tbody, COLS);
  }

  update(s: State): void {
    this.table.update(
      s.nodes.map((n) => ({
        key: n.id,
        cells: {
          label: { text: n.id, cls: "mono" },
          kind: { text: n.kind, cls: `kind kind-${n.kind}` },
          placement: { text: n.placement },
          state: { text: n.state, cls: `state st-${stateClass(n.state)}` },
          generation: { text: dash(n.generation), cls: "num" },
          pid: { text: dash(n.pid), cls: "num" },
          restarts: { text: String(n.restarts), cls: n.restarts > 0 ? "num hot" : "num" },
          last_cause: { text: dash(n.last_cause) },
          recover_ms: { text: n.recover_ms === null ? "–" : duration(n.recover_ms), cls: "num" },
          msgs_per_s: { text: rate(n.msgs_per_s), cls: "num" },
        },
      })),
    );
  }
}
