// sys_ipcstat: the round trips this process's sendrecs took since its last report, by
// path and destination, for the kernel's per-path latency (the dashboard, /metrics).
import { SysCall as K, type ReqArgs } from "#abi";
import type { Sys } from "../sys.ts";

/** EINVAL: a row names a label the caller may not message, or counts that do not add up. */
export async function sysIpcstat(sys: Sys, rows: ReqArgs<typeof K.SYS_IPCSTAT>["rows"]): Promise<void> {
  await sys.kernelCall(K.SYS_IPCSTAT, { rows }, undefined, 2000);
}
