// sys_sdevio: string I/O (rep insw/outsw), a whole sector or more in one kernel call.
import { SysCall as K } from "#abi";
import type { Sys } from "../sys.ts";

export type StringOp = "insb" | "insw" | "insl" | "outsb" | "outsw" | "outsl";

export async function sysSdevio(sys: Sys, op: StringOp, port: number, count: number, data?: Uint8Array): Promise<Uint8Array> {
  const r = await sys.kernelCall(K.SYS_SDEVIO, { op, port, count }, data);
  return r.data;
}
