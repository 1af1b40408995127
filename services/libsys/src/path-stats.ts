// The round trips this process's sendrecs took, by IPC path and destination label, kept
// between two reports to the kernel (SYS_IPCSTAT, about a second after the first one not
// yet reported). The caller is the one party that sees every path's whole round trip: a
// reply-direct answer passes no kernel, a channel's request neither. Bounded: IPCSTAT_MAX_ROWS pairs, IPCSTAT_MAX_COUNT each.
import {
  IPCSTAT_MAX_COUNT,
  IPCSTAT_MAX_ROWS,
  KERNEL,
  LABEL_RE,
  LATENCY_BUCKETS_S,
  latencyBucket,
  parseHops,
  type IpcPath,
  type ReqArgs,
  type SysCall,
} from "#abi";

export type PathRow = ReqArgs<typeof SysCall.SYS_IPCSTAT>["rows"][number];

/**
 * The path a reply came by, read from its hop trail: on the trap path the kernel stamps
 * the reply too (it is the last party), reply-direct's last stamp is the server's, and a
 * party loaded into kernel-core never stamps (only the caller and the kernel did).
 */
export function pathOf(hops: string | undefined, byChannel: boolean, dstLabel: string): IpcPath {
  if (byChannel) return "channel";
  const trail = parseHops(hops);
  if (!trail.some((h) => h.who === dstLabel)) return "in-kernel";
  return trail.at(-1)?.who === KERNEL ? "trap" : "reply-direct";
}

export class PathStats {
  private rows = new Map<string, PathRow>();
  /** Told when a round trip is counted into an empty set: a report is then due (nothing wakes an idle process). */
  onFirst?: () => void;

  record(path: IpcPath, dstLabel: string, us: number): void {
    if (dstLabel === KERNEL || !LABEL_RE.test(dstLabel)) return;
    const key = `${path} ${dstLabel}`;
    let r = this.rows.get(key);
    if (!r) {
      if (this.rows.size >= IPCSTAT_MAX_ROWS) return;
      this.rows.set(key, (r = { path, dst: dstLabel, count: 0, sum_us: 0, buckets: new Array(LATENCY_BUCKETS_S.length + 1).fill(0) }));
      if (this.rows.size === 1) this.onFirst?.();
    }
    if (r.count >= IPCSTAT_MAX_COUNT) return;
    r.buckets[latencyBucket(us / 1e6)]++;
    r.count++;
    r.sum_us += Math.max(0, Math.round(us));
  }

  /** What was counted since the last take, and a fresh start. */
  take(): PathRow[] {
    const out = [...this.rows.values()];
    this.rows = new Map();
    return out;
  }
}
