// The scheduler (MINIX's proc.c and clock task; the policy is the sched server's), a small
// facade over four parts:
//   proc-table.ts     one row per incarnation: class, queue, quantum, state, CPU used;
//   dispatch.ts       who runs (the `cpus` best runnable, by queue then arrival), what
//                     each PIT tick charges, messages held for a driver not dispatched yet;
//   host-priority.ts  what that becomes on the host: SIGSTOP/SIGCONT for user programs,
//                     Linux nice 19 for them against 0 for the message path;
//   policy-link.ts    quantum-expired messages to sched and its SYS_SCHEDULE answers, held
//                     to the floors of policy-guard.ts, round robin without it.
// The trap path says who is blocked: a caller in sendrec waits for its reply, a server
// with no message waits in receive; what runs without trapping (a computing user program)
// is seen in /proc at each clock tick. User programs that may not run are really stopped;
// drivers and servers are never stopped (a stop the scheduler sent would be
// indistinguishable from one a debugger or a chaos hang sent), so the messages for one
// that may not run wait in the kernel until it is dispatched. A driver or server
// dispatched over a user program preempts it lazily: the program loses its CPU in the
// table at once, the host's priority runs the driver first, and the program is really
// stopped only if it is still preempted a tick period later (a request that lasts a
// millisecond costs no signal; two signals cost more than the request).
import { MkError, NICE_MAX, NICE_MIN, type ProcessInfo, type SchedSummary } from "#abi";
import { Dispatcher, type Entry, type SchedSettings } from "./dispatch.ts";
import { HostPriority } from "./host-priority.ts";
import { type NoQuantum, PolicyLink } from "./policy-link.ts";
import { type Proc, type ProcDefaults, type ProcIdentity, ProcTable } from "./proc-table.ts";

export { HOLD_MAX_MS, type Entry } from "./dispatch.ts";
export type { NoQuantum } from "./policy-link.ts";
export type { ProcClass, ProcDefaults } from "./proc-table.ts";

export interface SchedulerOptions extends SchedSettings {
  /** Tells the policy server a quantum ran out; resolves false when nothing took the message. */
  policy?: (msg: NoQuantum) => Promise<boolean>;
  /** The policy server's label: a new incarnation of it is asked again at once, even while its predecessor's answers were absurd. */
  policyLabel?: string;
  /** A change worth publishing on the event stream. */
  event?: (row: ProcessInfo, detail: string) => void;
}

export class Scheduler {
  private readonly o: SchedulerOptions;
  private readonly table = new ProcTable();
  private readonly host: HostPriority;
  private readonly dispatch: Dispatcher;
  private readonly policy: PolicyLink;

  constructor(o: SchedulerOptions) {
    this.o = o;
    const event = (p: Proc, detail: string) => o.event?.(this.table.info(p), detail);
    this.host = new HostPriority({ control: o.control, log: o.log, event });
    this.policy = new PolicyLink({
      clock: o.clock,
      log: o.log,
      table: this.table,
      policy: o.policy,
      policyLabel: o.policyLabel,
      event,
      changed: () => this.dispatch.reschedule(),
    });
    this.dispatch = new Dispatcher({
      ...o,
      table: this.table,
      host: this.host,
      expired: (procs) => {
        for (const p of procs) this.policy.ask(p);
      },
    });
  }

  /** Starts the watchdog that ticks for a silent PIT. */
  start(): void {
    this.dispatch.start();
  }

  stop(): void {
    this.dispatch.stop();
  }

  /** A new incarnation (started or resumed). A pid the controller cannot verify is free: never stopped. */
  add(e: ProcIdentity, d: ProcDefaults): void {
    if (this.table.has(e.key)) return;
    this.policy.started(e.label, e.key);
    const controllable = this.o.enabled && e.placement === "user" && this.o.control.verify(e.pid, e.label, e.host);
    const p = this.table.add(e, d, controllable, this.o.clock.now());
    this.host.apply(p);
    this.dispatch.reschedule();
  }

  /** The incarnation is dead: a process it stopped is continued (so it can end), never left frozen. */
  remove(key: string): void {
    const p = this.table.delete(key);
    if (!p) return;
    if (p.stopped) this.host.cont(p, this.dispatch.ticks);
    this.dispatch.release(p); // what waits on it fails by its death in the trap path
    if (p.controllable) this.o.control.forget?.(p.pid);
    this.dispatch.reschedule();
  }

  /** A message for dst from src enters the trap path (see Dispatcher.enter). */
  enter(dst: string, src: string | undefined, waits: boolean): Entry {
    return this.dispatch.enter(dst, src, waits);
  }

  /** One PIT tick (IRQ 0): sample, charge, expire quanta, dispatch. */
  tick(fromWatchdog = false): void {
    this.dispatch.tick(fromWatchdog);
  }

  /** SYS_SCHEDULE from the sched server (see PolicyLink.schedule). */
  schedule(endpoint: string, priority: number, quantumMs: number, caller?: string): void {
    this.policy.schedule(endpoint, priority, quantumMs, caller);
  }

  /** mkctl nice: for label's incarnations from now on. EINVAL outside -20..19. */
  nice(label: string, nice: number): void {
    if (!Number.isInteger(nice) || nice < NICE_MIN || nice > NICE_MAX)
      throw new MkError("EINVAL", `nice ${nice} is outside ${NICE_MIN}..${NICE_MAX}`);
    const before = this.table.niceOf(label);
    if (before === nice) return;
    this.table.setNice(label, nice);
    for (const p of this.table.values()) if (p.label === label) this.o.event?.(this.table.info(p), `nice ${before} -> ${nice}`);
  }

  niceOf(label: string): number {
    return this.table.niceOf(label);
  }

  rows(): ProcessInfo[] {
    return this.table.rows();
  }

  summary(): SchedSummary {
    const suspended = this.policy.suspendedMs();
    return {
      enabled: this.o.enabled,
      cpus: this.o.cpus,
      pit_hz: this.o.pitHz,
      ticks: this.dispatch.ticks,
      policy: this.policy.policy,
      stops: this.host.stops,
      continues: this.host.continues,
      refused: this.policy.refused,
      held_too_long: this.dispatch.overruns,
      ...(suspended > 0 ? { policy_suspended_ms: suspended } : {}),
    };
  }

  /** kernel-core stops: every process it stopped runs again. */
  releaseAll(): void {
    for (const p of this.table.values()) if (p.stopped) this.host.cont(p, this.dispatch.ticks);
  }
}
