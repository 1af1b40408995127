// SYS_VDEVIO: a vector of port operations executed atomically by the bus (MINIX
// sys_voutb and friends). String ops may be part of it; their bytes travel in the body.
import { MkError, stringOpBytes, type SysCall } from "#abi";
import type { KernelCall } from "./context.ts";
import { checkPort } from "./port-check.ts";

export const doVdevio: KernelCall<typeof SysCall.SYS_VDEVIO, "deny" | "hw"> = async (k, c) => {
  const { ops } = c.args;
  let outBytes = 0;
  for (const [, port] of ops) checkPort(k, c, "vdevio", port);
  for (const [op, , value] of ops) if (op.startsWith("outs")) outBytes += stringOpBytes(op, value);
  if (c.data.length !== outBytes) {
    throw new MkError("EBADREQUEST", `vdevio: body has ${c.data.length} bytes, the string outputs need ${outBytes}`);
  }
  const r = await k.hw.io(ops, c.data, c.trace);
  return { args: { values: r.values }, data: r.data };
};
