// The chaos runner's shapes and helpers: the journal and its report (faults by kind,
// detections and how, recoveries, time to detect and to serve again, user operations
// attempted and failed, bytes verified, kernel restarts), the targets a run acts on (a
// process-mode system or, in compose-target.ts, a compose stack), the derived privilege
// table for a booted run, and the report as a table. The run itself: experiment-run.ts.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { MkError, parseShape, RecoveryShape, WORKLOAD_SETTLE_MAX_MS, Workload as WorkloadMsg, type RecoveryRecord } from "#abi";
import { loadCredential, systemClock, waitUntil, type Credential, type RunningService, type SystemTable } from "#libsys";
import { DEMO_SERVICES, deriveSystemYaml } from "#boot";
import { pidAlive, type ProcessSystem, PROJECT_ROOT } from "#boot";
import type { Experiment, ProbeName } from "./experiment.ts";
import type { WorkloadStats } from "#workload";

export interface Pct {
  p50: number | null;
  p99: number | null;
  max: number | null;
}

export interface Report {
  faults_injected: number;
  faults_by_kind: Record<string, number>;
  faults_by_target: Record<string, number>;
  detections: number;
  detections_by_how: Record<string, number>;
  /** Each workload's own operations and verified bytes (the totals above add them). */
  by_workload: Record<string, { ops_attempted: number; ops_failed: number; bytes_verified: number; bytes_wrong: number }>;
  /** label -> how its deaths were found ("exit", "heartbeat", "start-timeout"...) -> count. */
  detections_by_target: Record<string, Record<string, number>>;
  recoveries: number;
  detect_ms: Pct;
  recover_ms: Pct;
  /** Hangs rs found later than two heartbeat periods and two of its quarter-period ticks, plus 100 ms, after the last answer. */
  hangs_detected_late: number;
  ops_attempted: number;
  ops_failed: number;
  ops_retried: number;
  corrupt_replies_caught: number;
  bytes_written: number;
  bytes_verified: number;
  bytes_wrong: number;
  kernel_restarts: number;
  kernel_uptime_ms: number | null;
  /** The emulator's process changed during the run (it must not: no fault aims at it). */
  hardware_restarts: number;
  /** kernel-core died and nothing brought it back: the monolithic outcome. */
  system_down: boolean;
  hardware_faults_observed: string[];
  errors: string[];
}

export interface ProbeResult {
  name: string;
  probe: ProbeName;
  tolerance: boolean;
  value: boolean;
  within: boolean;
  detail?: string;
}

export interface Journal {
  title: string;
  experiment: string;
  seed: number;
  status: "completed" | "deviated" | "aborted";
  deviated: boolean;
  start: string;
  end: string;
  duration_ms: number;
  steady_state: { before: ProbeResult[]; after: ProbeResult[] | null };
  run: { name: string; fault?: string; target?: string; at: string; generation?: number; note?: string }[];
  rollbacks: { name: string; fault: string; target: string; at: string; note?: string }[];
  report: Report;
}

/** What the runner needs of a running mkos: process mode (ProcessSystem) or compose (compose-target.ts). */
export interface ChaosTarget {
  readonly table: SystemTable;
  /** kernel-core answers (its /readyz, or its statistics for a target inside the system). */
  kernelReady(): Promise<boolean>;
  /** When the live kernel-core started (epoch ms), if known. */
  kernelStartedAt(): Promise<number | null>;
  /** The credential of label (the runner's own is `chaos`, unless RunOptions.client is given). */
  credential(label: string): Credential;
  /** SIGKILL or SIGSTOP to a service's own process. */
  signal(label: string, signal: NodeJS.Signals): void;
  /** Names the current process of kernel-core or the emulator: it changes when one restarts. */
  incarnation(part: "kernel" | "hardware"): string | undefined;
  alive(part: "kernel" | "hardware"): boolean;
  /** kernel-core SIGKILLed and started again (the restart fault); resolves once the new one answers. */
  restartKernel(): Promise<void>;
  /** Placements and restart policies come from the experiment only when the runner boots the system. */
  readonly booted: boolean;
}

/** A process-mode system as a chaos target. */
export function processTarget(sys: ProcessSystem, booted = false): ChaosTarget {
  return {
    table: sys.table,
    ...kernelOverHttp(sys.state.kernelHttp),
    booted,
    credential: (label) => loadCredential(sys.credFile(label)),
    signal: (label, signal) => void sys.kill(label, signal),
    incarnation: (part) => (sys.pidOf(part) === undefined ? undefined : String(sys.pidOf(part))),
    alive: (part) => sys.alive()[part] === true,
    async restartKernel() {
      const pid = sys.kill("kernel", "SIGKILL");
      await waitUntil(() => (pidAlive(pid) ? undefined : true), {
        clock: systemClock,
        deadlineMs: 10_000,
        what: `kernel-core (pid ${pid}) gone`,
      });
      await sys.start("kernel");
    },
  };
}

/** kernel-core's readiness and start time from its HTTP face (/readyz, /metrics). */
export function kernelOverHttp(base: string): Pick<ChaosTarget, "kernelReady" | "kernelStartedAt"> {
  return {
    kernelReady: () =>
      fetch(`${base}/readyz`).then(
        (x) => x.ok,
        () => false,
      ),
    async kernelStartedAt() {
      const text = await fetch(`${base}/metrics`).then(
        (x) => x.text(),
        () => "",
      );
      const m = /process_start_time_seconds (\d+(?:\.\d+)?)/.exec(text);
      return m ? Math.round(Number(m[1]) * 1000) : null;
    },
  };
}

export interface RunOptions {
  /** A running process-mode system to use; otherwise one is booted for the run and stopped after. */
  attach?: ProcessSystem;
  /** Any other running system (compose). */
  target?: ChaosTarget;
  log?: (line: string) => void;
  /** Run as this connection (the dashboard's own) instead of connecting as chaos; it is left open. */
  client?: RunningService;
}

/** RS_RECOVERIES's body: a JSON array, each entry checked against the ABI's shape. */
export function recoveriesOf(data: Uint8Array): RecoveryRecord[] {
  let raw: unknown;
  try {
    raw = JSON.parse(new TextDecoder().decode(data));
  } catch {
    throw new MkError("EBADREQUEST", "rs's recoveries are not JSON");
  }
  if (!Array.isArray(raw) || raw.length > 1024) throw new MkError("EBADREQUEST", "rs's recoveries are not a list of at most 1024");
  return raw.map((x) => parseShape(RecoveryShape.fields, x));
}

/** mulberry32: a small seeded generator, so a run's choices repeat. */
/** The block and the file workloads' stats together. */
export function addStats(a: WorkloadStats | undefined, b: WorkloadStats | undefined): WorkloadStats | undefined {
  if (!a || !b) return a ?? b;
  const sum = { ...a, errors: [...a.errors, ...b.errors].slice(0, 20) };
  for (const k of [
    "ops_attempted",
    "ops_failed",
    "ops_unfinished",
    "ops_retried",
    "corrupt_replies",
    "bytes_written",
    "bytes_verified",
    "bytes_wrong",
  ] as const)
    sum[k] = a[k] + b[k];
  return sum;
}

export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function percentiles(xs: number[]): Pct {
  if (xs.length === 0) return { p50: null, p99: null, max: null };
  const s = [...xs].sort((a, b) => a - b);
  const at = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))];
  return { p50: Math.round(at(0.5)), p99: Math.round(at(0.99)), max: Math.round(s[s.length - 1]) };
}

/** The privilege table for a run: the shipped one with the experiment's placements and restart policies. */
export function experimentSystemYaml(exp: Experiment): string {
  return deriveSystemYaml(readFileSync(join(PROJECT_ROOT, "etc", "system.yaml"), "utf8"), {
    httpPort: 0,
    sectors: 32768,
    placement: exp.system.placement,
    restart: exp.system.restart,
    unstarted: DEMO_SERVICES,
  });
}

/** The demo workload's label (services/workload), paused while an experiment runs on a running system. */
export const DEMO_WORKLOAD = "workload";

/** WORKLOAD_PAUSE for ms (0 ends this runner's pause); undefined once taken, else why not (not running, not this client's to ask, no answer). */
export async function pauseDemo(c: RunningService, ms: number): Promise<string | undefined> {
  try {
    // Its answer waits for the operation under way, at most WORKLOAD_SETTLE_MAX_MS.
    await c.sys.sendrec(DEMO_WORKLOAD, WorkloadMsg.WORKLOAD_PAUSE, { ms }, undefined, WORKLOAD_SETTLE_MAX_MS + 15_000);
    return undefined;
  } catch (e) {
    return `${(e as { errno?: string }).errno ?? ""} ${(e as Error).message}`.trim();
  }
}

/** The report as a table for a terminal. */
export function summary(j: Journal): string {
  const rows = summaryRows(j);
  const w = Math.max(...rows.map(([k]) => k.length));
  return [`${j.title}`, ...rows.map(([k, v]) => `  ${k.padEnd(w)}  ${v}`)].join("\n");
}

/** The report's rows, name and value (the terminal's table, the dashboard's). */
export function summaryRows(j: Journal): [string, string][] {
  const r = j.report;
  const pct = (p: Pct) => (p.p50 === null ? "-" : `p50 ${p.p50} ms, p99 ${p.p99} ms, max ${p.max} ms`);
  const rows: [string, string][] = [
    ["status", `${j.status}${j.deviated ? " (the steady state did not hold)" : ""}`],
    ["duration", `${(j.duration_ms / 1000).toFixed(1)} s, seed ${j.seed}`],
    [
      "faults injected",
      `${r.faults_injected} (${Object.entries(r.faults_by_kind)
        .map(([k, n]) => `${k} ${n}`)
        .join(", ")})`,
    ],
    [
      "faults by target",
      Object.entries(r.faults_by_target)
        .map(([k, n]) => `${k} ${n}`)
        .join(", ") || "-",
    ],
    [
      "detections",
      `${r.detections} (${
        Object.entries(r.detections_by_how)
          .map(([k, n]) => `${k} ${n}`)
          .join(", ") || "-"
      })`,
    ],
    ["recoveries", String(r.recoveries)],
    ["time to detect", pct(r.detect_ms)],
    ["time to serve again", pct(r.recover_ms)],
    ["hangs detected late", String(r.hangs_detected_late)],
    [
      "user operations",
      `${r.ops_attempted} attempted, ${r.ops_failed} failed (or never answered), ${r.ops_retried} resent, ${r.corrupt_replies_caught} corrupt replies caught`,
    ],
    ["bytes", `${r.bytes_written} written, ${r.bytes_verified} verified, ${r.bytes_wrong} wrong`],
    [
      "kernel-core",
      r.system_down
        ? "DOWN: the system did not survive"
        : `${r.kernel_restarts} restarts, up ${r.kernel_uptime_ms === null ? "?" : `${(r.kernel_uptime_ms / 1000).toFixed(1)} s`}; emulator ${r.hardware_restarts} restarts`,
    ],
  ];
  if (r.hardware_faults_observed.length) rows.push(["hardware faults", r.hardware_faults_observed.slice(0, 5).join("; ")]);
  for (const p of [
    ...j.steady_state.before.map((x) => ["before", x] as const),
    ...(j.steady_state.after ?? []).map((x) => ["after", x] as const),
  ]) {
    if (!p[1].within)
      rows.push([`probe ${p[1].name} (${p[0]})`, `${p[1].value} (wanted ${p[1].tolerance})${p[1].detail ? `: ${p[1].detail}` : ""}`]);
  }
  if (r.errors.length) rows.push(["errors", r.errors.slice(0, 5).join("; ")]);
  return rows;
}
