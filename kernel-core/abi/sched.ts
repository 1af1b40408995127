// Scheduling as user space sees it: the 16 priority queues, the bounds the kernel holds a
// policy to, the weights nice maps to, and one row of the kernel's process table.
import { f, type Infer } from "./schema.ts";
import { LABEL_MAX } from "./types.ts";

/** Priority queues, 0 the highest (MINIX NR_SCHED_QUEUES). */
export const NR_SCHED_QUEUES = 16;
/** Default queue by class: drivers above servers above user programs (MINIX TASK_Q, USER_Q). */
export const SchedQueue = { DRIVER: 2, SERVER: 4, USER: 7, LOWEST: 15 } as const;
/** A quantum the kernel accepts (ms): SYS_SCHEDULE outside it is EINVAL. */
export const QUANTUM_MIN_MS = 1;
export const QUANTUM_MAX_MS = 10_000;
/** MINIX's DEFAULT_USER_TIME_SLICE. */
export const DEFAULT_QUANTUM_MS = 200;
/**
 * The shortest quantum a policy may give a driver or server (ms), unless the privilege
 * table gave it a shorter one itself: 5 PIT ticks at the default 100 Hz (pit_hz). Whoever
 * holds a CPU at a tick is charged the whole tick, so a quantum of a tick or so runs out
 * at nearly every tick its holder is seen running: the driver goes behind its peers in
 * the middle of a request and the kernel asks sched again, a message a tick. A 4 KiB read
 * costs ata, mfs and vfs a few ms each, over several turns, more on a loaded host: 50 ms
 * lets one request finish within a turn with room to spare, and sched hears of a busy
 * driver at most 20 times a second.
 */
export const SYSTEM_QUANTUM_MIN_MS = 50;
export const NICE_MIN = -20;
export const NICE_MAX = 19;

/** Linux's sched_prio_to_weight (nice 0 = 1024; each step about 1.25x). */
const WEIGHTS = [
  88761, 71755, 56483, 46273, 36291, 29154, 23254, 18705, 14949, 11916, 9548, 7620, 6100, 4904, 3906, 3121, 2501, 1991, 1586, 1277, 1024,
  820, 655, 526, 423, 335, 272, 215, 172, 137, 110, 87, 70, 56, 45, 36, 29, 23, 18, 15,
] as const;

/** The weight a nice value stands for (weighted fair share). */
export function niceWeight(nice: number): number {
  const n = Math.max(NICE_MIN, Math.min(NICE_MAX, Math.trunc(nice)));
  return WEIGHTS[n - NICE_MIN];
}

/**
 * A process's scheduling state. running: on one of the `cpus`; ready: a driver or server
 * that is runnable and waits for a CPU (never stopped: its messages wait in the kernel), or
 * a user program a driver or server took the CPU from a moment ago (lazy preemption: not
 * stopped yet, R in /proc); preempted: a user program that is runnable and stopped by the
 * scheduler (SIGSTOP: T in /proc); reply: blocked in sendrec, waiting for its answer;
 * receiving: blocked with no message to handle; free: runs outside the scheduler (inside
 * kernel-core, or a process the kernel cannot verify and so never stops).
 */
const PROC_STATES = ["running", "ready", "preempted", "reply", "receiving", "free"] as const;
export type ProcState = (typeof PROC_STATES)[number];

const count = f.uint(Number.MAX_SAFE_INTEGER);

/** One row of the process table (getinfo processes, `mkctl top --json`). */
export const ProcessInfoShape = f.object({
  endpoint: f.str(LABEL_MAX + 11),
  label: f.str(LABEL_MAX),
  pid: count,
  placement: f.enum("kernel", "user"),
  class: f.enum("driver", "server", "user"),
  state: f.enum(...PROC_STATES),
  /** One letter as ps shows it: R running, T stopped by the scheduler, S sleeping (blocked), F free. */
  stat: f.enum("R", "T", "S", "F"),
  priority: f.uint(NR_SCHED_QUEUES - 1),
  base_priority: f.uint(NR_SCHED_QUEUES - 1),
  quantum_ms: f.uint(QUANTUM_MAX_MS),
  /** What is left of the current quantum. */
  left_ms: f.uint(QUANTUM_MAX_MS),
  nice: f.int(NICE_MIN, NICE_MAX),
  /** CPU time charged while scheduled (measured from /proc/<pid>/schedstat when the kernel can read it). */
  cpu_ms: count,
  /** Share of one CPU over the last second, percent. */
  cpu_pct: f.num(0, 100_000),
  voluntary: count,
  involuntary: count,
  /** Messages it has to handle, and sendrecs it waits on. */
  pending_in: count,
  waiting_out: count,
});
export type ProcessInfo = Infer<typeof ProcessInfoShape>;

/** The scheduler as a whole (getinfo processes). */
export const SchedSummaryShape = f.object({
  enabled: f.bool,
  cpus: f.uint(1024),
  pit_hz: f.uint(1_000_000),
  ticks: count,
  /** Whose policy is in force: the sched server's, or the kernel's own round robin. */
  policy: f.enum("server", "round-robin"),
  /** Stops and continues the kernel has made. */
  stops: count,
  continues: count,
  /** SYS_SCHEDULE answers refused (EINVAL; EAGAIN while the kernel's own policy is in force). */
  refused: count,
  /** While the policy's answers were absurd: what is left of the kernel's own round robin (ms) before sched is asked again. */
  policy_suspended_ms: f.opt(count),
  /** Messages that waited HOLD_MAX_MS (500 ms) for their driver or server and went on undispatched. */
  held_too_long: count,
});
export type SchedSummary = Infer<typeof SchedSummaryShape>;
