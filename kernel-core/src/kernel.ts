// kernel-core assembled: endpoint table, IRQ lines, the trap path, the hardware bus, and
// the servers placed inside the kernel. Knows nothing of NATS except through its Link.
import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { resolve } from "node:path";
import {
  baseLabel,
  DeathCause,
  EventKind,
  HARDWARE,
  KERNEL,
  NOTIFY_HW_RESET,
  PIT_INPUT_HZ,
  Sched,
  type EndpointInfo,
  type IpcPath,
} from "#abi";
import type { Clock } from "#base/clock.ts";
import { LogLimiter, type Logger } from "#base/log.ts";
import { privilegesOf, privilegeSummary, type ServicePrivileges, type SystemTable } from "#base/system-table.ts";
import { waitUntil } from "#base/wait.ts";
import type { CallContext, KernelState } from "./calls/context.ts";
import { KernelEvents, type Denial } from "./events/kernel-events.ts";
import type { HwBus } from "./hw/hw-bus.ts";
import { KernelMetrics } from "./metrics/metrics.ts";
import { IrqTable } from "./irq/irq-table.ts";
import { EndpointTable, type EndpointEntry, type GenerationStore } from "./table/endpoint-table.ts";
import { Ipc } from "./ipc/ipc.ts";
import { KernelDispatch } from "./ipc/kernel-dispatch.ts";
import { SignalControl, type ProcessControl } from "./sched/process-control.ts";
import { Scheduler, type ProcClass } from "./sched/scheduler.ts";

/** The label of the user-space scheduling policy server. */
const SCHED_LABEL = "sched";
/** How long a SCHED_NO_QUANTUM may wait to be taken before the kernel goes on without sched. */
const POLICY_TIMEOUT_MS = 1000;

/** The checkout's root: module paths in system.yaml are relative to it. */
export const PROJECT_ROOT = resolve(import.meta.dirname, "../..");

/** How long a readiness answer about the hardware is trusted before the bus is asked again. */
const HW_CHECK_MS = 1000;
/** The serial console's data port (COM1, the 16550 the tty driver owns): where a panic is printed. */
const COM1_DATA = 0x3f8;
/** Bytes per string write of the panic message. */
const PANIC_CHUNK = 256;

export interface KernelOptions {
  priv: SystemTable;
  hw: HwBus;
  log: Logger;
  clock: Clock;
  metrics?: KernelMetrics;
  /** How the scheduler stops and continues processes (default: signals and /proc). */
  control?: ProcessControl;
  /** Where generation high-water marks outlive this kernel (absent: in memory only). */
  generations?: GenerationStore;
}

export class Kernel implements KernelState {
  readonly table: EndpointTable;
  readonly priv: SystemTable;
  readonly irqs = new IrqTable();
  readonly hw: HwBus;
  readonly log: Logger;
  readonly logLimiter: LogLimiter;
  readonly metrics: KernelMetrics;
  readonly clock: Clock;
  readonly ipc: Ipc;
  readonly sched: Scheduler;
  readonly control: ProcessControl;
  readonly boot = randomBytes(16).toString("hex");
  /** mk.ev.>: every lifecycle change and denial (main attaches NATS). */
  readonly events: KernelEvents;
  private readonly inKernel: { stop(): Promise<void> }[] = [];
  /** The emulator's boot the PIT was programmed for; another one means the machine restarted. */
  private hardwareBoot?: string;
  private hwChecked = { at: -Infinity, ok: false, pending: undefined as Promise<boolean> | undefined };

  constructor(o: KernelOptions) {
    this.priv = o.priv;
    this.hw = o.hw;
    this.log = o.log;
    this.clock = o.clock;
    this.logLimiter = new LogLimiter(o.clock);
    this.metrics = o.metrics ?? new KernelMetrics();
    // Without a store the marks live as long as this kernel, for the table's labels only.
    this.table = new EndpointTable(
      o.clock,
      o.generations ?? { load: () => new Map(), save: () => undefined, keep: (label) => o.priv.services.has(label) },
    );
    const calls = new KernelDispatch(this);
    this.ipc = new Ipc(
      {
        table: this.table,
        priv: this.priv,
        irqs: this.irqs,
        metrics: this.metrics,
        deny: (d) => this.deny(d),
        tick: () => this.sched.tick(),
        call: (t, priv, caller) => calls.call(t, priv, caller),
      },
      o.clock,
    );
    this.events = new KernelEvents(o.clock, this.boot);
    const s = this.priv.kernel.sched;
    this.control = o.control ?? new SignalControl();
    this.sched = new Scheduler({
      clock: o.clock,
      control: this.control,
      log: o.log,
      enabled: s.enabled,
      cpus: s.cpus,
      pitHz: this.priv.kernel.pitHz,
      policy: this.priv.services.has(SCHED_LABEL)
        ? (msg) => this.ipc.sendFromKernel(SCHED_LABEL, Sched.SCHED_NO_QUANTUM, msg, POLICY_TIMEOUT_MS)
        : undefined,
      policyLabel: SCHED_LABEL,
      event: (row, detail) => this.events.sched(row, detail),
    });
    this.ipc.gate = { enter: (ep, source, waits) => this.sched.enter(ep.key, source, waits) };
    this.sched.start();
    this.table.onChange((kind, ep, cause, detail) => {
      this.events.lifecycle(kind, ep, cause, detail);
      if (kind === "dead") this.onDeath(ep, cause!, detail);
      if (kind === "dead") this.sched.remove(ep.key);
      else if (kind === EventKind.STARTED || kind === EventKind.RESUMED) {
        const svc = privilegesOf(this.priv, ep.label);
        const cls: ProcClass =
          svc && (svc.io.length > 0 || svc.irq.length > 0) ? "driver" : svc?.command || ep.placement === "kernel" ? "server" : "user";
        this.sched.add({ key: ep.key, label: ep.label, pid: ep.pid, placement: ep.placement, host: ep.host }, { cls, ...svc?.sched });
      }
    });
    const self = this.table.incarnate(KERNEL, { placement: "kernel", pid: process.pid, host: hostname(), conn: "" });
    this.table.ready(self.entry);
    this.metrics.endpointStates = () => this.table.list().map((e) => e.state);
    this.metrics.waiters = () => this.table.waiting;
    this.metrics.inFlight = () => this.ipc.pending.inFlight();
  }

  /** The paths a sendrec from priv's label to dst can take in this run (what SYS_IPCSTAT may report for the pair). */
  pathsTo(priv: ServicePrivileges, dst: string): IpcPath[] {
    const out: IpcPath[] = ["trap"];
    const mode = this.ipc.pathMode;
    const entry = priv.paths.get(dst);
    if (mode === "reply-direct" || (mode === "table" && (entry === "reply-direct" || entry === "channel"))) out.push("reply-direct");
    if (mode === "table" && entry === "channel") out.push("channel");
    if (this.priv.services.get(dst)?.placement === "kernel") out.push("in-kernel");
    return out;
  }

  channelLabels(priv: ServicePrivileges): string[] {
    if (this.ipc.pathMode !== "table") return [];
    return [...priv.paths].filter(([, path]) => path === "channel").map(([label]) => label);
  }

  async openChannel(c: CallContext, dst: string): Promise<{ args: { subject: string; token: string } }> {
    return { args: await this.ipc.openChannel(c, dst) };
  }

  stillThere(ep: EndpointEntry, timeoutMs: number): Promise<boolean> {
    return this.ipc.stillThere(ep, timeoutMs);
  }

  /** The endpoint table with each service's privileges, as getinfo and /endpoints show it. */
  endpointRows(): EndpointInfo[] {
    return this.table.list().map((row) => {
      const p = privilegesOf(this.priv, row.label);
      return p ? { ...row, privileges: privilegeSummary(p) } : row;
    });
  }

  /**
   * A death is counted by cause; a client's own exit is not a crash and is logged as such.
   * A client (a service nothing starts) leaves no row behind: nothing will restart it.
   */
  private onDeath(ep: EndpointEntry, cause: DeathCause, detail?: string): void {
    // By label: a tool's runs (mkctl.<id>) are one series, not one each.
    const label = baseLabel(ep.label);
    this.metrics.deaths.labels(label, cause).inc();
    const normal = cause === DeathCause.EXIT || cause === DeathCause.SUPERSEDED;
    const why = detail ? `${cause} (${detail})` : cause;
    this.logLimiter.allow(this.log, `death:${label}:${cause}`, () =>
      this.log[normal ? "info" : "warn"](
        { incarnation: ep.key, cause, detail },
        normal ? "incarnation %s ended: %s" : "incarnation %s died: %s",
        ep.key,
        why,
      ),
    );
    const svc = privilegesOf(this.priv, ep.label);
    if (svc && svc.placement === "user" && !svc.command && cause !== DeathCause.SUPERSEDED) this.table.forget(ep);
  }

  /**
   * Something the privilege table does not grant was refused: counted (by call and
   * reason), logged and published as an event, the last two within a budget per caller.
   */
  deny(d: Denial & { call: string; fields?: Record<string, unknown>; message: string }): void {
    this.metrics.denials.labels(d.call, d.denied).inc();
    // Keyed by caller and kind, never by the target, which the caller chooses.
    this.logLimiter.allow(this.log, `denied:${baseLabel(d.label)}:${d.denied}`, () =>
      this.log.warn(
        { caller: d.entry?.key ?? d.label, call: d.call, denied: d.denied, target: d.target, ...d.fields },
        "denied: %s",
        d.message,
      ),
    );
    this.events.denial(d);
  }

  /**
   * Programs the PIT for the configured tick (MINIX init_clock), and so proves the bus
   * answers. Retries until the emulator is up or the deadline passes.
   */
  async bootHardware(deadlineMs = 30_000): Promise<void> {
    const info = await waitUntil(() => this.hw.info(1000), {
      clock: this.clock,
      deadlineMs,
      what: "the hardware emulator answering on mk.hw.io",
      intervalMs: 200,
    });
    await this.programHardware(info.boot);
  }

  private async programHardware(boot: string): Promise<void> {
    const divisor = Math.round(PIT_INPUT_HZ / this.priv.kernel.pitHz) & 0xffff;
    await this.hw.io([
      ["outb", 0x43, 0x34],
      ["outb", 0x40, divisor & 0xff],
      ["outb", 0x40, divisor >> 8],
    ]);
    const restarted = this.hardwareBoot !== undefined && this.hardwareBoot !== boot;
    this.hardwareBoot = boot;
    this.hwChecked = { at: this.clock.now(), ok: true, pending: undefined };
    this.log.info(
      { pitHz: this.priv.kernel.pitHz, divisor, hardwareBoot: boot },
      restarted
        ? "the machine restarted: PIT programmed again, drivers told to set up their devices"
        : "hardware bus answered; PIT programmed",
    );
    if (!restarted) return;
    // Every live service with ports or IRQ lines sets its device up again.
    for (const svc of this.priv.services.values()) {
      if (svc.io.length > 0 || svc.irq.length > 0) this.ipc.notifyFromKernel(svc.label, HARDWARE, NOTIFY_HW_RESET);
    }
  }

  /** The emulator announced a boot (mk.hw.boot): if it is a new one, set the machine up again. */
  async hardwareAnnounced(boot: string): Promise<void> {
    if (boot === this.hardwareBoot) return;
    try {
      await this.programHardware(boot);
    } catch (e) {
      this.log.error({ err: e }, "could not program the restarted machine");
    }
  }

  /**
   * Ready means the hardware bus answers now (asked at most once a second, however often
   * readiness is asked); a machine found restarted is set up again on the way.
   */
  async hardwareAnswers(): Promise<boolean> {
    const c = this.hwChecked;
    if (this.clock.now() - c.at < HW_CHECK_MS) return c.ok;
    if (c.pending) return c.pending;
    c.pending = this.hw
      .info(900)
      .then(
        async (info) => {
          if (info.boot !== this.hardwareBoot) await this.hardwareAnnounced(info.boot);
          return true;
        },
        () => false,
      )
      .then((ok) => {
        this.hwChecked = { at: this.clock.now(), ok, pending: undefined };
        return ok;
      });
    return c.pending;
  }

  /**
   * A server inside kernel-core crashed: the blue screen. The panic event (the boot's last)
   * and the message on the serial console, as a kernel's panic() prints to its console
   * before it halts; the caller ends the process. Nothing restarts what ran inside: rs runs
   * above the kernel.
   */
  async panic(label: string, err: unknown): Promise<void> {
    const what = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    const entry = this.table.get(label);
    if (entry) this.events.lifecycle(EventKind.PANIC, entry, undefined, `in-kernel server ${label} crashed: ${what}`);
    const text = new TextEncoder().encode(
      `\r\n*** kernel panic: in-kernel server ${label} crashed: ${what.slice(0, 200)}\r\n*** kernel-core stops; nothing inside it restarts\r\n`,
    );
    for (let off = 0; off < text.length; off += PANIC_CHUNK) {
      const chunk = text.subarray(off, off + PANIC_CHUNK);
      await this.hw.io([["outsb", COM1_DATA, chunk.length]], chunk);
    }
  }

  /** Registers a server running inside this process (kernel placement), for stop(). */
  hosted(s: { stop(): Promise<void> }): void {
    this.inKernel.push(s);
  }

  async stop(): Promise<void> {
    this.sched.stop();
    this.sched.releaseAll();
    for (const s of this.inKernel) await s.stop().catch(() => undefined);
  }
}
