// The kernel call table: call number -> handler, one commented line each (MINIX's
// system.c map()). A caller may make a call only if its privileges list it.
import { Sys } from "#abi";
import type { KernelCall } from "./context.ts";
import { doDevio } from "./do-devio.ts";
import { doGetinfo } from "./do-getinfo.ts";
import { doHello } from "./do-hello.ts";
import { doIrqctl } from "./do-irqctl.ts";
import { doReady } from "./do-ready.ts";
import { doSdevio } from "./do-sdevio.ts";
import { doVdevio } from "./do-vdevio.ts";

export const callTable: Readonly<Record<number, KernelCall>> = {
  [Sys.SYS_DEVIO]: doDevio, // inb/outb/inw/outw/inl/outl on one port
  [Sys.SYS_VDEVIO]: doVdevio, // a vector of port reads/writes, atomic on the bus
  [Sys.SYS_SDEVIO]: doSdevio, // rep ins/outs: a sector or more in one call
  [Sys.SYS_IRQCTL]: doIrqctl, // set/remove policy, enable/disable an IRQ line
  [Sys.SYS_GETINFO]: doGetinfo, // endpoint table, wait for an endpoint, own privileges
  [Sys.SYS_HELLO]: doHello, // a new incarnation: assign label#generation
  [Sys.SYS_READY]: doReady, // the incarnation serves from now on
};

export const callNames: Readonly<Record<number, string>> = {
  [Sys.SYS_DEVIO]: "devio",
  [Sys.SYS_VDEVIO]: "vdevio",
  [Sys.SYS_SDEVIO]: "sdevio",
  [Sys.SYS_IRQCTL]: "irqctl",
  [Sys.SYS_GETINFO]: "getinfo",
  [Sys.SYS_HELLO]: "hello",
  [Sys.SYS_READY]: "ready",
};
