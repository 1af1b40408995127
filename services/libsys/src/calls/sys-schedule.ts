// sys_schedule, sys_nice and the process table: the scheduling kernel calls.
import { MkError, SysCall as K, type ProcessInfo, type SchedSummary } from "#abi";
import type { Sys } from "../sys.ts";

/** The sched server sets endpoint's queue and quantum (EINVAL out of range: nothing changes). */
export async function sysSchedule(sys: Sys, endpoint: string, priority: number, quantumMs: number): Promise<void> {
  await sys.kernelCall(K.SYS_SCHEDULE, { endpoint, priority, quantum_ms: quantumMs });
}

/** label's nice value, for its incarnations from now on. */
export async function sysNice(sys: Sys, label: string, nice: number): Promise<number> {
  const r = await sys.kernelCall(K.SYS_NICE, { label, nice });
  return r.args.nice;
}

/** The kernel's process table and the scheduler's summary (getinfo processes). */
export async function sysGetProcesses(sys: Sys): Promise<{ processes: ProcessInfo[]; sched: SchedSummary }> {
  const r = await sys.kernelCall(K.SYS_GETINFO, { what: "processes" });
  if (!r.args.sched) throw new MkError("EIO", "getinfo processes: the kernel's reply has no scheduler summary");
  return { processes: r.args.processes ?? [], sched: r.args.sched };
}
