// The kernel call table: call number -> handler, one commented line each (MINIX's
// system.c map()). Names, grants and body rules are the ABI's KernelCalls table.
import { SysCall, type KernelCallType } from "#abi";
import type { KernelCall } from "./context.ts";
import { doChannel } from "./do-channel.ts";
import { doDevaccess } from "./do-devaccess.ts";
import { doDevio } from "./do-devio.ts";
import { doGetinfo } from "./do-getinfo.ts";
import { doHello } from "./do-hello.ts";
import { doHwfault } from "./do-hwfault.ts";
import { doIpcstat } from "./do-ipcstat.ts";
import { doIrqctl } from "./do-irqctl.ts";
import { doKill } from "./do-kill.ts";
import { doExit } from "./do-exit.ts";
import { doNice } from "./do-nice.ts";
import { doReady } from "./do-ready.ts";
import { doSchedule } from "./do-schedule.ts";
import { doSdevio } from "./do-sdevio.ts";
import { doVdevio } from "./do-vdevio.ts";

export const callTable: { readonly [T in KernelCallType]: KernelCall<T> } = {
  [SysCall.SYS_DEVIO]: doDevio, // inb/outb/inw/outw/inl/outl on one port
  [SysCall.SYS_VDEVIO]: doVdevio, // a vector of port reads/writes, atomic on the bus
  [SysCall.SYS_SDEVIO]: doSdevio, // rep ins/outs: a sector or more in one call
  [SysCall.SYS_IRQCTL]: doIrqctl, // set/remove policy, enable/disable an IRQ line
  [SysCall.SYS_GETINFO]: doGetinfo, // endpoint table, wait for an endpoint, own privileges
  [SysCall.SYS_HELLO]: doHello, // a new incarnation: assign label#generation
  [SysCall.SYS_READY]: doReady, // the incarnation serves from now on
  [SysCall.SYS_EXIT]: doExit, // the incarnation stops of its own accord
  [SysCall.SYS_HWFAULT]: doHwfault, // a hardware fault in the emulator (chaos)
  [SysCall.SYS_SCHEDULE]: doSchedule, // the policy server sets an endpoint's queue and quantum
  [SysCall.SYS_NICE]: doNice, // a label's nice value (mkctl nice)
  [SysCall.SYS_KILL]: doKill, // a signal to a label's live process (chaos: kill, hang)
  [SysCall.SYS_DEVACCESS]: doDevaccess, // for a driver: who may use which area of its disk, who may read its input
  [SysCall.SYS_CHANNEL]: doChannel, // a direct channel to one incarnation, where the table's paths say so
  [SysCall.SYS_IPCSTAT]: doIpcstat, // the caller's round trips by path, for the per-path latency
};
