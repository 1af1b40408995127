// sys_irqsetpolicy/sys_irqenable/sys_irqdisable: claim an IRQ line; its interrupts
// then arrive as notifications from "hardware" with bit (1 << irq) set.
import { SysCall as K } from "#abi";
import type { Sys } from "../sys.ts";

export async function sysIrqSetPolicy(sys: Sys, irq: number, policy: number): Promise<void> {
  await sys.kernelCall(K.SYS_IRQCTL, { request: "setpolicy", irq, policy });
}
export async function sysIrqRmPolicy(sys: Sys, irq: number): Promise<void> {
  await sys.kernelCall(K.SYS_IRQCTL, { request: "rmpolicy", irq });
}
export async function sysIrqEnable(sys: Sys, irq: number): Promise<void> {
  await sys.kernelCall(K.SYS_IRQCTL, { request: "enable", irq });
}
export async function sysIrqDisable(sys: Sys, irq: number): Promise<void> {
  await sys.kernelCall(K.SYS_IRQCTL, { request: "disable", irq });
}
