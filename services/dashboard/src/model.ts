// The dashboard's picture of the system (docs/dashboard.md, State): nodes from the
// privilege table, kept current by the kernel's events, rs's events and rs's list; rates
// and latencies as differences of the kernel's statistics samples; a bounded timeline.
// Everything here is fed from the wire by main.ts and read by the HTTP face.
import {
  HARDWARE,
  KERNEL,
  LATENCY_BUCKETS_S,
  type EndpointInfo,
  type KernelEvent,
  type KernelStat,
  type ProcessInfo,
  type RsEvent,
  type ServiceStatus,
} from "#abi";
import type { Clock, SystemTable } from "#libsys";

export const TIMELINE_MAX = 500;
/** Statistics samples kept: one a second, a minute of latency window. */
const SAMPLES_MAX = 62;
const LATENCY_WINDOW_MS = 60_000;

const NATS_NODE = "nats";
/**
 * Message types whose answer waits for something outside the system by design: a console
 * read (CDEV_READ) is answered when someone types a line. Their time is waiting, shown
 * apart from the time servers take to serve.
 */
const WAITS_BY_DESIGN = new Set(["CDEV_READ"]);
/** How long a supervised service's death waits for rs's cause before the kernel's is shown. */
export const CAUSE_WAIT_MS = 1500;
const KERNEL_NODE = "kernel-core";

export type { Edge, EndpointNode as Node, LatencyRow, PathRow, State, TimelineEntry, WorkloadInfo } from "./contract.ts";
import type {
  Edge,
  EndpointNode as Node,
  NodeKind,
  PathRow,
  SchedRow,
  State,
  TimelineEntry,
  WorkloadInfo,
  LatencyRow,
} from "./contract.ts";

/** A kernel node name in the statistics is the topology's kernel-core. */
function nodeId(statName: string): string {
  return statName === KERNEL ? KERNEL_NODE : statName;
}

export class Model {
  private readonly table: SystemTable;
  private readonly clock: Clock;
  private readonly nodes = new Map<string, Node>();
  private readonly timeline: TimelineEntry[] = [];
  private readonly samples: KernelStat[] = [];
  private readonly listeners = new Set<(e: TimelineEntry) => void>();
  private edgesNow: Edge[] = [];
  private kernelUp = false;
  private lastStatAt = 0;
  /** The kernel boot the nodes' generations belong to. */
  private boot?: string;
  /**
   * One death, one cause, the truest known: the kernel sees a supervised service's death as
   * a NATS disconnect, rs as the exit's code or signal (or a missed heartbeat). A kernel
   * `dead` event waits here, at most CAUSE_WAIT_MS, for rs's cause; rs's cause seen just
   * before the kernel's event is used at once.
   */
  private readonly heldDeaths = new Map<string, { entry: Omit<TimelineEntry, "t"> & { t?: number }; endpoint: string; until: number }>();
  private readonly rsCauses = new Map<string, { cause: string; at: number; generation?: number }>();
  workload: WorkloadInfo | null = null;

  constructor(table: SystemTable, clock: Clock) {
    this.table = table;
    this.clock = clock;
    const fixed = (id: string, kind: NodeKind): Node => ({
      id,
      kind,
      placement: "user",
      state: "up",
      generation: null,
      pid: null,
      host: null,
      restarts: 0,
      last_cause: null,
      recover_ms: null,
      msgs_per_s: 0,
    });
    this.nodes.set(NATS_NODE, fixed(NATS_NODE, "nats"));
    this.nodes.set(KERNEL_NODE, { ...fixed(KERNEL_NODE, "kernel"), placement: "kernel", state: "down" });
    this.nodes.set(HARDWARE, fixed(HARDWARE, "hardware"));
    for (const s of table.services.values()) {
      if (!s.command && s.placement !== "kernel") continue; // clients appear while they are connected
      this.nodes.set(s.label, this.serviceNode(s.label));
    }
  }

  private serviceNode(label: string): Node {
    const s = this.table.services.get(label)!;
    const kind: NodeKind = s.io.length > 0 || s.irq.length > 0 ? "driver" : s.command || s.placement === "kernel" ? "server" : "program";
    return {
      id: label,
      kind,
      placement: s.placement,
      state: "down",
      generation: null,
      pid: null,
      host: null,
      restarts: 0,
      last_cause: null,
      recover_ms: null,
      msgs_per_s: 0,
    };
  }

  private node(label: string): Node | undefined {
    if (!this.table.services.has(label)) return undefined;
    let n = this.nodes.get(label);
    if (!n) this.nodes.set(label, (n = this.serviceNode(label)));
    return n;
  }

  /** A service rs starts (or one inside kernel-core), not a client. */
  private supervised(label: string): boolean {
    const s = this.table.services.get(label);
    return !!s && (!!s.command || s.placement === "kernel");
  }

  onTimeline(fn: (e: TimelineEntry) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  history(): TimelineEntry[] {
    this.flushExpired();
    return [...this.timeline];
  }

  record(e: Omit<TimelineEntry, "t"> & { t?: number }): void {
    const entry: TimelineEntry = { ...e, t: e.t ?? this.clock.now() };
    this.timeline.push(entry);
    if (this.timeline.length > TIMELINE_MAX) this.timeline.splice(0, this.timeline.length - TIMELINE_MAX);
    for (const fn of this.listeners) fn(entry);
  }

  /** The kernel's endpoint table, read at start and after a gap or a new kernel boot. */
  applyEndpoints(rows: EndpointInfo[]): void {
    for (const r of rows) {
      if (r.state === "dead" && !this.supervised(r.label)) continue; // a client that came and went
      const n = this.node(r.label);
      if (!n) continue;
      if (n.generation !== null && r.generation < n.generation) continue;
      Object.assign(n, { state: r.state, generation: r.generation, pid: r.pid, host: r.host, placement: r.placement });
    }
  }

  /** rs's list: restarts, causes and recovery times it measured. */
  applyRsList(list: ServiceStatus[]): void {
    for (const s of list) {
      const n = this.node(s.label);
      if (!n) continue;
      n.restarts = s.restarts;
      n.last_cause = s.last_cause ?? n.last_cause;
      n.recover_ms = s.recover_ms ?? n.recover_ms;
      if (s.state === "failed" || s.state === "stopped" || s.state === "backoff") n.state = s.state === "backoff" ? "restarting" : s.state;
    }
  }

  /**
   * A new kernel-core numbers generations afresh for whatever registers new (services that
   * resume keep theirs): the old numbers are no watermark against the new boot's events.
   */
  private bootIs(boot: string): void {
    if (this.boot !== undefined && this.boot !== boot) {
      for (const n of this.nodes.values()) if (this.table.services.has(n.id)) n.generation = null;
    }
    this.boot = boot;
  }

  onKernelEvent(ev: KernelEvent): void {
    this.kernelUp = true;
    this.bootIs(ev.boot);
    if (ev.kind === "denied") {
      this.record({
        kind: "denied",
        label: ev.label,
        generation: ev.generation || null,
        cause: ev.denied ?? null,
        mttr_ms: null,
        text: `${ev.label}: ${ev.denied ?? "?"} ${ev.target ?? ""} refused (${ev.errno ?? "?"})`,
      });
      return;
    }
    if (ev.kind === "sched") return; // the scheduler view shows settings; the timeline keeps lifecycle
    if (ev.kind === "panic") {
      // kernel-core is going (a server inside it crashed): its last word.
      this.record({
        kind: "panic",
        label: ev.label,
        generation: ev.generation || null,
        cause: null,
        mttr_ms: null,
        text: `kernel panic: ${ev.detail ?? ev.label}`,
      });
      return;
    }
    const n = this.node(ev.label);
    if (!n) return;
    if (n.generation !== null && ev.generation < n.generation) return; // an older incarnation's news
    n.generation = ev.generation;
    n.pid = ev.pid;
    n.host = ev.host;
    n.placement = ev.placement;
    if (ev.kind === "started") n.state = "starting";
    else if (ev.kind === "ready" || ev.kind === "resumed") n.state = "ready";
    else if (ev.kind === "dead") n.state = "dead";
    // A client (mkctl, a test's program) comes and goes with each command: only its crashes
    // are news, and one that ended cleanly leaves the picture.
    const supervised = this.supervised(ev.label);
    if (!supervised && ev.kind === "dead" && (ev.cause === "exit" || ev.cause === "superseded")) this.nodes.delete(ev.label);
    if (!supervised && (ev.kind !== "dead" || ev.cause === "exit" || ev.cause === "superseded")) return;
    if (ev.kind === "started" || ev.kind === "ready" || ev.kind === "dead") {
      const cause = `${ev.cause ?? "?"}${ev.detail ? `: ${ev.detail}` : ""}`;
      const text = ev.kind === "dead" ? `${ev.endpoint} died (${cause})` : `${ev.endpoint} ${ev.kind} (pid ${ev.pid})`;
      const entry = {
        t: Date.parse(ev.at) || undefined,
        kind: ev.kind,
        label: ev.label,
        generation: ev.generation,
        cause: ev.cause ?? null,
        mttr_ms: null,
        text,
      };
      this.flushHeld(ev.label); // a death held for its cause comes before what follows it
      if (ev.kind === "dead" && supervised) {
        // rs's cause for this very incarnation, seen just before: used once, then forgotten.
        const rs = this.rsCauses.get(ev.label);
        this.rsCauses.delete(ev.label);
        const same = rs !== undefined && (rs.generation === undefined || rs.generation === ev.generation);
        if (rs && same && this.clock.now() - rs.at <= CAUSE_WAIT_MS) this.recordDeath(entry, ev.endpoint, rs.cause);
        else this.heldDeaths.set(ev.label, { entry, endpoint: ev.endpoint, until: this.clock.now() + CAUSE_WAIT_MS });
        return;
      }
      this.record(entry);
    }
  }

  private recordDeath(entry: Omit<TimelineEntry, "t"> & { t?: number }, endpoint: string, cause: string): void {
    this.record({ ...entry, cause, text: `${endpoint} died (${cause})` });
  }

  /** Records a held death now: with rs's cause when given, else the kernel's own. */
  private flushHeld(label: string, rsCause?: string, generation?: number): void {
    const h = this.heldDeaths.get(label);
    if (!h) return;
    // rs's word on another incarnation's death: not this one's cause; it waits on.
    if (rsCause && generation !== undefined && h.entry.generation !== null && h.entry.generation !== generation) return;
    this.heldDeaths.delete(label);
    if (rsCause) this.recordDeath(h.entry, h.endpoint, rsCause);
    else this.record(h.entry);
  }

  /** Deaths whose wait for rs's cause is over go on the timeline with the kernel's. */
  private flushExpired(): void {
    for (const [label, h] of this.heldDeaths) if (this.clock.now() >= h.until) this.flushHeld(label);
  }

  onRsEvent(ev: RsEvent): void {
    const n = this.node(ev.label);
    if (!n) return;
    n.restarts = ev.restarts;
    if (ev.last_cause) n.last_cause = ev.last_cause;
    if (ev.last_cause && (ev.state === "backoff" || ev.state === "failed"))
      this.rsCauses.set(ev.label, { cause: ev.last_cause, at: this.clock.now(), generation: ev.generation });
    // rs's word on a death (restarting after it, given up, or serving again after it) names its cause.
    if (ev.last_cause && (ev.state === "backoff" || ev.state === "failed" || ev.state === "running"))
      this.flushHeld(ev.label, ev.last_cause, ev.state === "running" ? undefined : ev.generation);
    if (ev.state === "backoff") n.state = "restarting";
    if (ev.state === "failed" || ev.state === "stopped") n.state = ev.state;
    if (ev.state === "running" && ev.recover_ms !== undefined) {
      n.recover_ms = ev.recover_ms;
      const mttr = (ev.detect_ms ?? 0) + ev.recover_ms;
      this.record({
        t: Date.parse(ev.at) || undefined,
        kind: "recovered",
        label: ev.label,
        generation: ev.generation ?? null,
        cause: ev.last_cause ?? null,
        mttr_ms: mttr,
        text: `${ev.label}#${ev.generation ?? "?"} serving again: found ${ev.detect_ms ?? "?"} ms after it stopped serving, back ${ev.recover_ms} ms later, healed in ${mttr} ms in all`,
      });
    } else if (ev.state === "failed") {
      this.record({
        t: Date.parse(ev.at) || undefined,
        kind: "dead",
        label: ev.label,
        generation: ev.generation ?? null,
        cause: "failed",
        mttr_ms: null,
        text: `${ev.label} failed: ${ev.why}`,
      });
    }
  }

  onStat(s: KernelStat): void {
    const prev = this.samples.at(-1);
    if (prev && prev.boot !== s.boot) this.samples.length = 0; // a new kernel counts from zero
    this.bootIs(s.boot);
    const last = this.samples.at(-1);
    this.samples.push(s);
    if (this.samples.length > SAMPLES_MAX) this.samples.shift();
    this.kernelUp = true;
    this.lastStatAt = this.clock.now();
    const k = this.nodes.get(KERNEL_NODE)!;
    Object.assign(k, { state: "ready", pid: s.pid });
    this.edgesNow = last ? edgeRates(last, s) : [];
    const inbound = new Map<string, number>();
    for (const e of this.edgesNow) inbound.set(e.to, (inbound.get(e.to) ?? 0) + e.msgs_per_s);
    for (const n of this.nodes.values()) n.msgs_per_s = inbound.get(n.id) ?? 0;
  }

  /** No sample for three seconds: kernel-core (or NATS) is down as far as anyone can tell. */
  private kernelState(): State["kernel"] {
    const s = this.samples.at(-1);
    const up = this.kernelUp && this.clock.now() - this.lastStatAt < 3000;
    const k = this.nodes.get(KERNEL_NODE)!;
    k.state = up ? "ready" : "down";
    return {
      up,
      boot: s?.boot ?? null,
      pid: s?.pid ?? null,
      uptime_ms: s ? s.uptime_ms + Math.max(0, this.clock.now() - this.lastStatAt) : null,
    };
  }

  state(): State {
    this.flushExpired();
    const kernel = this.kernelState();
    const s = this.samples.at(-1);
    return {
      t: this.clock.now(),
      kernel,
      // With kernel-core silent, nothing the page showed of a service or the machine is
      // known any more: unknown, not the last state seen (NATS is this server's own link).
      nodes: [...this.nodes.values()].map((n) =>
        kernel.up || n.id === KERNEL_NODE || n.id === NATS_NODE ? { ...n } : { ...n, state: "unknown" },
      ),
      edges: kernel.up ? this.edgesNow : [],
      latency: this.latency(),
      paths: this.paths(),
      // The process table is the kernel's: with kernel-core silent it is not shown as if current.
      sched: kernel.up && s?.processes ? schedRows(s.processes) : null,
      workload: this.workload,
    };
  }

  /** Per message type, over the samples of the last minute. */
  private latency(): LatencyRow[] {
    return this.windowed(
      (x) => x.latency.map((r) => ({ ...r, key: r.type })),
      (path, q, count) => ({ path, ...q, count, waiting: WAITS_BY_DESIGN.has(path) }),
    );
  }

  /** Per IPC path (trap, reply-direct, channel, in-kernel), over the samples of the last minute. */
  private paths(): PathRow[] {
    return this.windowed(
      (x) => (x.paths ?? []).map((r) => ({ ...r, key: r.path })),
      (path, q, count) => ({ path, ...q, count }),
    );
  }

  /** Histogram rows of the newest sample less those of the one a minute older: what the last minute counted. */
  private windowed<R>(
    rowsOf: (s: KernelStat) => { key: string; count: number; buckets: number[] }[],
    make: (key: string, q: { p50_us: number | null; p99_us: number | null }, count: number) => R & { count: number },
  ): R[] {
    const s = this.samples.at(-1);
    if (!s) return [];
    const old = this.samples.find((x) => s.at - x.at <= LATENCY_WINDOW_MS && x !== s) ?? undefined;
    const before = new Map((old ? rowsOf(old) : []).map((r) => [r.key, r]));
    const rows: (R & { count: number })[] = [];
    for (const r of rowsOf(s)) {
      const b = before.get(r.key);
      const counts = r.buckets.map((c, i) => c - (b?.buckets[i] ?? 0));
      const count = r.count - (b?.count ?? 0);
      if (count <= 0) continue;
      rows.push(make(r.key, { p50_us: quantileUs(counts, count, 0.5), p99_us: quantileUs(counts, count, 0.99) }, count));
    }
    return rows.sort((a, b) => b.count - a.count);
  }
}

/** Messages per second on each edge between two samples of one boot. */
export function edgeRates(a: KernelStat, b: KernelStat): Edge[] {
  const dt = (b.at - a.at) / 1000;
  if (dt <= 0) return [];
  const before = new Map(a.edges.map(([f, t, n]) => [`${f}>${t}`, n]));
  const out: Edge[] = [];
  for (const [from, to, n] of b.edges) {
    const d = n - (before.get(`${from}>${to}`) ?? 0);
    if (d > 0) out.push({ from: nodeId(from), to: nodeId(to), msgs_per_s: Math.round((d / dt) * 10) / 10 });
  }
  return out;
}

/** A quantile from bucket counts, interpolated inside its bucket (what Prometheus's histogram_quantile does). */
export function quantileUs(counts: number[], total: number, q: number): number | null {
  if (total <= 0) return null;
  const rank = q * total;
  let acc = 0;
  for (let i = 0; i < counts.length; i++) {
    if (acc + counts[i] >= rank && counts[i] > 0) {
      const lo = i === 0 ? 0 : LATENCY_BUCKETS_S[i - 1];
      const hi = i < LATENCY_BUCKETS_S.length ? LATENCY_BUCKETS_S[i] : LATENCY_BUCKETS_S[LATENCY_BUCKETS_S.length - 1];
      const within = i < LATENCY_BUCKETS_S.length ? (rank - acc) / counts[i] : 1;
      return Math.round((lo + (hi - lo) * within) * 1e6);
    }
    acc += counts[i];
  }
  return null;
}

function schedRows(raw: unknown[]): SchedRow[] {
  const out: SchedRow[] = [];
  for (const r of raw) {
    if (typeof r !== "object" || r === null) continue;
    const p: Partial<Record<keyof ProcessInfo, unknown>> = { ...r };
    if (typeof p.label !== "string" || typeof p.pid !== "number") continue;
    const num = (v: unknown) => (typeof v === "number" && Number.isFinite(v) ? v : 0);
    out.push({
      label: p.label,
      pid: p.pid,
      state: typeof p.state === "string" ? p.state : "?",
      priority: num(p.priority),
      quantum_ms: num(p.quantum_ms),
      cpu_pct: num(p.cpu_pct),
      switches: num(p.voluntary) + num(p.involuntary),
    });
  }
  return out;
}
