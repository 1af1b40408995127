// SYS_IPCSTAT: a caller reports the round trips its sendrecs took since its last report,
// by path and destination label. The kernel sees the whole round trip only on the trap
// path: a reply-direct answer goes straight to the caller, and a channel's traffic never
// passes the kernel at all. So the per-path latency (and a channel's edge on the
// dashboard's map) comes from the callers. The kernel checks each row's pair against the
// caller's ipc, the path against those the pair can take, the counts against each other,
// takes one report per incarnation per IPCSTAT_MIN_INTERVAL_MS, and all of a report or
// none of it; what a caller says of its own latency is still its word (docs/ipc.md,
// "Per-path latency").
import { baseLabel, LATENCY_BUCKETS_S, MkError, type SysCall } from "#abi";
import type { KernelCall } from "./context.ts";

/** One report per incarnation per this long at most (libsys sends one about a second after a round trip it has not reported): a flood of reports is EAGAIN. */
const IPCSTAT_MIN_INTERVAL_MS = 500;
/** When each incarnation last reported: dies with its entry. */
const lastReport = new WeakMap<object, number>();

export const doIpcstat: KernelCall<typeof SysCall.SYS_IPCSTAT, "metrics" | "clock" | "pathsTo"> = (k, c) => {
  const rows = c.args.rows;
  rows.forEach((r, i) => {
    if (!c.privileges.ipc.includes(r.dst))
      throw new MkError("EINVAL", `ipcstat rows[${i}]: ${c.label} may not message ${r.dst}, so it has no round trips to it`, {
        detail: { arg: `rows[${i}].dst` },
      });
    const can = k.pathsTo(c.privileges, r.dst);
    if (!can.includes(r.path))
      throw new MkError("EINVAL", `ipcstat rows[${i}]: ${c.label}'s sendrecs to ${r.dst} go by ${can.join(" or ")}, not ${r.path}`, {
        detail: { arg: `rows[${i}].path` },
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
  // Checked last, so a refused report does not use up the caller's turn.
  const now = k.clock.now();
  const key = c.caller ?? c.privileges;
  const last = lastReport.get(key);
  if (last !== undefined && now - last < IPCSTAT_MIN_INTERVAL_MS)
    throw new MkError("EAGAIN", `ipcstat: one report per ${IPCSTAT_MIN_INTERVAL_MS} ms (the last was ${Math.round(now - last)} ms ago)`);
  lastReport.set(key, now);
  const from = baseLabel(c.label);
  for (const r of rows) {
    k.metrics.paths.add(r.path, r.buckets, r.sum_us / 1e6);
    // The kernel counts the edges of what it routes; a channel's it never sees.
    if (r.path === "channel" && r.count > 0) k.metrics.edge(from, r.dst, r.count);
  }
  return { args: {} };
};
