// SYS_HWFAULT: inject or clear a hardware fault in the emulator (bad sector, lost or
// spurious IRQ, stuck BSY). Granted as `hwfault` (chaos): a caller never reaches the
// hardware bus itself; the kernel forwards the fault, and logs who armed it.
import type { SysCall } from "#abi";
import type { KernelCall } from "./context.ts";

export const doHwfault: KernelCall<typeof SysCall.SYS_HWFAULT, "hw" | "log"> = async (k, c) => {
  k.log.warn({ caller: c.caller?.key ?? c.label, fault: c.args, reqId: c.reqId }, "hardware fault %s armed by %s", c.args.fault, c.label);
  await k.hw.fault(c.args);
  return {};
};
