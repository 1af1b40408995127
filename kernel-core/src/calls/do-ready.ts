// SYS_READY: the caller's init callback finished; messages queued for it flow now.
import type { SysCall } from "#abi";
import type { KernelCall } from "./context.ts";

export const doReady: KernelCall<typeof SysCall.SYS_READY, "log" | "logLimiter" | "table"> = (k, c) => {
  if (c.caller && c.caller.state === "starting") {
    k.table.ready(c.caller);
    const key = c.caller.key;
    k.logLimiter.allow(k.log, `ready:${c.label}`, () => k.log.info({ incarnation: key }, "incarnation %s ready", key));
  }
  return {};
};
