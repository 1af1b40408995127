// Port rights: every port a call touches must be in the caller's io ranges. A denial is
// EPERM naming the port, and is logged with caller, call and port.
import { MkError } from "#abi";
import { portAllowed } from "#base/system-table.ts";
import type { CallContext, KernelState } from "./context.ts";

export function checkPort(k: KernelState, c: CallContext, call: string, port: number): void {
  if (portAllowed(c.privileges, port)) return;
  const hex = `0x${port.toString(16)}`;
  k.metrics.denials.labels(call, "port").inc();
  k.log.warn({ caller: c.caller?.key ?? c.label, call, port: hex, reqId: c.reqId }, "%s: port %s not allowed for %s", call, hex, c.label);
  throw new MkError("EPERM", `${call}: port ${hex} not allowed for ${c.label}`);
}
