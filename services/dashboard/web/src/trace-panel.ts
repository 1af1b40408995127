// The latency panel's per-path table (round trips by IPC path over the last minute, as the
// callers measured them) and its waterfall: a request picked in the panel (a ping to a
// label, a stat of a path) is followed hop by hop by the dashboard (POST /api/trace, what
// mkctl trace prints), and each hop drawn as a bar on one time line.

import { post } from "./api.ts";
import { byTestId, el, fillSelect, setText, within } from "./dom.ts";
import { micros } from "./format.ts";
import { KeyedTable } from "./keyed-table.ts";
import type { MessageArea } from "./message-area.ts";
import type { PathRow } from "./types.ts";

const PATH_COLS = ["path", "p50", "p99", "count"] as const;

interface Hop {
  from: string;
  to: string;
  start_us: number;
  us: number;
  depth: number;
}

export class PathTable {
  private readonly table: KeyedTable;

  constructor(tbody: HTMLTableSectionElement) {
    this.table = new KeyedTable(tbody, PATH_COLS);
  }

  update(rows: PathRow[]): void {
    this.table.update(
      [...rows]
        .sort((a, b) => a.path.localeCompare(b.path))
        .map((r) => ({
          key: r.path,
          cells: {
            path: { text: r.path, cls: "mono" },
            p50: { text: micros(r.p50_us), cls: "num" },
            p99: { text: micros(r.p99_us), cls: "num" },
            count: { text: String(r.count), cls: "num" },
          },
        })),
    );
  }
}

/** The hops of a trace answer; what is not a hop is left out, never drawn as one. */
function hopsOf(v: unknown): Hop[] {
  if (!Array.isArray(v)) return [];
  const out: Hop[] = [];
  for (const h of v) {
    if (typeof h !== "object" || h === null) continue;
    const o = h as Record<string, unknown>;
    const { from, to, start_us, us, depth } = o;
    if (typeof from !== "string" || typeof to !== "string") continue;
    if (typeof start_us !== "number" || typeof us !== "number" || typeof depth !== "number") continue;
    out.push({ from, to, start_us, us, depth });
  }
  return out;
}

export class TracePanel {
  private readonly root = byTestId("trace");
  private readonly what = within<HTMLSelectElement>(this.root, "[data-field=what]");
  private readonly target = within<HTMLInputElement>(this.root, "[data-field=target]");
  private readonly run = within<HTMLButtonElement>(this.root, "button");
  private readonly caption = within(this.root, "[data-field=caption]");
  private readonly fall = byTestId("waterfall");
  private readonly token: () => string | null;
  private readonly messages: MessageArea;

  constructor(token: () => string | null, messages: MessageArea) {
    this.token = token;
    this.messages = messages;
    fillSelect(this.what, [
      { value: "stat", text: "stat PATH (through vfs)" },
      { value: "ping", text: "ping LABEL" },
    ]);
    this.what.addEventListener("change", () => {
      this.target.value = this.what.value === "stat" ? "/" : "mfs";
    });
    this.run.addEventListener("click", () => void this.submit());
  }

  private async submit(): Promise<void> {
    const what = this.what.value;
    const target = this.target.value.trim();
    this.run.disabled = true;
    this.messages.pending(`trace ${what} ${target}`);
    try {
      const o = await post("api/trace", this.token(), { what, target, count: 5 });
      this.messages.outcome(`trace ${what} ${target}`, o, (b) => `${typeof b.total_us === "number" ? micros(b.total_us) : "?"} round trip`);
      if (!o.ok) return;
      const total = typeof o.body.total_us === "number" ? o.body.total_us : 0;
      const to = typeof o.body.to === "string" ? o.body.to : "?";
      this.draw(hopsOf(o.body.hops), total);
      const runs = typeof o.body.runs === "number" ? o.body.runs : 0;
      setText(this.caption, `${what} ${target} to ${to}: the median of ${runs} runs, ${micros(total)}`);
    } finally {
      this.run.disabled = false;
    }
  }

  /** One row per hop: its name (indented under the request for the calls a server made), a bar placed on the time line, its µs. */
  private draw(hops: Hop[], total: number): void {
    const span = Math.max(1, total, ...hops.map((h) => h.start_us + h.us));
    this.fall.replaceChildren(
      ...hops.map((h) => {
        const bar = el("span", { class: `bar depth-${Math.min(h.depth, 3)}` });
        bar.style.marginLeft = `${((h.start_us / span) * 100).toFixed(2)}%`;
        bar.style.width = `${Math.max(0.5, (h.us / span) * 100).toFixed(2)}%`;
        return el(
          "div",
          { class: "hop", "data-hop": `${h.from}>${h.to}` },
          el("span", { class: "name mono" }, `${"\u00a0\u00a0".repeat(h.depth)}${h.from} › ${h.to}`),
          el("span", { class: "track" }, bar),
          el("span", { class: "num" }, micros(h.us)),
        );
      }),
    );
  }
}
