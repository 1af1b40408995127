// kernel-core assembled: endpoint table, IRQ lines, the trap path, the hardware bus, and
// the servers placed inside the kernel. Knows nothing of NATS except through its Link.
import { hostname } from "node:os";
import { resolve } from "node:path";
import { KERNEL, type EndpointInfo } from "#abi";
import type { Clock } from "#base/clock.ts";
import type { Logger } from "#base/log.ts";
import type { KernelState } from "./calls/context.ts";
import type { HwBus } from "./hw/hw-bus.ts";
import { KernelMetrics } from "./http/metrics.ts";
import { IrqTable } from "./irq/irq-table.ts";
import { EndpointTable } from "./ipc/endpoint-table.ts";
import { Ipc } from "./ipc/ipc.ts";
import { privilegeSummary, type SystemTable } from "#base/system-table.ts";

/** The checkout's root: module paths in system.yaml are relative to it. */
export const PROJECT_ROOT = resolve(import.meta.dirname, "../..");

export interface KernelOptions {
  priv: SystemTable;
  hw: HwBus;
  log: Logger;
  clock: Clock;
  metrics?: KernelMetrics;
}

export class Kernel implements KernelState {
  readonly table: EndpointTable;
  readonly priv: SystemTable;
  readonly irqs = new IrqTable();
  readonly hw: HwBus;
  readonly log: Logger;
  readonly metrics: KernelMetrics;
  readonly clock: Clock;
  readonly ipc: Ipc;
  private readonly inKernel: { stop(): Promise<void> }[] = [];
  hardwareReady = false;

  constructor(o: KernelOptions) {
    this.priv = o.priv;
    this.hw = o.hw;
    this.log = o.log;
    this.clock = o.clock;
    this.metrics = o.metrics ?? new KernelMetrics();
    this.table = new EndpointTable(o.clock);
    this.ipc = new Ipc(this, o.clock);
    const self = this.table.incarnate(KERNEL, { placement: "kernel", pid: process.pid, host: hostname(), cid: 0 });
    this.table.ready(self.entry);
    this.metrics.endpointStates = () => this.table.list().map((e) => e.state);
  }

  /** The endpoint table with each service's privileges, as getinfo and /endpoints show it. */
  endpointRows(): EndpointInfo[] {
    return this.table.list().map((row) => {
      const p = this.priv.services.get(row.label);
      return p ? { ...row, privileges: privilegeSummary(p) } : row;
    });
  }

  /**
   * Programs the PIT for the configured tick (MINIX init_clock) and so proves the bus
   * answers. Retries until the emulator is up or the deadline passes.
   */
  async bootHardware(deadlineMs = 30_000): Promise<void> {
    const divisor = Math.round(1193182 / this.priv.kernel.pitHz) & 0xffff;
    const start = Date.now();
    for (let attempt = 1; ; attempt++) {
      try {
        await this.hw.io([["outb", 0x43, 0x34], ["outb", 0x40, divisor & 0xff], ["outb", 0x40, divisor >> 8]]);
        this.hardwareReady = true;
        this.log.info({ pitHz: this.priv.kernel.pitHz, divisor }, "hardware bus answered; PIT programmed");
        return;
      } catch (e) {
        if (Date.now() - start > deadlineMs) throw e;
        if (attempt === 1) this.log.info("waiting for the hardware emulator on mk.hw.io");
        await new Promise((r) => setTimeout(r, Math.min(50 * attempt, 500)));
      }
    }
  }

  /** Registers a server running inside this process (kernel placement), for stop(). */
  hosted(s: { stop(): Promise<void> }): void {
    this.inKernel.push(s);
  }

  async stop(): Promise<void> {
    for (const s of this.inKernel) await s.stop().catch(() => undefined);
  }
}
