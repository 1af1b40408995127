// Turns what comes off the wire (JSON of unknown shape) into the typed contract, once, at
// the edge: a field of the wrong type becomes a ParseError instead of a NaN in a table.

import type {
  ApiError,
  Edge,
  EndpointNode,
  ExperimentEvent,
  KernelInfo,
  LatencyRow,
  PathRow,
  Meta,
  NodeKind,
  SchedRow,
  State,
  TimelineEntry,
  Workload,
} from "./types.ts";

class ParseError extends Error {
  override name = "ParseError";
}

type Obj = Record<string, unknown>;

function obj(v: unknown, what: string): Obj {
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw new ParseError(`${what}: not an object`);
  return v as Obj;
}

function arr(v: unknown, what: string): unknown[] {
  if (!Array.isArray(v)) throw new ParseError(`${what}: not an array`);
  return v;
}

function num(o: Obj, k: string): number {
  const v = o[k];
  if (typeof v !== "number" || !Number.isFinite(v)) throw new ParseError(`${k}: not a number`);
  return v;
}

function numOrNull(o: Obj, k: string): number | null {
  const v = o[k];
  return v === null || v === undefined ? null : num(o, k);
}

function str(o: Obj, k: string): string {
  const v = o[k];
  if (typeof v !== "string") throw new ParseError(`${k}: not a string`);
  return v;
}

function strOrNull(o: Obj, k: string): string | null {
  const v = o[k];
  return v === null || v === undefined ? null : str(o, k);
}

const KINDS: readonly string[] = ["nats", "kernel", "hardware", "driver", "server", "program"];

function parseKernel(v: unknown): KernelInfo {
  const o = obj(v, "kernel");
  return { up: o.up === true, boot: strOrNull(o, "boot"), pid: numOrNull(o, "pid"), uptime_ms: numOrNull(o, "uptime_ms") };
}

function parseNode(v: unknown): EndpointNode {
  const o = obj(v, "node");
  const kind = str(o, "kind");
  return {
    id: str(o, "id"),
    // An unknown kind from a newer server is drawn as a program rather than dropped.
    kind: (KINDS.includes(kind) ? kind : "program") as NodeKind,
    placement: o.placement === "kernel" ? "kernel" : "user",
    state: str(o, "state"),
    generation: numOrNull(o, "generation"),
    pid: numOrNull(o, "pid"),
    host: strOrNull(o, "host"),
    restarts: numOrNull(o, "restarts") ?? 0,
    last_cause: strOrNull(o, "last_cause"),
    recover_ms: numOrNull(o, "recover_ms"),
    msgs_per_s: numOrNull(o, "msgs_per_s") ?? 0,
  };
}

function parseEdge(v: unknown): Edge {
  const o = obj(v, "edge");
  return { from: str(o, "from"), to: str(o, "to"), msgs_per_s: num(o, "msgs_per_s") };
}

function parseLatency(v: unknown): LatencyRow {
  const o = obj(v, "latency");
  return {
    path: str(o, "path"),
    p50_us: numOrNull(o, "p50_us"),
    p99_us: numOrNull(o, "p99_us"),
    count: num(o, "count"),
    waiting: o.waiting === true,
  };
}

function parsePath(v: unknown): PathRow {
  const o = obj(v, "paths");
  return { path: str(o, "path"), p50_us: numOrNull(o, "p50_us"), p99_us: numOrNull(o, "p99_us"), count: num(o, "count") };
}

function parseSched(v: unknown): SchedRow {
  const o = obj(v, "sched");
  return {
    label: str(o, "label"),
    pid: num(o, "pid"),
    state: str(o, "state"),
    priority: num(o, "priority"),
    quantum_ms: num(o, "quantum_ms"),
    cpu_pct: num(o, "cpu_pct"),
    switches: num(o, "switches"),
  };
}

function parseWorkload(v: unknown): Workload {
  const o = obj(v, "workload");
  return {
    rate: num(o, "rate"),
    ops: num(o, "ops"),
    failed: num(o, "failed"),
    bytes_verified: num(o, "bytes_verified"),
    last_error: strOrNull(o, "last_error"),
    at: num(o, "at"),
  };
}

export function parseState(v: unknown): State {
  const o = obj(v, "state");
  return {
    t: num(o, "t"),
    kernel: parseKernel(o.kernel),
    nodes: arr(o.nodes, "nodes").map(parseNode),
    edges: arr(o.edges ?? [], "edges").map(parseEdge),
    latency: arr(o.latency ?? [], "latency").map(parseLatency),
    paths: arr(o.paths ?? [], "paths").map(parsePath),
    sched: o.sched === null || o.sched === undefined ? null : arr(o.sched, "sched").map(parseSched),
    workload: o.workload === null || o.workload === undefined ? null : parseWorkload(o.workload),
  };
}

const TIMELINE_KINDS: readonly string[] = [
  "started",
  "ready",
  "dead",
  "denied",
  "recovered",
  "fault",
  "hw-fault",
  "sched",
  "panic",
  "experiment",
  "workload",
];

function timelineKind(k: string): TimelineEntry["kind"] {
  if (!TIMELINE_KINDS.includes(k)) throw new ParseError(`kind: ${JSON.stringify(k.slice(0, 20))} is not a timeline kind`);
  return k as TimelineEntry["kind"];
}

export function parseTimelineEntry(v: unknown): TimelineEntry {
  const o = obj(v, "timeline entry");
  return {
    t: num(o, "t"),
    kind: timelineKind(str(o, "kind")),
    label: strOrNull(o, "label"),
    generation: numOrNull(o, "generation"),
    cause: strOrNull(o, "cause"),
    mttr_ms: numOrNull(o, "mttr_ms"),
    text: strOrNull(o, "text") ?? "",
  };
}

export function parseHistory(v: unknown): TimelineEntry[] {
  return arr(v, "history").map(parseTimelineEntry);
}

export function parseExperiment(v: unknown): ExperimentEvent {
  const o = obj(v, "experiment");
  const rows = o.summary === undefined || o.summary === null ? [] : arr(o.summary, "summary");
  return {
    name: str(o, "name"),
    status: str(o, "status"),
    summary: rows.map((r) => {
      const pair = arr(r, "summary row");
      return [String(pair[0] ?? ""), formatCell(pair[1])] as [string, string];
    }),
  };
}

function formatCell(v: unknown): string {
  if (v === null || v === undefined) return "–";
  if (typeof v === "string") return v;
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  return JSON.stringify(v);
}

function strings(v: unknown, what: string): string[] {
  return arr(v ?? [], what).filter((s): s is string => typeof s === "string");
}

export function parseMeta(v: unknown): Meta {
  const o = obj(v, "meta");
  const wl = o.workload === undefined || o.workload === null ? { max_rate: 200 } : obj(o.workload, "workload");
  return {
    labels: strings(o.labels, "labels"),
    faults: strings(o.faults, "faults"),
    hw_faults: strings(o.hw_faults, "hw_faults"),
    experiments: arr(o.experiments ?? [], "experiments").map((e) => {
      const eo = obj(e, "experiment");
      const name = str(eo, "name");
      return { name, title: strOrNull(eo, "title") ?? name };
    }),
    workload: { max_rate: typeof wl.max_rate === "number" ? wl.max_rate : 200 },
  };
}

/** The server's `{"error": {code, message}}`, or null when the body is something else. */
export function parseApiError(v: unknown): ApiError | null {
  if (typeof v !== "object" || v === null) return null;
  const e = (v as Obj).error;
  if (typeof e !== "object" || e === null) return null;
  const eo = e as Obj;
  return { code: typeof eo.code === "string" ? eo.code : "EIO", message: typeof eo.message === "string" ? eo.message : "" };
}
