// The dashboard's wire shapes (docs/dashboard.md), one copy for the server (model.ts) and
// the page (web/src/types.ts): types only, no imports, so the browser build takes them too.

export type NodeKind = "nats" | "kernel" | "hardware" | "driver" | "server" | "program";

export interface KernelInfo {
  up: boolean;
  boot: string | null;
  pid: number | null;
  uptime_ms: number | null;
}

/** A node of the topology and a row of the endpoint table. */
export interface EndpointNode {
  id: string;
  kind: NodeKind;
  placement: "user" | "kernel";
  state: string;
  generation: number | null;
  pid: number | null;
  host: string | null;
  restarts: number;
  last_cause: string | null;
  recover_ms: number | null;
  msgs_per_s: number;
}
export interface Edge {
  from: string;
  to: string;
  msgs_per_s: number;
}
export interface LatencyRow {
  path: string;
  p50_us: number | null;
  p99_us: number | null;
  count: number;
  /** A message that waits by design (a read of the console waits for a typed line): its time is waiting, not serving. */
  waiting: boolean;
}
/** Round trips by IPC path over the last minute, as the callers measured them (SYS_IPCSTAT). */
export interface PathRow {
  path: string;
  p50_us: number | null;
  p99_us: number | null;
  count: number;
}
export interface SchedRow {
  label: string;
  pid: number;
  state: string;
  priority: number;
  quantum_ms: number;
  cpu_pct: number;
  switches: number;
}
export interface WorkloadInfo {
  rate: number;
  ops: number;
  failed: number;
  bytes_verified: number;
  last_error: string | null;
  /** When these counts were read (ms since the epoch): older than a few seconds, they are stale. */
  at: number;
}
export interface State {
  t: number;
  kernel: KernelInfo;
  nodes: EndpointNode[];
  edges: Edge[];
  latency: LatencyRow[];
  paths: PathRow[];
  sched: SchedRow[] | null;
  workload: WorkloadInfo | null;
}
type TimelineKind =
  | "started"
  | "ready"
  | "dead"
  | "denied"
  | "recovered"
  | "fault"
  | "hw-fault"
  | "sched"
  | "panic"
  | "experiment"
  | "workload";
export interface TimelineEntry {
  t: number;
  kind: TimelineKind;
  label: string | null;
  generation: number | null;
  cause: string | null;
  mttr_ms: number | null;
  text: string;
}
export interface Meta {
  labels: string[];
  faults: string[];
  hw_faults: string[];
  experiments: { name: string; title: string }[];
  workload: { max_rate: number };
}
