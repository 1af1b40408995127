// The two charts (uPlot): messages per second of the busiest nodes, and p50/p99 latency of
// the busiest message path, over the last two minutes. A chart is rebuilt only when its
// set of series changes; every other second it only gets new data.

import uPlot from "uplot";
import { micros, rate } from "./format.ts";
import { SeriesStore } from "./series-store.ts";
import type { LatencyRow, State } from "./types.ts";

const PALETTE = ["#58a6ff", "#3fb950", "#d29922", "#f778ba", "#a371f7", "#39c5cf"];
const TOP_NODES = 6;
const HEIGHT = 190;

const AXIS: uPlot.Axis = {
  stroke: "#8b949e",
  grid: { stroke: "#21262d", width: 1 },
  ticks: { stroke: "#30363d", width: 1 },
  font: "11px system-ui, sans-serif",
};

class Chart {
  private plot: uPlot | null = null;
  private key = "";

  private readonly target: HTMLElement;
  private readonly fmt: (v: number) => string;

  constructor(target: HTMLElement, fmt: (v: number) => string) {
    this.target = target;
    this.fmt = fmt;
    new ResizeObserver(() => this.plot?.setSize({ width: this.width(), height: HEIGHT })).observe(target);
  }

  private width(): number {
    return Math.max(200, this.target.clientWidth);
  }

  show(series: { label: string; color: string; dash?: number[] }[], data: uPlot.AlignedData): void {
    const key = series.map((s) => s.label).join("\n");
    if (this.plot !== null && key === this.key) {
      this.plot.setData(data);
      this.latestInLegend(data);
      return;
    }
    this.plot?.destroy();
    this.key = key;
    const fmt = this.fmt;
    this.plot = new uPlot(
      {
        width: this.width(),
        height: HEIGHT,
        cursor: { drag: { x: false, y: false } },
        legend: { live: true },
        scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.1 : 1] } },
        axes: [{ ...AXIS }, { ...AXIS, size: 56, values: (_u, ticks) => ticks.map((t) => fmt(t)) }],
        series: [
          {},
          ...series.map((s) => ({
            label: s.label,
            stroke: s.color,
            width: 1.5,
            dash: s.dash,
            spanGaps: false,
            points: { show: false },
            value: (_u: uPlot, v: number | null) => (v === null ? "–" : fmt(v)),
          })),
        ],
      },
      data,
      this.target,
    );
    this.latestInLegend(data);
  }

  /** Without a cursor over the chart the legend shows the latest values (uPlot's own shows "–" until hovered). */
  private latestInLegend(data: uPlot.AlignedData): void {
    const p = this.plot;
    const n = data[0].length;
    if (p === null || n === 0) return;
    if (p.cursor.left !== undefined && p.cursor.left >= 0) return; // someone is reading a point: leave it
    p.setLegend({ idx: n - 1 });
  }
}

/** The path that carried the most messages in the last minute, of those that serve (not those that wait for input). */
export function busiestPath(rows: LatencyRow[]): LatencyRow | null {
  return [...rows].filter((r) => !r.waiting).sort((a, b) => b.count - a.count || a.path.localeCompare(b.path))[0] ?? null;
}

export class Charts {
  private readonly rates = new SeriesStore();
  private readonly p50 = new SeriesStore();
  private readonly p99 = new SeriesStore();
  private readonly rateChart: Chart;
  private readonly latencyChart: Chart;
  /** The busiest nodes shown, in name order so a node keeps its colour while ranks swap. */
  private shown: string[] = [];

  private readonly latencyCaption: HTMLElement;

  constructor(rateTarget: HTMLElement, latencyTarget: HTMLElement, latencyCaption: HTMLElement) {
    this.latencyCaption = latencyCaption;
    this.rateChart = new Chart(rateTarget, (v) => `${rate(v)}/s`);
    this.latencyChart = new Chart(latencyTarget, (v) => micros(v));
  }

  update(s: State): void {
    this.rates.push(s.t, new Map(s.nodes.map((n) => [n.id, n.msgs_per_s])));
    this.p50.push(s.t, new Map(s.latency.filter((r) => r.p50_us !== null).map((r) => [r.path, r.p50_us ?? 0])));
    this.p99.push(s.t, new Map(s.latency.filter((r) => r.p99_us !== null).map((r) => [r.path, r.p99_us ?? 0])));
    this.drawRates();
    this.drawLatency(s);
  }

  private drawRates(): void {
    const busy = this.rates.ranked().filter((r) => r.sum > 0);
    const top = busy.slice(0, TOP_NODES).map((r) => r.key);
    const stillBusy = new Set(top);
    if (this.shown.length !== top.length || this.shown.some((k) => !stillBusy.has(k))) this.shown = [...top].sort();
    const times = this.rates.times.toArray();
    this.rateChart.show(
      this.shown.map((k, i) => ({ label: k, color: PALETTE[i % PALETTE.length] })),
      [times, ...this.shown.map((k) => this.rates.column(k))],
    );
  }

  private drawLatency(s: State): void {
    const busiest = busiestPath(s.latency);
    const path = busiest?.path ?? null;
    // The caption carries its own numbers: the table may list the path far down, or not at all on a small screen.
    this.latencyCaption.textContent =
      busiest === null
        ? "no message paths yet"
        : `busiest path: ${busiest.path}, p50 ${micros(busiest.p50_us)}, p99 ${micros(busiest.p99_us)}, ${busiest.count} in the last minute`;
    const times = this.p99.times.toArray();
    this.latencyChart.show(
      [
        { label: "p50", color: "#3fb950" },
        { label: "p99", color: "#f0883e" },
      ],
      path === null
        ? [times, times.map(() => null), times.map(() => null)]
        : [times, this.p50.column(path).slice(-times.length), this.p99.column(path)],
    );
  }
}
