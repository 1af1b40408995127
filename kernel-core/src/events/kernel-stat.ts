// The statistics sample kernel-core publishes on mk.stat once a second (abi/stat.ts): the
// dashboard's rates, latencies and scheduler view come from it instead of scraping
// /metrics in a loop. Built from counters the trap path keeps anyway; a sample is a few
// kilobytes (edges are bounded by the privilege table's labels).
import type { KernelStat } from "#abi";
import type { Clock } from "#base/clock.ts";
import type { SystemTable } from "#base/system-table.ts";
import type { KernelMetrics } from "../metrics/metrics.ts";
import type { Scheduler } from "../sched/scheduler.ts";

/** What a sample is read from (the kernel's state has it): a narrow port, not the whole state. */
export interface StatSource {
  readonly clock: Clock;
  readonly boot: string;
  readonly priv: SystemTable;
  readonly metrics: Pick<KernelMetrics, "edges" | "latency" | "paths">;
  readonly sched: Pick<Scheduler, "rows">;
}

export function kernelStat(k: StatSource, startedMs: number): KernelStat {
  const now = k.clock.now();
  return {
    boot: k.boot,
    pid: process.pid,
    at: Date.now(),
    uptime_ms: Math.max(0, Math.round(now - startedMs)),
    edges: k.metrics.edges(),
    latency: k.metrics.latency.rows().map(({ key, ...r }) => ({ type: key, ...r })),
    paths: k.metrics.paths.rows().map(({ key, ...r }) => ({ path: key, ...r })),
    processes: k.priv.kernel.sched.enabled ? k.sched.rows() : undefined,
  };
}
