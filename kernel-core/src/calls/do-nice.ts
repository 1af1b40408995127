// SYS_NICE: mkctl nice <label> <n>. The nice value belongs to the label (every
// incarnation from now on); the policy server reads it at each quantum's end (the
// weighted fair share turns it into a quantum). The kernel itself has no nice value.
import { KERNEL, MkError, type SysCall } from "#abi";
import type { KernelCall } from "./context.ts";

export const doNice: KernelCall<typeof SysCall.SYS_NICE, "priv" | "sched"> = (k, c) => {
  const { label, nice } = c.args;
  if (label === KERNEL) throw new MkError("EPERM", "kernel-core is not scheduled: it has no nice value");
  if (!k.priv.services.has(label)) throw new MkError("EBADSRCDST", `no service ${JSON.stringify(label)} in the privilege table`);
  k.sched.nice(label, nice);
  return { args: { nice } };
};
