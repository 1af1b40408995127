// SYS_READY: the caller's init callback finished; messages queued for it flow now.
import type { KernelCall } from "./context.ts";

export const doReady: KernelCall = (k, c) => {
  if (c.caller) {
    k.table.ready(c.caller);
    k.log.info({ incarnation: c.caller.key }, "incarnation %s ready", c.caller.key);
  }
  return {};
};
