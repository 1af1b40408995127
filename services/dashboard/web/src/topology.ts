// The topology panel: every endpoint as a node (in-kernel services drawn inside
// kernel-core), edges for who messaged whom in the last second. The layout runs only when
// the set of nodes changes; each second's State updates data in place, so nothing jumps.

import cytoscape from "cytoscape";
import { rate, stateClass } from "./format.ts";
import type { Edge, EndpointNode, State } from "./types.ts";

const KERNEL_CORE = "kernel-core";

const STATE_FILL = { ok: "#2ea043", warn: "#d29922", bad: "#f85149", off: "#6e7681" } as const;

const STYLE: cytoscape.StylesheetJson = [
  {
    selector: "node",
    style: {
      label: "data(label)",
      color: "#c9d1d9",
      "font-size": 11,
      "font-family": "system-ui, sans-serif",
      "text-valign": "bottom",
      "text-margin-y": 4,
      "text-wrap": "wrap",
      width: 26,
      height: 26,
      "background-color": "#6e7681",
      "border-width": 2,
      "border-color": "#30363d",
    },
  },
  { selector: 'node[sc = "ok"]', style: { "background-color": STATE_FILL.ok } },
  { selector: 'node[sc = "warn"]', style: { "background-color": STATE_FILL.warn } },
  { selector: 'node[sc = "bad"]', style: { "background-color": STATE_FILL.bad } },
  { selector: 'node[sc = "off"]', style: { "background-color": STATE_FILL.off } },
  { selector: 'node[kind = "nats"]', style: { shape: "diamond", width: 40, height: 40, "border-color": "#a371f7" } },
  { selector: 'node[kind = "kernel"]', style: { shape: "round-rectangle", width: 44, height: 32, "border-color": "#58a6ff" } },
  { selector: 'node[kind = "hardware"]', style: { shape: "cut-rectangle", width: 40, height: 28, "border-color": "#db61a2" } },
  { selector: 'node[kind = "driver"]', style: { shape: "hexagon", "border-color": "#db61a2" } },
  { selector: 'node[kind = "server"]', style: { shape: "ellipse", "border-color": "#58a6ff" } },
  { selector: 'node[kind = "program"]', style: { shape: "round-rectangle", width: 22, height: 22, "border-color": "#8b949e" } },
  {
    // kernel-core holding in-kernel services: a translucent box whose border carries its state.
    selector: ":parent",
    style: {
      shape: "round-rectangle",
      "background-opacity": 0.08,
      "background-color": "#58a6ff",
      "border-width": 2,
      "text-valign": "top",
      "text-margin-y": -4,
      padding: "14px",
    },
  },
  { selector: ':parent[sc = "ok"]', style: { "border-color": STATE_FILL.ok } },
  { selector: ':parent[sc = "warn"]', style: { "border-color": STATE_FILL.warn } },
  { selector: ':parent[sc = "bad"]', style: { "border-color": STATE_FILL.bad } },
  { selector: ':parent[sc = "off"]', style: { "border-color": STATE_FILL.off } },
  {
    selector: "edge",
    style: {
      width: "data(w)",
      "line-color": "#388bfd",
      "line-opacity": 0.7,
      "target-arrow-color": "#388bfd",
      "target-arrow-shape": "triangle",
      "arrow-scale": 0.8,
      // A slight arc keeps an edge between neighbours of one row from running through the node between them.
      "curve-style": "unbundled-bezier",
      "control-point-distances": [18],
      "control-point-weights": [0.5],
      label: "data(label)",
      "font-size": 9,
      color: "#8b949e",
      "text-background-color": "#0d1117",
      "text-background-opacity": 0.8,
      "text-background-padding": "1px",
      "text-rotation": "autorotate",
    },
  },
];

function edgeId(e: Edge): string {
  return `${e.from}->${e.to}`;
}

/** Thin at 1 msg/s, thick at thousands, never taller than a node. */
function edgeWidth(r: number): number {
  return Math.min(10, 1 + 2 * Math.log10(1 + r));
}

function parentOf(n: EndpointNode, ids: Set<string>): string | undefined {
  return n.placement === "kernel" && n.id !== KERNEL_CORE && ids.has(KERNEL_CORE) ? KERNEL_CORE : undefined;
}

function nodeData(n: EndpointNode): Record<string, string | number> {
  const gen = n.generation === null ? "" : ` g${n.generation}`;
  return { id: n.id, label: `${n.id}${gen}`, kind: n.kind, state: n.state, sc: stateClass(n.state), rate: n.msgs_per_s };
}

/**
 * Rows by layer, so a request reads top to bottom (workload -> vfs -> mfs -> ata ->
 * kernel-core -> hardware): user programs and tools on top, the servers they call, the
 * file systems those call, the drivers, kernel-core (with the services loaded into it), the
 * hardware at the bottom, and NATS to the side as the bus everything talks over.
 * Deterministic, so a restart never reshuffles the picture.
 */
const ROWS = 6;
const ROW_KERNEL = 4;
/** Services that act for a user (the demo's programs, the shell, the dashboard): the top row. */
const USER_SIDE = new Set(["workload", "shell", "dashboard"]);
/** Servers called by other servers (vfs calls them): the row under the servers. */
const BACKING = new Set(["mfs", "procfs"]);

function rowOf(n: EndpointNode): number {
  switch (n.kind) {
    case "program":
      return 0;
    case "server":
      return USER_SIDE.has(n.id) ? 0 : BACKING.has(n.id) ? 2 : 1;
    case "driver":
      return 3;
    case "kernel":
      return ROW_KERNEL;
    case "hardware":
      return 5;
    default:
      return ROW_KERNEL;
  }
}
const COL_GAP = 110;
const ROW_GAP = 95;
const PER_ROW = 8;

function layeredPositions(nodes: EndpointNode[], ids: Set<string>): Map<string, { x: number; y: number }> {
  const hosting = nodes.some((n) => parentOf(n, ids) === KERNEL_CORE);
  const rows: string[][] = Array.from({ length: ROWS }, () => []);
  let nats: string | null = null;
  for (const n of [...nodes].sort((a, b) => a.id.localeCompare(b.id))) {
    if (n.kind === "nats") nats = n.id;
    // A compound node takes its position from its children: place them, not it.
    else if (n.id === KERNEL_CORE && hosting) continue;
    else rows[parentOf(n, ids) === KERNEL_CORE ? ROW_KERNEL : rowOf(n)].push(n.id);
  }
  const pos = new Map<string, { x: number; y: number }>();
  let y = 0;
  let minX = 0;
  let kernelY: number | null = null;
  rows.forEach((row, r) => {
    // A crowded row wraps, so the picture stays wide rather than a thin strip.
    for (let i = 0; i < row.length; i += PER_ROW) {
      const chunk = row.slice(i, i + PER_ROW);
      chunk.forEach((id, j) => {
        const x = (j - (chunk.length - 1) / 2) * COL_GAP;
        minX = Math.min(minX, x);
        pos.set(id, { x, y });
      });
      if (r === ROW_KERNEL && kernelY === null) kernelY = y;
      y += ROW_GAP;
    }
  });
  if (nats !== null) pos.set(nats, { x: minX - 1.5 * COL_GAP, y: kernelY ?? Math.max(0, y - ROW_GAP) / 2 });
  return pos;
}

export class Topology {
  readonly cy: cytoscape.Core;
  private nodeKey = "";

  constructor(container: HTMLElement) {
    this.cy = cytoscape({
      container,
      style: STYLE,
      minZoom: 0.3,
      maxZoom: 3,
      boxSelectionEnabled: false,
    });
  }

  update(s: State): void {
    const ids = new Set(s.nodes.map((n) => n.id));
    const key = s.nodes
      .map((n) => `${n.id}|${parentOf(n, ids) ?? ""}`)
      .sort()
      .join(",");
    const cy = this.cy;
    cy.batch(() => {
      if (key !== this.nodeKey) {
        cy.elements().remove();
        cy.add(s.nodes.map((n) => ({ group: "nodes" as const, data: { ...nodeData(n), parent: parentOf(n, ids) } })));
      } else {
        for (const n of s.nodes) cy.getElementById(n.id).data(nodeData(n));
      }
      this.updateEdges(s.edges, ids);
    });
    if (key !== this.nodeKey) {
      this.nodeKey = key;
      this.relayout(s, ids);
    }
  }

  private updateEdges(edges: Edge[], ids: Set<string>): void {
    const cy = this.cy;
    const live = new Set<string>();
    for (const e of edges) {
      // An edge to a node the State does not list (a label already gone) has nowhere to go.
      if (!ids.has(e.from) || !ids.has(e.to) || e.from === e.to) continue;
      const id = edgeId(e);
      live.add(id);
      const data = { w: edgeWidth(e.msgs_per_s), label: `${rate(e.msgs_per_s)}/s`, rate: e.msgs_per_s };
      const existing = cy.getElementById(id);
      if (existing.nonempty()) existing.data(data);
      else cy.add({ group: "edges", data: { id, source: e.from, target: e.to, ...data } });
    }
    cy.edges().forEach((e) => {
      if (!live.has(e.id())) e.remove();
    });
  }

  private relayout(s: State, ids: Set<string>): void {
    const positions = layeredPositions(s.nodes, ids);
    this.cy.layout({ name: "preset", positions: Object.fromEntries(positions), animate: false, fit: false }).run();
    this.cy.fit(undefined, 24);
  }

  /** The container changed size (window resize, panel reflow). */
  resize(): void {
    this.cy.resize();
    this.cy.fit(undefined, 24);
  }
}
