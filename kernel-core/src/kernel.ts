// kernel-core assembled: endpoint table, IRQ lines, the trap path, the hardware bus, and
// the servers placed inside the kernel. Knows nothing of NATS except through its Link.
import { hostname } from "node:os";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { KERNEL, type EndpointInfo } from "../abi/index.ts";
import type { Clock } from "../../services/libsys/src/clock.ts";
import { createLogger, type Logger } from "../../services/libsys/src/log.ts";
import { startService, type RunningService, type ServiceModule } from "../../services/libsys/src/service.ts";
import type { KernelState } from "./calls/context.ts";
import type { HwBus } from "./hw/hw-bus.ts";
import { KernelMetrics } from "./http/metrics.ts";
import { IrqTable } from "./irq/irq-table.ts";
import { EndpointTable } from "./ipc/endpoint-table.ts";
import { Ipc } from "./ipc/ipc.ts";
import { KernelTransport } from "./ipc/kernel-transport.ts";
import { privilegeSummary, type SystemTable } from "./priv/system-table.ts";

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
  readonly inKernel: RunningService[] = [];
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

  /** Loads every service whose placement is kernel and starts it inside this process. */
  async startInKernelServices(): Promise<void> {
    for (const svc of this.priv.services.values()) {
      if (svc.placement !== "kernel") continue;
      const mod = (await import(pathToFileURL(resolve(PROJECT_ROOT, svc.module!)).href)) as { service?: ServiceModule };
      if (!mod.service) throw new Error(`${svc.module} does not export a service (ServiceModule)`);
      const transport = new KernelTransport(svc.label, this.ipc, this.log);
      const running = await startService(mod.service, transport, { log: createLogger(svc.label).child({ placement: "kernel" }), clock: this.clock });
      this.inKernel.push(running);
    }
  }

  async stop(): Promise<void> {
    for (const s of this.inKernel) await s.stop().catch(() => undefined);
  }
}
