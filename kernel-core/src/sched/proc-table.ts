// The process table (MINIX's proc[]): one row per incarnation the scheduler knows, what it
// was given (class, base queue and quantum), where it stands (running, stopped, preempted,
// frozen, gone) and what it used. Rows are data; dispatch.ts decides who runs,
// host-priority.ts acts on the host, policy-link.ts talks to the sched server.
import { DEFAULT_QUANTUM_MS, SchedQueue, type ProcessInfo, type ProcState } from "#abi";

export type ProcClass = ProcessInfo["class"];

/** A label's settings from the privilege table (`sched:`) and its class. */
export interface ProcDefaults {
  cls: ProcClass;
  priority?: number;
  quantumMs?: number;
  nice?: number;
}

/** What the endpoint table says of a new incarnation. */
export interface ProcIdentity {
  key: string;
  label: string;
  pid: number;
  placement: "kernel" | "user";
  host: string;
}

export interface Proc {
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

/**
 * Whether p wants a CPU: stopped while runnable, preempted while computing (the host may
 * starve it behind the driver: it still is), messages held for it, seen computing (a Node
 * process computes while a sendrec of its is outstanding), or more messages to handle than
 * replies it waits for. Never when frozen by someone else, gone, or seen idle.
 */
export function runnable(p: Proc): boolean {
  if (p.frozen || p.gone) return false;
  if (p.stopped || p.preemptedAt !== undefined || p.held.length > 0) return true;
  if (p.busy) return true;
  if (p.idle) return false;
  return p.pendingIn > p.waitingOut;
}

export class ProcTable {
  private readonly procs = new Map<string, Proc>();
  /** mkctl nice, per label: outlives incarnations. Bounded by the privilege table's labels. */
  private readonly nices = new Map<string, number>();
  private seq = 0;

  get(key: string): Proc | undefined {
    return this.procs.get(key);
  }

  has(key: string): boolean {
    return this.procs.has(key);
  }

  values(): IterableIterator<Proc> {
    return this.procs.values();
  }

  /** Whether p is still the row for its key (not a dead incarnation's). */
  current(p: Proc): boolean {
    return this.procs.get(p.key) === p;
  }

  /** A new row at the back of its base queue; the label's nice from the table unless mkctl set one. */
  add(e: ProcIdentity, d: ProcDefaults, controllable: boolean, now: number): Proc {
    const base = d.priority ?? (d.cls === "driver" ? SchedQueue.DRIVER : d.cls === "server" ? SchedQueue.SERVER : SchedQueue.USER);
    const quantum = d.quantumMs ?? DEFAULT_QUANTUM_MS;
    if (d.nice !== undefined && !this.nices.has(e.label)) this.nices.set(e.label, d.nice);
    const p: Proc = {
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
      seq: this.nextSeq(),
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
    };
    this.procs.set(e.key, p);
    return p;
  }

  delete(key: string): Proc | undefined {
    const p = this.procs.get(key);
    this.procs.delete(key);
    return p;
  }

  /** The next place at the back of a queue. */
  nextSeq(): number {
    return ++this.seq;
  }

  niceOf(label: string): number {
    return this.nices.get(label) ?? 0;
  }

  setNice(label: string, nice: number): void {
    this.nices.set(label, nice);
  }

  /** The rows as /proc and mkctl ps show them: by queue, then label. */
  rows(): ProcessInfo[] {
    return [...this.procs.values()].map((p) => this.info(p)).sort((a, b) => a.priority - b.priority || a.label.localeCompare(b.label));
  }

  info(p: Proc): ProcessInfo {
    const state: ProcState = !p.controllable
      ? "free"
      : p.running
        ? "running"
        : p.stopped
          ? "preempted"
          : runnable(p)
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
