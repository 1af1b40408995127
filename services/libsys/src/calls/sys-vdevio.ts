// sys_vdevio: many port reads and writes in one kernel call (do-vdevio.ts). String ops
// may appear in the vector too: their bytes travel in the body, in order.
import { SysCall as K } from "#abi";
import type { Sys } from "../sys.ts";

type VecOp = "inb" | "inw" | "inl" | "outb" | "outw" | "outl" | "insb" | "insw" | "insl" | "outsb" | "outsw" | "outsl";
/** [op, port, value]: value is the byte/word written, or the unit count of a string op. */
export type PortVector = [VecOp, number, number][];

export async function sysVdevio(
  sys: Sys,
  ops: PortVector,
  data?: Uint8Array,
  timeoutMs?: number,
): Promise<{ values: number[]; data: Uint8Array }> {
  const r = await sys.kernelCall(K.SYS_VDEVIO, { ops }, data, timeoutMs);
  return { values: r.args.values, data: r.data };
}
