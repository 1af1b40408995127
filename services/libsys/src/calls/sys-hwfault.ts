// sys_hwfault: inject or clear a hardware fault in the emulator (chaos; granted as hwfault).
import { SysCall, type HwFaultRequest } from "#abi";
import type { Sys } from "../sys.ts";

export async function sysHwfault(sys: Sys, fault: HwFaultRequest): Promise<void> {
  await sys.kernelCall(SysCall.SYS_HWFAULT, { ...fault });
}
