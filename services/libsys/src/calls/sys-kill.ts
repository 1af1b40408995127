// sys_kill: a signal to the live process of a label the caller may message (chaos: kill
// and hang, the shell's kill). The kernel verifies the process is the label's own.
import { SysCall as K } from "#abi";
import type { Sys } from "../sys.ts";

export type KillSignalName = "KILL" | "TERM" | "STOP" | "CONT";

/** The pid signalled. ESRCH: no live incarnation; EPERM: kernel placement or unverifiable. */
export async function sysKill(sys: Sys, label: string, signal: KillSignalName): Promise<{ pid: number }> {
  const r = await sys.kernelCall(K.SYS_KILL, { label, signal });
  return { pid: r.args.pid };
}
