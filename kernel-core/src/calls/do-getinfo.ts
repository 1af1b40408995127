// SYS_GETINFO: the endpoint table; one endpoint, optionally waiting for a generation
// newer than `after` to be ready (how a client rides out a driver restart); or the
// caller's own privileges.
import { MkError } from "#abi";
import { privilegeSummary } from "#base/system-table.ts";
import type { KernelCall } from "./context.ts";

export const doGetinfo: KernelCall = async (k, c) => {
  const { what, label, after, waitMs } = c.args as { what: string; label?: string; after?: number; waitMs?: number };
  if (what === "endpoints") return { args: { endpoints: k.endpointRows() } };
  if (what === "privileges") {
    const p = c.privileges;
    return { args: { privileges: { label: p.label, placement: p.placement, ...privilegeSummary(p) } } };
  }
  if (!label) throw new MkError("EBADREQUEST", "getinfo endpoint needs a label");
  if (!k.priv.services.has(label) && label !== "kernel") throw new MkError("EBADSRCDST", `no service ${label}`);
  const entry = waitMs ? await k.table.waitReady(label, after ?? 0, waitMs) : k.table.get(label);
  const row = entry ? k.endpointRows().find((r) => r.endpoint === entry.key) : undefined;
  return { args: { endpoints: row ? [row] : [] } };
};
