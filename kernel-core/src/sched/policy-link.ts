// The kernel's side of the scheduling policy (MINIX's do_schedule and the quantum-expired
// message): a process whose quantum ran out is reported to the sched server, which may
// answer with SYS_SCHEDULE, held to the floors of policy-guard.ts. Without sched, or while
// its answers are absurd, the kernel goes on round robin.
import {
  ENDPOINT_RE,
  MkError,
  NR_SCHED_QUEUES,
  QUANTUM_MAX_MS,
  QUANTUM_MIN_MS,
  SchedQueue,
  type ReqArgs,
  type Sched,
  type SchedSummary,
} from "#abi";
import type { Clock } from "#base/clock.ts";
import type { Logger } from "#base/log.ts";
import { POLICY_REFUSAL_WINDOW_MS, POLICY_REFUSALS_MAX, PolicyGuard, systemFloor } from "./policy-guard.ts";
import type { Proc, ProcTable } from "./proc-table.ts";

export type NoQuantum = ReqArgs<typeof Sched.SCHED_NO_QUANTUM>;

export interface PolicyLinkOptions {
  clock: Clock;
  log: Logger;
  table: ProcTable;
  /** Tells the policy server a quantum ran out; resolves false when nothing took the message. */
  policy?: (msg: NoQuantum) => Promise<boolean>;
  /** The policy server's label: a new incarnation of it is asked again at once, even while its predecessor's answers were absurd. */
  policyLabel?: string;
  /** A change worth publishing on the event stream, about p. */
  event: (p: Proc, detail: string) => void;
  /** Queues or quanta changed: who runs may change. */
  changed: () => void;
}

export class PolicyLink {
  private readonly o: PolicyLinkOptions;
  private readonly table: ProcTable;
  private readonly guard: PolicyGuard;
  /** SYS_SCHEDULEs refused. */
  refused = 0;
  private inForce: SchedSummary["policy"] = "round-robin";

  constructor(o: PolicyLinkOptions) {
    this.o = o;
    this.table = o.table;
    this.guard = new PolicyGuard(o.clock);
  }

  get policy(): SchedSummary["policy"] {
    return this.inForce;
  }

  suspendedMs(): number {
    return this.guard.suspendedMs();
  }

  /** A new incarnation of label: a new sched is asked again at once. */
  started(label: string, key: string): void {
    if (label === this.o.policyLabel && this.guard.resume())
      this.o.log.info({ endpoint: key }, "a new sched incarnation: the kernel asks it again");
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
    const p = this.table.get(endpoint);
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
    this.o.event(p, `sched: ${before} -> queue ${priority}, ${quantumMs} ms`);
    this.o.changed();
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
    for (const q of this.table.values()) {
      if (q.cls === "user" || (q.priority === q.basePriority && q.quantumMs === q.baseQuantumMs)) continue;
      Object.assign(q, { priority: q.basePriority, quantumMs: q.baseQuantumMs, leftMs: q.baseQuantumMs });
      restored.push(q.key);
    }
    this.inForce = "round-robin";
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
    const row = (caller ? this.table.get(caller) : undefined) ?? p ?? this.table.values().next().value;
    if (row) this.o.event(row, `policy: the kernel's own round robin for ${forS} s (${why}); restored ${restored.join(", ") || "nothing"}`);
    this.o.changed();
  }

  /** p's quantum ran out: the policy server hears of it (one question per process at a time). */
  ask(p: Proc): void {
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
      nice: this.table.niceOf(p.label),
      blocked,
      cpu_ms: Math.round(p.cpuNs / 1e6),
    };
    this.o.policy(msg).then(
      (taken) => this.answered(p, taken),
      () => this.answered(p, false),
    );
  }

  private answered(p: Proc, taken: boolean): void {
    p.askingPolicy = false;
    if (this.guard.suspendedMs() > 0) return; // a question asked before the fallback: the kernel's policy stays
    this.policyIs(taken ? "server" : "round-robin", p);
  }

  private policyIs(now: SchedSummary["policy"], p: Proc): void {
    if (now === this.inForce) return;
    this.inForce = now;
    this.o.log.warn(
      { policy: now },
      now === "server"
        ? "the sched server answers again: its policy is in force"
        : "the sched server does not answer: the kernel schedules round robin",
    );
    this.o.event(p, now === "server" ? "policy: the sched server's" : "policy: the kernel's round robin (sched does not answer)");
  }
}
