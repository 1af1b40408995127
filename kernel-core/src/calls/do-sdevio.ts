// SYS_SDEVIO: string I/O, rep ins/outs on one port: a whole sector in one call.
import { MkError, stringOpBytes, type SysCall } from "#abi";
import type { KernelCall } from "./context.ts";
import { checkPort } from "./port-check.ts";

export const doSdevio: KernelCall<typeof SysCall.SYS_SDEVIO, "deny" | "hw"> = async (k, c) => {
  const { op, port, count } = c.args;
  checkPort(k, c, "sdevio", port);
  const bytes = stringOpBytes(op, count);
  if (op.startsWith("outs") && c.data.length !== bytes) {
    throw new MkError("EBADREQUEST", `sdevio ${op}: body has ${c.data.length} bytes, count ${count} needs ${bytes}`, {
      detail: { arg: "body", limit: bytes, got: c.data.length },
    });
  }
  const r = await k.hw.io([[op, port, count]], op.startsWith("outs") ? c.data : undefined, c.trace);
  return { args: { count }, data: r.data };
};
