// Dispatch and the clock task: who runs, and what each PIT tick charges. Of the runnable
// controllable processes the `cpus` best run: lowest queue number first, first come first
// within a queue (16 FIFO queues, kept as one order by (priority, seq)). The trap path
// tells dispatch who is blocked (enter); ticks sample /proc to see who computes without
// trapping and who sleeps on what the kernel does not see. A driver or server that may
// not run yet has its messages held here until it is dispatched (never past HOLD_MAX_MS).
import type { Clock, Timer } from "#base/clock.ts";
import type { Logger } from "#base/log.ts";
import type { HostPriority } from "./host-priority.ts";
import type { ProcessControl } from "./process-control.ts";
import { runnable, type Proc, type ProcTable } from "./proc-table.ts";

/** Ticks between two looks at a process that neither runs nor has work (a blocked one). */
const IDLE_SAMPLE_TICKS = 10;
/**
 * Longest a message waits in the kernel for its driver or server to be dispatched: past
 * it the message goes on anyway (no starvation behind a process that computes for long,
 * and never as long as rs's two heartbeat periods).
 */
export const HOLD_MAX_MS = 500;
/** MINIX's balance_queues: every this many ms a process below its class's queue rises one. */
const BALANCE_MS = 5000;
/** Ticks after a continue during which a T in /proc is still the scheduler's own stop. */
const CONT_GRACE_TICKS = 3;

/** A sendrec in the kernel: released when answered (or failed). */
type Release = () => void;

/** What the trap path does with a message: wait for the destination's dispatch (if held), then release once answered. */
export interface Entry {
  wait?: Promise<void>;
  release: Release;
}

const NONE: Entry = { release: () => undefined };

/** What the scheduler is given by the kernel, and passes on to dispatch as it is. */
export interface SchedSettings {
  clock: Clock;
  control: ProcessControl;
  log: Logger;
  enabled: boolean;
  cpus: number;
  pitHz: number;
}

export interface DispatchOptions extends SchedSettings {
  table: ProcTable;
  host: HostPriority;
  /** Quanta that ran out at a tick, told once the table is consistent. */
  expired: (procs: Proc[]) => void;
}

export class Dispatcher {
  private readonly o: DispatchOptions;
  private readonly table: ProcTable;
  private readonly host: HostPriority;
  ticks = 0;
  /** Messages that waited HOLD_MAX_MS and went on undispatched. */
  overruns = 0;
  private lastBalance?: number;
  private lastTickAt?: number;
  private watchdog?: Timer;
  private pitSilent = false;

  constructor(o: DispatchOptions) {
    this.o = o;
    this.table = o.table;
    this.host = o.host;
  }

  /**
   * Scheduling must not stop with the PIT (an emulator that is down, a lost-interrupt
   * fault on line 0): when no tick came for ten periods, the kernel ticks itself, every
   * ten periods, until the PIT is back.
   */
  start(): void {
    if (!this.o.enabled || this.watchdog) return;
    const period = (10 * 1000) / this.o.pitHz;
    const check = () => {
      const now = this.o.clock.now();
      if (now - (this.lastTickAt ?? now) >= period) {
        if (!this.pitSilent)
          this.o.log.warn({ afterMs: now - this.lastTickAt! }, "no PIT tick: the kernel ticks itself until IRQ 0 comes back");
        this.pitSilent = true;
        this.tick(true);
      }
      this.lastTickAt ??= now;
      this.watchdog = this.o.clock.setTimeout(check, period);
    };
    this.watchdog = this.o.clock.setTimeout(check, period);
  }

  stop(): void {
    this.watchdog?.cancel();
    this.watchdog = undefined;
  }

  /**
   * A message for `dst` from `src` (an incarnation, or undefined for the kernel itself):
   * dst has one more to handle, src waits for one more reply. Whoever should run now is
   * dispatched. A user program that may not run yet is stopped before the message is
   * handed over; for a driver or server, `wait` resolves when it is dispatched (the
   * message is held in the kernel until then, by priority, never lost).
   */
  enter(dst: string, src: string | undefined, waits: boolean): Entry {
    if (!this.o.enabled) return NONE;
    const d = this.table.get(dst);
    const s = waits && src ? this.table.get(src) : undefined;
    if (!d && !s) return NONE;
    if (d) {
      d.pendingIn++;
      d.idle = false; // it has a message: it will run
    }
    if (s) {
      s.waitingOut++;
      s.busy = false; // it trapped into sendrec: presumed blocked until a tick sees it compute
      s.preemptedAt = undefined; // and so is no longer computing behind a driver
    }
    // Who runs can change only when a process the scheduler controls changed.
    const matters = d?.controllable === true || s?.controllable === true;
    if (matters) this.reschedule();
    const wait = d?.controllable && d.cls !== "user" && !d.running ? this.hold(d) : undefined;
    let done = false;
    const release = () => {
      if (done) return;
      done = true;
      if (d && this.table.current(d)) {
        d.pendingIn--;
        d.busy = false; // answered: presumed back in receive until a tick sees it compute
      }
      if (s && this.table.current(s)) {
        s.waitingOut--;
        s.idle = false; // its reply arrived: it will run
      }
      if (matters) this.reschedule();
    };
    return wait ? { wait, release } : { release };
  }

  /** Resolves when d is dispatched, or past HOLD_MAX_MS: nothing starves behind a long computation. */
  private hold(d: Proc): Promise<void> {
    return new Promise<void>((resolve) => {
      let done = false;
      const go = () => {
        if (done) return;
        done = true;
        timer.cancel();
        resolve();
      };
      const timer = this.o.clock.setTimeout(() => {
        if (done) return;
        this.overruns++;
        d.held = d.held.filter((h) => h !== go);
        go();
      }, HOLD_MAX_MS);
      d.held.push(go);
    });
  }

  /** One PIT tick (IRQ 0): sample, charge, expire quanta, dispatch. */
  tick(fromWatchdog = false): void {
    if (!this.o.enabled) return;
    this.ticks++;
    const now = this.o.clock.now();
    if (!fromWatchdog) {
      if (this.pitSilent) this.o.log.info("PIT ticks again");
      this.pitSilent = false;
    }
    this.lastTickAt = now;
    const tickMs = 1000 / this.o.pitHz;
    const expired: Proc[] = [];
    for (const p of this.table.values()) {
      if (this.charge(p, now, tickMs)) expired.push(p);
    }
    this.balance(now);
    this.reschedule();
    // A program preempted a tick period ago or more and still not given its CPU back (a
    // driver computes for long), or one that raised its own priority: really stopped.
    for (const p of this.table.values()) {
      if (p.preemptedAt !== undefined && (p.reniced || now - p.preemptedAt >= tickMs)) this.host.stop(p);
    }
    // Told after the table is consistent: a message to sched enters the trap path.
    if (expired.length > 0) this.o.expired(expired);
  }

  /** Samples p and charges it its CPU; true when its quantum ran out (it went to the back of its queue). */
  private charge(p: Proc, now: number, tickMs: number): boolean {
    if (!p.controllable || p.gone) return false;
    // A stopped process uses no CPU, and a blocked driver or server may not be stopped
    // anyway: looked at every IDLE_SAMPLE_TICKS ticks (to see it start computing, or be
    // continued by someone else). Whoever runs, and a user program that is not stopped,
    // every tick: a program may compute while a sendrec of its is outstanding.
    const quiet = !p.running && (p.stopped || (p.cls !== "user" && !runnable(p)));
    if (quiet && p.lastCpuNs !== undefined && (this.ticks + p.pid) % IDLE_SAMPLE_TICKS !== 0) return false;
    const s = this.o.control.sample(p.pid);
    if (!s) {
      // Gone (or its pid is another process's now): the kernel's death event removes the row.
      p.gone = true;
      p.busy = false;
      return false;
    }
    const first = p.lastCpuNs === undefined; // nothing to compare with yet
    const used = first ? 0 : Math.max(0, s.cpuNs - p.lastCpuNs!);
    const elapsedMs = p.sampledAt === undefined ? tickMs : Math.max(tickMs, now - p.sampledAt);
    p.lastCpuNs = s.cpuNs;
    p.sampledAt = now;
    p.cpuNs += used;
    this.host.check(p, s.nice);
    const stoppedNow = s.state === "T" || s.state === "t";
    if (stoppedNow && !p.stopped && this.ticks - p.contTick > CONT_GRACE_TICKS) p.frozen = true;
    else if (!stoppedNow) p.frozen = false;
    if (p.stopped && !stoppedNow && this.ticks - p.contTick > CONT_GRACE_TICKS) this.host.stop(p); // continued behind the scheduler's back
    if (!p.stopped && !p.frozen) {
      // Computing: CPU for half the time since the last look, or runnable in the host (R)
      // and some CPU (a busy host gives it less); R with next to no CPU is a process
      // waking for a timer. The first look has only the state to go by.
      p.busy = first ? s.state === "R" : used >= (elapsedMs * 1e6) / 2 || (s.state === "R" && used >= (elapsedMs * 1e6) / 10);
      // Only a process given the CPU can be seen not to use it.
      if (p.running) p.idle = s.state !== "R" && used < (elapsedMs * 1e6) / 10;
    }
    if (now - p.window.at >= 1000) {
      p.window = { at: now, cpuNs: p.cpuNs, pct: Math.round(((p.cpuNs - p.window.cpuNs) / ((now - p.window.at) * 1e6)) * 1000) / 10 };
    }
    if (p.running) {
      // Holding a CPU costs its time whether or not it computes (MINIX charges the tick to
      // whoever runs); a process that computed more (a late tick) is charged that.
      p.leftMs -= Math.max(used / 1e6, elapsedMs);
    } else if (p.preemptedAt !== undefined) {
      // Preempted and not stopped yet: what it computed on the host meanwhile is its own.
      p.leftMs -= used / 1e6;
    } else return false;
    if (p.leftMs > 0) return false;
    // The quantum is used up: to the back of its queue, with a fresh one (round robin)
    // less what it overran (so shares stay exact over many quanta); the policy hears of
    // it and may change both.
    p.seq = this.table.nextSeq();
    p.leftMs = p.quantumMs + Math.max(p.leftMs, -p.quantumMs);
    return true;
  }

  /** MINIX's balance_queues: a process that sank below its class's queue rises one every BALANCE_MS. */
  private balance(now: number): void {
    if (this.lastBalance === undefined) this.lastBalance = now;
    if (now - this.lastBalance < BALANCE_MS) return;
    this.lastBalance = now;
    for (const p of this.table.values()) {
      if (p.priority <= p.basePriority) continue;
      p.priority--;
    }
  }

  /**
   * Who runs: the `cpus` best runnable, controllable processes. Stops first, then
   * continues, so that the user programs not stopped stay within `cpus`. A user program
   * that loses its CPU is preempted lazily (not stopped yet, see preemptedAt) while room is
   * left, which is when a driver or server took the CPU; when another user program takes
   * it, or the program raised its own priority, it is stopped at once.
   */
  reschedule(): void {
    if (!this.o.enabled) return;
    const ready: Proc[] = [];
    for (const p of this.table.values()) {
      if (!p.controllable) continue;
      if (runnable(p)) ready.push(p);
      else if (p.running) {
        p.running = false; // it blocked: a voluntary switch
        p.voluntary++;
        p.blockedSinceExpiry++;
      }
    }
    ready.sort((a, b) => a.priority - b.priority || a.seq - b.seq);
    const want = new Set(ready.slice(0, this.o.cpus));
    // Room for lazily preempted programs: CPUs that no wanted user program takes.
    let room = this.o.cpus;
    for (const p of want) if (p.cls === "user") room--;
    for (const p of ready) {
      if (want.has(p) || p.stopped) continue;
      const displaced = p.running;
      if (p.running) {
        p.running = false;
        p.involuntary++;
      }
      if (p.cls !== "user") continue;
      if ((displaced || p.preemptedAt !== undefined) && room > 0 && !p.reniced) {
        room--;
        p.preemptedAt ??= this.o.clock.now();
      } else this.host.stop(p);
    }
    for (const p of want) {
      p.preemptedAt = undefined;
      if (p.running) continue;
      if (p.stopped) this.host.cont(p, this.ticks);
      if (p.stopped || p.gone) continue; // the continue did not happen: its turn comes again
      p.running = true;
      p.sampledAt = this.o.clock.now(); // its turn is charged from now
      p.idle = false;
      if (p.leftMs <= 0) p.leftMs = p.quantumMs;
      this.release(p);
    }
  }

  /** p runs (or is gone): the messages held for it go on. */
  release(p: Proc): void {
    const held = p.held;
    p.held = [];
    for (const go of held) go();
  }
}
