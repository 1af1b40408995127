// Port rights: every port a call touches must be in the caller's io ranges. A denial is
// EPERM naming the port; the kernel counts, logs and publishes it (a denied event).
import { DenialKind, MkError } from "#abi";
import { portAllowed } from "#base/system-table.ts";
import type { CallContext, KernelState } from "./context.ts";

export function checkPort(k: Pick<KernelState, "deny">, c: CallContext, call: string, port: number): void {
  if (portAllowed(c.privileges, port)) return;
  const hex = `0x${port.toString(16)}`;
  k.deny({
    label: c.label,
    entry: c.caller,
    call,
    denied: DenialKind.PORT,
    target: hex,
    errno: "EPERM",
    fields: { reqId: c.reqId },
    message: `${call}: port ${hex} not allowed for ${c.label}`,
  });
  throw new MkError("EPERM", `${call}: port ${hex} not allowed for ${c.label}`, { detail: { arg: call, port, label: c.label } });
}
