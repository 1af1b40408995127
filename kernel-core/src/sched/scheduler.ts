// The process table and the mechanism of scheduling (MINIX's proc.c and clock task; the
// policy is the sched server's). Every incarnation has a row. The trap path says who is
// blocked: a caller in sendrec waits for its reply, a server with no message to handle
// waits in receive; what runs without trapping (a computing user program) is seen in
// /proc at each clock tick, as is a process the trap path thinks busy that in fact
// sleeps (waiting on what the kernel does not see). Of the runnable processes the `cpus` best run: lowest queue
// number first, first come first within a queue (16 FIFO queues, kept as one order by
// (priority, seq)). User programs that may not run are really stopped (SIGSTOP) and
// continued when their turn comes; drivers and servers are never stopped (a stop the
// scheduler sent would be indistinguishable from one anyone else sent: a debugger, a
// chaos hang), so the messages for one that may not run wait in the kernel until it is
// dispatched. A driver or server dispatched over a user program preempts it lazily: the
// program loses its CPU in the table at once, the host's priority (Linux nice 19 against
// 0) runs the driver first, and the program is really stopped only if it is still
// preempted at the first tick a tick period or more later (a request that lasts a
// millisecond costs no signal; two signals cost more than the request). PIT ticks charge
// the running processes their CPU time; one whose quantum runs out goes to the back of its
// queue, and the sched server is told so (it may answer with SYS_SCHEDULE, held to the
// floors of policy-guard.ts); without sched, or while its answers are absurd, the kernel
// goes on round robin.
import {
  DEFAULT_QUANTUM_MS,
  MkError,
  NICE_MAX,
  NICE_MIN,
  NR_SCHED_QUEUES,
  QUANTUM_MAX_MS,
  QUANTUM_MIN_MS,
  SchedQueue,
  type ProcessInfo,
  type ProcState,
  type ReqArgs,
  type Sched,
  type SchedSummary,
  ENDPOINT_RE,
} from "#abi";
import type { Clock, Timer } from "#base/clock.ts";
import type { Logger } from "#base/log.ts";
import { POLICY_REFUSAL_WINDOW_MS, POLICY_REFUSALS_MAX, PolicyGuard, systemFloor } from "./policy-guard.ts";
import type { ProcessControl } from "./process-control.ts";

export type ProcClass = ProcessInfo["class"];
export type NoQuantum = ReqArgs<typeof Sched.SCHED_NO_QUANTUM>;

/** A label's settings from the privilege table (`sched:`) and its class. */
export interface ProcDefaults {
  cls: ProcClass;
  priority?: number;
  quantumMs?: number;
  nice?: number;
}

interface Proc {
  readonly key: string;
  readonly label: string;
  readonly pid: number;
  readonly placement: "kernel" | "user";
  readonly cls: ProcClass;
  /** Verified as label's process in this run: the scheduler may stop it. */
  readonly controllable: boolean;
  readonly basePriority: number;
  readonly baseQuantumMs: number;
  priority: number;
  quantumMs: number;
  leftMs: number;
  /** Place within its queue: smaller runs first. */
  seq: number;
  pendingIn: number;
  waitingOut: number;
  /** At the last look it was computing (it used CPU for half the time since the look before). */
  busy: boolean;
  /**
   * At the last tick it slept and used (almost) no CPU although the trap path thinks it
   * has work: it waits on something the kernel does not see (a timer, another
   * endpoint's start, a kernel call). Not runnable until a message or reply reaches it.
   */
  idle: boolean;
  running: boolean;
  /** Stopped by the scheduler. */
  stopped: boolean;
  /**
   * A user program that lost its CPU and is not stopped yet (ms): runnable, counted
   * against `cpus`, and stopped at the first tick a tick period later (lazy preemption).
   */
  preemptedAt?: number;
  /**
   * It raised its own Linux priority above what the kernel set (a root process in process
   * mode can): lazy preemption trusts the host's priority, so it is stopped at once instead.
   */
  reniced: boolean;
  /** Stopped by someone else (a chaos hang): never continued by the scheduler, not runnable. */
  frozen: boolean;
  /** The tick of the last continue (an agent acts a moment later). */
  contTick: number;
  /** The process is gone (a signal found no process): not runnable until its death is seen. */
  gone: boolean;
  /** When it was last sampled (ms), to turn CPU time into a share of the time between. */
  sampledAt?: number;
  cpuNs: number;
  lastCpuNs?: number;
  voluntary: number;
  involuntary: number;
  blockedSinceExpiry: number;
  /** A SCHED_NO_QUANTUM for it is on its way: at most one. */
  askingPolicy: boolean;
  /** Messages held for it (a driver or server that may not run yet): each resolved when it is dispatched. */
  held: (() => void)[];
  /** The host nice value set for it, and whether /proc has shown it since (an agent acts a moment later). */
  hostNice?: number;
  niceSeen: boolean;
  window: { at: number; cpuNs: number; pct: number };
}

export interface SchedulerOptions {
  clock: Clock;
  control: ProcessControl;
  log: Logger;
  enabled: boolean;
  cpus: number;
  pitHz: number;
  /** Tells the policy server a quantum ran out; resolves false when nothing took the message. */
  policy?: (msg: NoQuantum) => Promise<boolean>;
  /** The policy server's label: a new incarnation of it is asked again at once, even while its predecessor's answers were absurd. */
  policyLabel?: string;
  /** A change worth publishing on the event stream. */
  event?: (row: ProcessInfo, detail: string) => void;
}

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
export type Release = () => void;

/** What the trap path does with a message: wait for the destination's dispatch (if held), then release once answered. */
export interface Entry {
  wait?: Promise<void>;
  release: Release;
}

const NONE: Entry = { release: () => undefined };

export class Scheduler {
  private readonly o: SchedulerOptions;
  private readonly procs = new Map<string, Proc>();
  /** mkctl nice, per label: outlives incarnations. Bounded by the privilege table's labels. */
  private readonly nices = new Map<string, number>();
  private seq = 0;
  private ticks = 0;
  private stops = 0;
  private continues = 0;
  private refused = 0;
  private overruns = 0;
  private lastBalance?: number;
  private lastTickAt?: number;
  private watchdog?: Timer;
  private pitSilent = false;
  private policyInForce: SchedSummary["policy"] = "round-robin";
  private readonly guard: PolicyGuard;

  constructor(o: SchedulerOptions) {
    this.o = o;
    this.guard = new PolicyGuard(o.clock);
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

  /** A new incarnation (started or resumed). A pid the controller cannot verify is free: never stopped. */
  add(e: { key: string; label: string; pid: number; placement: "kernel" | "user"; host: string }, d: ProcDefaults): void {
    if (this.procs.has(e.key)) return;
    if (e.label === this.o.policyLabel && this.guard.resume())
      this.o.log.info({ endpoint: e.key }, "a new sched incarnation: the kernel asks it again");
    const base = d.priority ?? (d.cls === "driver" ? SchedQueue.DRIVER : d.cls === "server" ? SchedQueue.SERVER : SchedQueue.USER);
    const quantum = d.quantumMs ?? DEFAULT_QUANTUM_MS;
    if (d.nice !== undefined && !this.nices.has(e.label)) this.nices.set(e.label, d.nice);
    const controllable = this.o.enabled && e.placement === "user" && this.o.control.verify(e.pid, e.label, e.host);
    const now = this.o.clock.now();
    this.procs.set(e.key, {
      key: e.key,
      label: e.label,
      pid: e.pid,
      placement: e.placement,
      cls: d.cls,
      controllable,
      basePriority: base,
      baseQuantumMs: quantum,
      priority: base,
      quantumMs: quantum,
      leftMs: quantum,
      seq: ++this.seq,
      pendingIn: 0,
      waitingOut: 0,
      busy: false,
      idle: false,
      running: false,
      stopped: false,
      reniced: false,
      niceSeen: false,
      frozen: false,
      contTick: -Infinity,
      gone: false,
      cpuNs: 0,
      voluntary: 0,
      involuntary: 0,
      blockedSinceExpiry: 0,
      askingPolicy: false,
      held: [],
      window: { at: now, cpuNs: 0, pct: 0 },
    });
    this.applyHostNice(this.procs.get(e.key)!);
    this.reschedule();
  }

  /** The incarnation is dead: a process it stopped is continued (so it can end), never left frozen. */
  remove(key: string): void {
    const p = this.procs.get(key);
    if (!p) return;
    this.procs.delete(key);
    if (p.stopped) this.cont(p);
    this.release(p); // what waits on it fails by its death in the trap path
    if (p.controllable) this.o.control.forget?.(p.pid);
    this.reschedule();
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
    const d = this.procs.get(dst);
    const s = waits && src ? this.procs.get(src) : undefined;
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
    let wait: Promise<void> | undefined;
    if (d?.controllable && d.cls !== "user" && !d.running) {
      wait = new Promise<void>((resolve) => {
        let done = false;
        const go = () => {
          if (done) return;
          done = true;
          timer.cancel();
          resolve();
        };
        // Past HOLD_MAX_MS it goes on, dispatched or not: nothing starves behind a long computation.
        const timer = this.o.clock.setTimeout(() => {
          if (done) return;
          this.overruns++;
          d.held = d.held.filter((h) => h !== go);
          go();
        }, HOLD_MAX_MS);
        d.held.push(go);
      });
    }
    let done = false;
    const release = () => {
      if (done) return;
      done = true;
      if (d && this.procs.get(d.key) === d) {
        d.pendingIn--;
        d.busy = false; // answered: presumed back in receive until a tick sees it compute
      }
      if (s && this.procs.get(s.key) === s) {
        s.waitingOut--;
        s.idle = false; // its reply arrived: it will run
      }
      if (matters) this.reschedule();
    };
    return wait ? { wait, release } : { release };
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
    for (const p of this.procs.values()) {
      if (!p.controllable || p.gone) continue;
      // A stopped process uses no CPU, and a blocked driver or server may not be stopped
      // anyway: looked at every IDLE_SAMPLE_TICKS ticks (to see it start computing, or be
      // continued by someone else). Whoever runs, and a user program that is not stopped,
      // every tick: a program may compute while a sendrec of its is outstanding.
      const quiet = !p.running && (p.stopped || (p.cls !== "user" && !this.runnable(p)));
      if (quiet && p.lastCpuNs !== undefined && (this.ticks + p.pid) % IDLE_SAMPLE_TICKS !== 0) continue;
      const s = this.o.control.sample(p.pid);
      if (!s) {
        // Gone (or its pid is another process's now): the kernel's death event removes the row.
        p.gone = true;
        p.busy = false;
        continue;
      }
      const first = p.lastCpuNs === undefined; // nothing to compare with yet
      const used = first ? 0 : Math.max(0, s.cpuNs - p.lastCpuNs!);
      const elapsedMs = p.sampledAt === undefined ? tickMs : Math.max(tickMs, now - p.sampledAt);
      p.lastCpuNs = s.cpuNs;
      p.sampledAt = now;
      p.cpuNs += used;
      this.checkHostNice(p, s.nice);
      const stoppedNow = s.state === "T" || s.state === "t";
      if (stoppedNow && !p.stopped && this.ticks - p.contTick > CONT_GRACE_TICKS) p.frozen = true;
      else if (!stoppedNow) p.frozen = false;
      if (p.stopped && !stoppedNow && this.ticks - p.contTick > CONT_GRACE_TICKS) this.stopNow(p); // continued behind the scheduler's back
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
      } else continue;
      if (p.leftMs > 0) continue;
      // The quantum is used up: to the back of its queue, with a fresh one (round robin)
      // less what it overran (so shares stay exact over many quanta); the policy hears of
      // it and may change both.
      p.seq = ++this.seq;
      p.leftMs = p.quantumMs + Math.max(p.leftMs, -p.quantumMs);
      expired.push(p);
    }
    this.balance(now);
    this.reschedule();
    // A program preempted a tick period ago or more and still not given its CPU back (a
    // driver computes for long), or one that raised its own priority: really stopped.
    for (const p of this.procs.values()) {
      if (p.preemptedAt !== undefined && (p.reniced || now - p.preemptedAt >= tickMs)) this.stopNow(p);
    }
    // Told after the table is consistent: a message to sched enters the trap path.
    for (const p of expired) this.askPolicy(p);
  }

  /** MINIX's balance_queues: a process that sank below its class's queue rises one every BALANCE_MS. */
  private balance(now: number): void {
    if (this.lastBalance === undefined) this.lastBalance = now;
    if (now - this.lastBalance < BALANCE_MS) return;
    this.lastBalance = now;
    for (const p of this.procs.values()) {
      if (p.priority <= p.basePriority) continue;
      p.priority--;
    }
  }

  /**
   * SYS_SCHEDULE from the sched server (caller: its endpoint). EINVAL leaves the process as
   * it was; too many within a window and the kernel falls back on its own round robin, and
   * refuses with EAGAIN until it asks sched again.
   */
  schedule(endpoint: string, priority: number, quantumMs: number, caller?: string): void {
    const left = this.guard.suspendedMs();
    if (left > 0) {
      this.refused++;
      throw new MkError(
        "EAGAIN",
        `the kernel schedules round robin for another ${Math.ceil(left / 1000)} s: the policy's answers were absurd`,
      );
    }
    const p = this.procs.get(endpoint);
    if (!Number.isInteger(priority) || priority < 0 || priority >= NR_SCHED_QUEUES) {
      throw this.refuse(`priority ${priority} is not a queue 0-${NR_SCHED_QUEUES - 1}`, p, caller);
    }
    if (!Number.isInteger(quantumMs) || quantumMs < QUANTUM_MIN_MS || quantumMs > QUANTUM_MAX_MS) {
      throw this.refuse(`quantum ${quantumMs} ms is outside ${QUANTUM_MIN_MS}-${QUANTUM_MAX_MS} ms`, p, caller);
    }
    if (!ENDPOINT_RE.exec(endpoint)?.[2])
      throw new MkError("EBADSRCDST", `${JSON.stringify(endpoint.slice(0, 48))} is not an endpoint (label#generation)`);
    if (!p) throw new MkError("EDEADSRCDST", `${endpoint} is not a live incarnation`);
    if (!p.controllable)
      throw this.refuse(`${endpoint} is not scheduled (it runs inside kernel-core, or the kernel cannot verify its process)`, p, caller);
    if (priority < p.basePriority)
      throw this.refuse(`priority ${priority} is above ${p.label}'s ceiling, queue ${p.basePriority}`, p, caller);
    const floor = systemFloor(p);
    if (floor && priority > floor.queue)
      throw this.refuse(
        `priority ${priority} is below ${p.label}'s floor, queue ${floor.queue} (a ${p.cls} stays above user programs, queue ${SchedQueue.USER})`,
        p,
        caller,
      );
    if (floor && quantumMs < floor.quantumMs)
      throw this.refuse(`quantum ${quantumMs} ms is below ${p.label}'s floor, ${floor.quantumMs} ms (a ${p.cls}'s shortest)`, p, caller);
    this.policyIs("server", p);
    if (p.priority === priority && p.quantumMs === quantumMs) return;
    const before = `queue ${p.priority}, ${p.quantumMs} ms`;
    p.priority = priority;
    p.quantumMs = quantumMs;
    p.leftMs = Math.min(p.leftMs, quantumMs);
    this.o.event?.(this.info(p), `sched: ${before} -> queue ${priority}, ${quantumMs} ms`);
    this.reschedule();
  }

  /** An answer refused (EINVAL): counted, and one too many within the window is a fallback. */
  private refuse(why: string, p: Proc | undefined, caller: string | undefined): MkError {
    this.refused++;
    if (this.guard.refused()) this.fallBack(p, caller);
    return new MkError("EINVAL", why);
  }

  /**
   * The policy's answers are absurd: the kernel stops asking it for POLICY_SUSPEND_MS,
   * puts every driver and server back at its base queue and quantum (user programs keep
   * theirs, which were within their bounds; balance lifts the sunk ones), and says so once.
   */
  private fallBack(p: Proc | undefined, caller: string | undefined): void {
    const restored: string[] = [];
    for (const q of this.procs.values()) {
      if (q.cls === "user" || (q.priority === q.basePriority && q.quantumMs === q.baseQuantumMs)) continue;
      Object.assign(q, { priority: q.basePriority, quantumMs: q.baseQuantumMs, leftMs: q.baseQuantumMs });
      restored.push(q.key);
    }
    this.policyInForce = "round-robin";
    const forS = Math.round(this.guard.suspendedMs() / 1000);
    const why = `${POLICY_REFUSALS_MAX} answers refused within ${POLICY_REFUSAL_WINDOW_MS / 1000} s`;
    this.o.log.warn(
      { caller, refusals: POLICY_REFUSALS_MAX, windowMs: POLICY_REFUSAL_WINDOW_MS, suspendS: forS, restored },
      "the scheduling policy's answers are absurd (%s): the kernel's own round robin for %d s; drivers and servers back at their base queue and quantum (%s)",
      why,
      forS,
      restored.join(", ") || "none had moved",
    );
    // One event, on the policy server's row when it has one (else on the process it was about).
    const row = (caller ? this.procs.get(caller) : undefined) ?? p ?? this.procs.values().next().value;
    if (row)
      this.o.event?.(
        this.info(row),
        `policy: the kernel's own round robin for ${forS} s (${why}); restored ${restored.join(", ") || "nothing"}`,
      );
    this.reschedule();
  }

  /** mkctl nice: for label's incarnations from now on. EINVAL outside -20..19. */
  nice(label: string, nice: number): void {
    if (!Number.isInteger(nice) || nice < NICE_MIN || nice > NICE_MAX)
      throw new MkError("EINVAL", `nice ${nice} is outside ${NICE_MIN}..${NICE_MAX}`);
    const before = this.niceOf(label);
    if (before === nice) return;
    this.nices.set(label, nice);
    for (const p of this.procs.values()) if (p.label === label) this.o.event?.(this.info(p), `nice ${before} -> ${nice}`);
  }

  niceOf(label: string): number {
    return this.nices.get(label) ?? 0;
  }

  rows(): ProcessInfo[] {
    return [...this.procs.values()].map((p) => this.info(p)).sort((a, b) => a.priority - b.priority || a.label.localeCompare(b.label));
  }

  summary(): SchedSummary {
    return {
      enabled: this.o.enabled,
      cpus: this.o.cpus,
      pit_hz: this.o.pitHz,
      ticks: this.ticks,
      policy: this.policyInForce,
      stops: this.stops,
      continues: this.continues,
      refused: this.refused,
      held_too_long: this.overruns,
      ...(this.guard.suspendedMs() > 0 ? { policy_suspended_ms: this.guard.suspendedMs() } : {}),
    };
  }

  /** kernel-core stops: every process it stopped runs again. */
  releaseAll(): void {
    for (const p of this.procs.values()) if (p.stopped) this.cont(p);
  }

  private runnable(p: Proc): boolean {
    if (p.frozen || p.gone) return false;
    // Stopped while runnable, preempted while computing (the host may starve it behind the
    // driver: it still is), or messages wait for it.
    if (p.stopped || p.preemptedAt !== undefined || p.held.length > 0) return true;
    // Seen computing: runnable whatever its messages say (a Node process computes while a
    // sendrec of its is outstanding).
    if (p.busy) return true;
    if (p.idle) return false;
    return p.pendingIn > p.waitingOut;
  }

  /**
   * Who runs: the `cpus` best runnable, controllable processes. Stops first, then
   * continues, so that the user programs not stopped stay within `cpus`. A user program
   * that loses its CPU is preempted lazily (not stopped yet, see preemptedAt) while room is
   * left, which is when a driver or server took the CPU; when another user program takes
   * it, or the program raised its own priority, it is stopped at once.
   */
  private reschedule(): void {
    if (!this.o.enabled) return;
    const runnable: Proc[] = [];
    for (const p of this.procs.values()) {
      if (!p.controllable) continue;
      if (this.runnable(p)) runnable.push(p);
      else if (p.running) {
        p.running = false; // it blocked: a voluntary switch
        p.voluntary++;
        p.blockedSinceExpiry++;
      }
    }
    runnable.sort((a, b) => a.priority - b.priority || a.seq - b.seq);
    const want = new Set(runnable.slice(0, this.o.cpus));
    // Room for lazily preempted programs: CPUs that no wanted user program takes.
    let room = this.o.cpus;
    for (const p of want) if (p.cls === "user") room--;
    for (const p of runnable) {
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
      } else this.stopNow(p);
    }
    for (const p of want) {
      p.preemptedAt = undefined;
      if (p.running) continue;
      if (p.stopped) this.cont(p);
      if (p.stopped || p.gone) continue; // the continue did not happen: its turn comes again
      p.running = true;
      p.sampledAt = this.o.clock.now(); // its turn is charged from now
      p.idle = false;
      if (p.leftMs <= 0) p.leftMs = p.quantumMs;
      this.release(p);
    }
  }

  /** p runs: the messages held for it go on. */
  private release(p: Proc): void {
    const held = p.held;
    p.held = [];
    for (const go of held) go();
  }

  /**
   * At each look: the host nice is set again if setting it failed (an agent reconnecting),
   * and a user program seen at the value set and later above it (it raised its own
   * priority) is set back each time and never preempted lazily again. Through an agent,
   * until /proc has shown the value set, a lower one is the agent not having acted yet.
   */
  private checkHostNice(p: Proc, nice: number | undefined): void {
    if (p.hostNice === undefined) return this.applyHostNice(p);
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
      this.o.event?.(this.info(p), `raised its Linux nice to ${nice}: set back to ${p.hostNice}, no lazy preemption`);
    }
    p.reniced = true;
    p.hostNice = undefined;
    this.applyHostNice(p);
  }

  private applyHostNice(p: Proc): void {
    if (!p.controllable) return;
    const n = hostNice(p.cls);
    if (n !== p.hostNice && this.o.control.setHostNice(p.pid, n)) {
      p.hostNice = n;
      // Set at once (process mode): a higher priority seen from now on is the program's own
      // doing, even if no look came between. Through an agent: only once /proc has shown it.
      if (!this.o.control.niceLater) p.niceSeen = true;
    }
  }

  private stopNow(p: Proc): void {
    p.preemptedAt = undefined;
    if (this.o.control.stop(p.pid)) {
      p.stopped = true;
      this.stops++;
    }
  }

  /** Continues p; if that fails, p stays stopped (tried again at its next turn), or is gone. */
  private cont(p: Proc): void {
    if (this.o.control.cont(p.pid)) {
      p.stopped = false;
      p.contTick = this.ticks;
      this.continues++;
      return;
    }
    if (!this.o.control.sample(p.pid)) {
      p.gone = true;
      p.stopped = false;
    }
  }

  private askPolicy(p: Proc): void {
    const blocked = p.blockedSinceExpiry;
    p.blockedSinceExpiry = 0;
    if (!this.o.policy || p.askingPolicy || this.guard.suspendedMs() > 0) return;
    p.askingPolicy = true;
    const msg: NoQuantum = {
      endpoint: p.key,
      class: p.cls,
      priority: p.priority,
      base_priority: p.basePriority,
      quantum_ms: p.quantumMs,
      base_quantum_ms: p.baseQuantumMs,
      nice: this.niceOf(p.label),
      blocked,
      cpu_ms: Math.round(p.cpuNs / 1e6),
    };
    this.o.policy(msg).then(
      (taken) => this.policyAnswered(p, taken),
      () => this.policyAnswered(p, false),
    );
  }

  private policyAnswered(p: Proc, taken: boolean): void {
    p.askingPolicy = false;
    if (this.guard.suspendedMs() > 0) return; // a question asked before the fallback: the kernel's policy stays
    this.policyIs(taken ? "server" : "round-robin", p);
  }

  private policyIs(now: SchedSummary["policy"], p: Proc): void {
    if (now === this.policyInForce) return;
    this.policyInForce = now;
    this.o.log.warn(
      { policy: now },
      now === "server"
        ? "the sched server answers again: its policy is in force"
        : "the sched server does not answer: the kernel schedules round robin",
    );
    this.o.event?.(
      this.info(p),
      now === "server" ? "policy: the sched server's" : "policy: the kernel's round robin (sched does not answer)",
    );
  }

  private info(p: Proc): ProcessInfo {
    const state: ProcState = !p.controllable
      ? "free"
      : p.running
        ? "running"
        : p.stopped
          ? "preempted"
          : this.runnable(p)
            ? "ready"
            : p.waitingOut > 0
              ? "reply"
              : "receiving";
    const stat = state === "free" ? "F" : p.stopped || p.frozen ? "T" : state === "running" || state === "ready" ? "R" : "S";
    return {
      endpoint: p.key,
      label: p.label,
      pid: p.pid,
      placement: p.placement,
      class: p.cls,
      state,
      stat,
      priority: p.priority,
      base_priority: p.basePriority,
      quantum_ms: p.quantumMs,
      left_ms: Math.max(0, Math.round(p.leftMs)),
      nice: this.niceOf(p.label),
      cpu_ms: Math.round(p.cpuNs / 1e6),
      cpu_pct: p.window.pct,
      voluntary: p.voluntary,
      involuntary: p.involuntary,
      pending_in: p.pendingIn,
      waiting_out: p.waitingOut,
    };
  }
}
