// SYS_DEVIO: one in/out of 8, 16 or 32 bits on a port the caller owns.
import { MkError, type SysCall } from "#abi";
import type { KernelCall } from "./context.ts";
import { checkPort } from "./port-check.ts";

export const doDevio: KernelCall<typeof SysCall.SYS_DEVIO, "deny" | "hw"> = async (k, c) => {
  const { op, port, value } = c.args;
  checkPort(k, c, "devio", port);
  const out = op.startsWith("out");
  if (out && value === undefined) throw new MkError("EBADREQUEST", `devio ${op} needs a value`);
  const r = await k.hw.io([[op, port, out ? value! : 0]], undefined, c.trace);
  return { args: { value: out ? 0 : (r.values[0] ?? 0) } };
};
