// sys_inb/sys_outb and friends: one port access through the kernel (do-devio.ts).
import { SysCall as K } from "#abi";
import type { Sys } from "../sys.ts";

export type PortOp = "inb" | "inw" | "inl" | "outb" | "outw" | "outl";

export async function sysDevio(sys: Sys, op: PortOp, port: number, value?: number): Promise<number> {
  const r = await sys.kernelCall(K.SYS_DEVIO, value === undefined ? { op, port } : { op, port, value });
  return r.args.value;
}
