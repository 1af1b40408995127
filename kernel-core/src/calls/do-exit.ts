// SYS_EXIT: the caller ends of its own accord (a graceful stop). Its row is dead with
// cause "exit" before its connection closes, so the kernel does not count a crash.
import { DeathCause, type SysCall } from "#abi";
import type { KernelCall } from "./context.ts";

export const doExit: KernelCall<typeof SysCall.SYS_EXIT, "table"> = (k, c) => {
  if (c.caller) k.table.markDead(c.caller, DeathCause.EXIT);
  return {};
};
