// The dashboard contract's shapes (docs/dashboard.md), as the page uses them after parsing.

export type {
  Edge,
  EndpointNode,
  KernelInfo,
  LatencyRow,
  Meta,
  PathRow,
  SchedRow,
  State,
  TimelineEntry,
  WorkloadInfo as Workload,
} from "../../src/contract.ts";

export const NodeKind = {
  NATS: "nats",
  KERNEL: "kernel",
  HARDWARE: "hardware",
  DRIVER: "driver",
  SERVER: "server",
  PROGRAM: "program",
} as const;
export type NodeKind = (typeof NodeKind)[keyof typeof NodeKind];

export interface ExperimentEvent {
  name: string;
  status: string;
  summary: [string, string][];
}

export interface ApiError {
  code: string;
  message: string;
}
