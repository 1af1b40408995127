// What the scheduler's decisions become on the host: SIGSTOP and SIGCONT for user programs
// that may not run, and Linux nice values that make the host run the message path first.
// A program that raises its own priority is set back each time it is seen, and is never
// preempted lazily again (lazy preemption trusts the host's priority).
import type { Logger } from "#base/log.ts";
import type { ProcessControl } from "./process-control.ts";
import type { Proc, ProcClass } from "./proc-table.ts";

/**
 * The Linux nice value a class runs at: drivers and servers at 0, like kernel-core, NATS
 * and the emulator (the machine's "hardware"); user programs at 19, the lowest, so that
 * while one of them holds an mkos CPU the host runs the message path first, and a driver
 * that preempts it lazily gets the host's CPU at once. Among user programs the scheduler's
 * stops decide, not the host.
 */
function hostNice(cls: ProcClass): number {
  return cls === "user" ? 19 : 0;
}

export interface HostPriorityOptions {
  control: ProcessControl;
  log: Logger;
  /** A change worth publishing on the event stream, about p. */
  event: (p: Proc, detail: string) => void;
}

export class HostPriority {
  private readonly o: HostPriorityOptions;
  /** Stops and continues the scheduler sent (/proc's summary). */
  stops = 0;
  continues = 0;

  constructor(o: HostPriorityOptions) {
    this.o = o;
  }

  /**
   * At each look: the host nice is set again if setting it failed (an agent reconnecting),
   * and a user program seen at the value set and later above it (it raised its own
   * priority) is set back each time and never preempted lazily again. Through an agent,
   * until /proc has shown the value set, a lower one is the agent not having acted yet.
   */
  check(p: Proc, nice: number | undefined): void {
    if (p.hostNice === undefined) return this.apply(p);
    if (nice === undefined) return;
    if (nice === p.hostNice) {
      p.niceSeen = true;
      return;
    }
    if (p.cls !== "user" || !p.niceSeen || nice > p.hostNice) return;
    if (!p.reniced) {
      this.o.log.warn(
        { endpoint: p.key, pid: p.pid, nice, want: p.hostNice },
        "a process raised its own host priority: set back, and stopped at once whenever it is preempted",
      );
      this.o.event(p, `raised its Linux nice to ${nice}: set back to ${p.hostNice}, no lazy preemption`);
    }
    p.reniced = true;
    p.hostNice = undefined;
    this.apply(p);
  }

  /** Sets p's host nice to its class's, if the scheduler controls p. */
  apply(p: Proc): void {
    if (!p.controllable) return;
    const n = hostNice(p.cls);
    if (n !== p.hostNice && this.o.control.setHostNice(p.pid, n)) {
      p.hostNice = n;
      // Set at once (process mode): a higher priority seen from now on is the program's own
      // doing, even if no look came between. Through an agent: only once /proc has shown it.
      if (!this.o.control.niceLater) p.niceSeen = true;
    }
  }

  /** Stops p now (it is no longer preempted lazily). */
  stop(p: Proc): void {
    p.preemptedAt = undefined;
    if (this.o.control.stop(p.pid)) {
      p.stopped = true;
      this.stops++;
    }
  }

  /** Continues p at `tick`; if that fails, p stays stopped (tried again at its next turn), or is gone. */
  cont(p: Proc, tick: number): void {
    if (this.o.control.cont(p.pid)) {
      p.stopped = false;
      p.contTick = tick;
      this.continues++;
      return;
    }
    if (!this.o.control.sample(p.pid)) {
      p.gone = true;
      p.stopped = false;
    }
  }
}
