// SYS_HELLO: a new incarnation announces itself. It becomes label#(generation+1); the
// previous incarnation, if still registered, is dead from now on.
import type { KernelCall } from "./context.ts";

export const doHello: KernelCall = (k, c) => {
  const { pid, host, cid } = c.args as { pid: number; host: string; cid: number };
  const { entry, previous } = k.table.incarnate(c.label, { placement: c.origin, pid, host, cid });
  k.log.info({ incarnation: entry.key, pid, host, previous }, "incarnation %s starting", entry.key);
  return { args: { generation: entry.generation, previous } };
};
