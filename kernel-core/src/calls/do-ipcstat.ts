// SYS_IPCSTAT: a caller reports the round trips its sendrecs took since its last report,
// by path and destination label. The kernel sees the whole round trip only on the trap
// path: a reply-direct answer goes straight to the caller, and a channel's traffic never
// passes the kernel at all. So the per-path latency (and a channel's edge on the
// dashboard's map) comes from the callers. The kernel checks each row's pair against the
// caller's ipc and the counts against each other, and takes all of a report or none of it;
// what a caller says of its own latency is still its word (docs/ipc.md, "Per-path latency").
import { baseLabel, LATENCY_BUCKETS_S, MkError, type SysCall } from "#abi";
import type { KernelCall } from "./context.ts";

export const doIpcstat: KernelCall<typeof SysCall.SYS_IPCSTAT, "metrics"> = (k, c) => {
  const rows = c.args.rows;
  rows.forEach((r, i) => {
    if (!c.privileges.ipc.includes(r.dst))
      throw new MkError("EINVAL", `ipcstat rows[${i}]: ${c.label} may not message ${r.dst}, so it has no round trips to it`, {
        detail: { arg: `rows[${i}].dst` },
      });
    if (r.buckets.length !== LATENCY_BUCKETS_S.length + 1)
      throw new MkError("EINVAL", `ipcstat rows[${i}]: ${r.buckets.length} buckets, not ${LATENCY_BUCKETS_S.length + 1}`, {
        detail: { arg: `rows[${i}].buckets` },
      });
    const sum = r.buckets.reduce((a, b) => a + b, 0);
    if (sum !== r.count)
      throw new MkError("EINVAL", `ipcstat rows[${i}]: the buckets hold ${sum} round trips, count says ${r.count}`, {
        detail: { arg: `rows[${i}].count` },
      });
  });
  const from = baseLabel(c.label);
  for (const r of rows) {
    k.metrics.paths.add(r.path, r.buckets, r.sum_us / 1e6);
    // The kernel counts the edges of what it routes; a channel's it never sees.
    if (r.path === "channel" && r.count > 0) k.metrics.edge(from, r.dst, r.count);
  }
  return { args: {} };
};
