// SYS_GETINFO: the endpoint table; one endpoint, optionally waiting for a generation
// newer than `after` to be ready (how a client rides out a driver restart); or the
// caller's own privileges; or the process table (the scheduler's rows and summary).
import { MkError, type SysCall } from "#abi";
import { privilegeSummary } from "#base/system-table.ts";
import type { KernelCall } from "./context.ts";

export const doGetinfo: KernelCall<typeof SysCall.SYS_GETINFO, "endpointRows" | "priv" | "sched" | "table"> = async (k, c) => {
  const { what, label, after, waitMs } = c.args;
  if (what === "endpoints") return { args: { endpoints: k.endpointRows() } };
  if (what === "processes") return { args: { processes: k.sched.rows(), sched: k.sched.summary() } };
  if (what === "privileges") {
    const p = c.privileges;
    return { args: { privileges: { label: p.label, placement: p.placement, ...privilegeSummary(p) } } };
  }
  if (!label) throw new MkError("EBADREQUEST", "getinfo endpoint needs a label");
  if (!k.priv.services.has(label) && label !== "kernel") throw new MkError("EBADSRCDST", `no service ${label}`);
  // A waiter belongs to its caller: it is dropped when the caller dies (EDEADSRCDST).
  const entry = waitMs ? await k.table.waitReady(label, after ?? 0, waitMs, c.caller?.key) : k.table.get(label);
  const row = entry ? k.endpointRows().find((r) => r.endpoint === entry.key) : undefined;
  return { args: { endpoints: row ? [row] : [] } };
};
