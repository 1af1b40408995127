// The kernel's statistics stream (mk.stat): once a second kernel-core publishes what its
// trap path counted since it booted: messages by source and destination, latency by
// message type as histogram buckets, and the process table. Counters only grow within a
// boot, so a reader takes rates and windows as differences of two samples (a new boot
// starts from zero). Reading it is the `metrics` privilege.
import { f, parseShape, type InferShape } from "./schema.ts";
import { MkError } from "./errno.ts";

export const StatSubjects = {
  stat: "mk.stat",
} as const;

/** Upper bounds (seconds) of the latency buckets; one more bucket counts what lies above. */
export const LATENCY_BUCKETS_S = [5e-6, 2e-5, 5e-5, 1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 5e-3, 1e-2, 5e-2, 0.1, 0.5, 1, 5] as const;

/** The bucket a latency of `seconds` falls in: the first whose bound holds it, or the one above them all. */
export function latencyBucket(seconds: number): number {
  let i = 0;
  while (i < LATENCY_BUCKETS_S.length && seconds > LATENCY_BUCKETS_S[i]) i++;
  return i;
}

const count = f.uint(Number.MAX_SAFE_INTEGER);

const KernelStatShape = {
  boot: f.str(32),
  pid: f.u32,
  /** Wall clock of the sample, ms since the epoch. */
  at: count,
  uptime_ms: count,
  /** [from, to, messages]: a label's traps to another label or to KERNEL (kernel calls), KERNEL's port I/O to HARDWARE, interrupts from it. */
  edges: f.list(f.tuple(f.str(32), f.str(32), count), 4096),
  /** Trap-to-reply latency by message type name: counts per bucket (LATENCY_BUCKETS_S, then above). */
  latency: f.list(f.object({ type: f.str(40), count, buckets: f.list(count, LATENCY_BUCKETS_S.length + 1) }), 512),
  /** Round trips by IPC path as the callers measured them (SYS_IPCSTAT): counts per bucket, as latency's. */
  paths: f.opt(f.list(f.object({ path: f.str(16), count, buckets: f.list(count, LATENCY_BUCKETS_S.length + 1) }), 8)),
  /** The process table (getinfo processes), when the scheduler is on. */
  processes: f.opt(f.list(f.unknown, 1024)),
} as const;
export type KernelStat = InferShape<typeof KernelStatShape>;

/** The largest sample a reader takes off the wire. */
const MAX_STAT_BYTES = 512 * 1024;

export function decodeKernelStat(data: Uint8Array): KernelStat {
  if (data.length > MAX_STAT_BYTES) throw new MkError("EBADREQUEST", `stat sample of ${data.length} bytes (at most ${MAX_STAT_BYTES})`);
  let raw: unknown;
  try {
    raw = JSON.parse(new TextDecoder().decode(data));
  } catch {
    throw new MkError("EBADREQUEST", "stat sample is not JSON");
  }
  return parseShape(KernelStatShape, raw);
}
