// What the scheduling policy may not do, and when the kernel stops listening to it. Policy
// lives in user space (sched), but a hostile or broken sched must not starve the system:
// it put ata, mfs and vfs at the lowest queue with 1 ms quanta and 4 KiB reads went from
// 3 ms to 500 ms under three CPU hogs (issue 19, item 10). So the kernel keeps floors for
// drivers and servers (above user programs, a minimum quantum) and, when sched's answers
// are refused again and again, takes its own round robin for a while and asks sched again
// later (or as soon as a new sched incarnation starts).
import { SchedQueue, SYSTEM_QUANTUM_MIN_MS, type ProcessInfo } from "#abi";
import type { Clock } from "#base/clock.ts";

/** This many refused SYS_SCHEDULEs within POLICY_REFUSAL_WINDOW_MS and the kernel stops asking sched. */
export const POLICY_REFUSALS_MAX = 10;
/**
 * A sane policy is never refused: it answers what the kernel asked, within the bounds the
 * question carried (base_priority, base_quantum_ms); a process that died meanwhile is
 * EDEADSRCDST, not counted. Ten in 5 s leaves room for a bug that touches one process now
 * and then, and catches a policy that is wrong at every expiry (several a second) at once.
 */
export const POLICY_REFUSAL_WINDOW_MS = 5000;
/** How long the kernel's own round robin lasts before sched is asked again. */
const POLICY_SUSPEND_MS = 30_000;

/** The lowest queue and shortest quantum a policy may give a driver or server (none for a user program). */
export interface Floor {
  queue: number;
  quantumMs: number;
}

/**
 * A driver or server stays numerically below the user programs' base queue and keeps at
 * least SYSTEM_QUANTUM_MIN_MS, unless the privilege table itself placed it lower or gave
 * it less: the table is the operator's word, the policy is not. (A fixed floor, not one in
 * PIT ticks, so that sched can hold its own answers to it without knowing pit_hz.)
 */
export function systemFloor(p: { cls: ProcessInfo["class"]; basePriority: number; baseQuantumMs: number }): Floor | undefined {
  if (p.cls === "user") return undefined;
  return { queue: Math.max(SchedQueue.USER - 1, p.basePriority), quantumMs: Math.min(SYSTEM_QUANTUM_MIN_MS, p.baseQuantumMs) };
}

/** Counts refused answers over a sliding window; past POLICY_REFUSALS_MAX the policy is suspended. */
export class PolicyGuard {
  private readonly clock: Clock;
  /** When the refusals within the window came (at most POLICY_REFUSALS_MAX kept). */
  private refusals: number[] = [];
  private until?: number;

  constructor(clock: Clock) {
    this.clock = clock;
  }

  /** One more answer refused: true when it is one too many (the kernel falls back from now). */
  refused(): boolean {
    const now = this.clock.now();
    this.refusals = this.refusals.filter((t) => now - t < POLICY_REFUSAL_WINDOW_MS);
    this.refusals.push(now);
    if (this.refusals.length < POLICY_REFUSALS_MAX) return false;
    this.refusals = [];
    this.until = now + POLICY_SUSPEND_MS;
    return true;
  }

  /** What is left of the kernel's own round robin (ms; 0: sched is asked). */
  suspendedMs(): number {
    if (this.until === undefined) return 0;
    const left = this.until - this.clock.now();
    if (left > 0) return left;
    this.until = undefined;
    return 0;
  }

  /** A new sched incarnation is asked at once. True if the policy was suspended. */
  resume(): boolean {
    const was = this.suspendedMs() > 0;
    this.until = undefined;
    this.refusals = [];
    return was;
  }
}
