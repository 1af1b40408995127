// The dashboard contract's shapes (docs/dashboard.md), as the page uses them after parsing.

export interface KernelInfo {
  up: boolean;
  boot: string | null;
  pid: number | null;
  uptime_ms: number | null;
}

export const NodeKind = {
  NATS: "nats",
  KERNEL: "kernel",
  HARDWARE: "hardware",
  DRIVER: "driver",
  SERVER: "server",
  PROGRAM: "program",
} as const;
export type NodeKind = (typeof NodeKind)[keyof typeof NodeKind];

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

export interface Workload {
  rate: number;
  ops: number;
  failed: number;
  bytes_verified: number;
  last_error: string | null;
}

export interface State {
  t: number;
  kernel: KernelInfo;
  nodes: EndpointNode[];
  edges: Edge[];
  latency: LatencyRow[];
  sched: SchedRow[] | null;
  workload: Workload | null;
}

export interface TimelineEntry {
  t: number;
  kind: string;
  label: string | null;
  generation: number | null;
  cause: string | null;
  mttr_ms: number | null;
  text: string;
}

export interface ExperimentEvent {
  name: string;
  status: string;
  summary: [string, string][];
}

export interface Meta {
  labels: string[];
  faults: string[];
  hw_faults: string[];
  experiments: { name: string; title: string }[];
  workload: { max_rate: number };
}

export interface ApiError {
  code: string;
  message: string;
}
