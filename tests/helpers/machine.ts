// An in-process emulated machine on a temp disk image, driven at port level.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Machine } from "../../hardware-emulator/src/index.ts";
import { ManualClock } from "#base/clock.ts";
import type { HwBus, HwOp } from "../../kernel-core/src/hw/hw-bus.ts";
import type { HwFaultRequest } from "#abi";

export interface TestMachine {
  m: Machine;
  clock: ManualClock;
  irqs: number[];
  /** Called for every interrupt, after it is recorded. */
  onIrq?: (line: number) => void;
  console: string[];
  image: string;
  inb(port: number): number;
  outb(port: number, v: number): void;
  reopen(): void;
  dispose(): void;
}

export function testMachine(sectors = 1024): TestMachine {
  const dir = mkdtempSync(join(tmpdir(), "mkos-hw-"));
  const image = join(dir, "disk.img");
  const clock = new ManualClock();
  const irqs: number[] = [];
  const consoleOut: string[] = [];
  const make = () =>
    new Machine({
      clock,
      diskImage: image,
      diskSectors: sectors,
      irq: (l) => {
        irqs.push(l);
        t.onIrq?.(l);
      },
      console: (b) => consoleOut.push(new TextDecoder().decode(b)),
    });
  const t: TestMachine = {
    m: make(),
    clock,
    irqs,
    console: consoleOut,
    image,
    inb: (port) => t.m.exec([["inb", port, 0]]).values[0],
    outb: (port, v) => void t.m.exec([["outb", port, v]]),
    reopen() {
      t.m.close();
      t.m = make();
    },
    dispose() {
      t.m.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return t;
}

/** The real emulator as the kernel's bus, in the same process (no NATS). */
export class MachineBus implements HwBus {
  readonly m: () => Machine;
  constructor(m: () => Machine) {
    this.m = m;
  }
  async io(ops: HwOp[], data?: Uint8Array) {
    return this.m().exec(ops, data);
  }
  async fault(req: HwFaultRequest) {
    this.m().faults.apply(req);
  }
  async info() {
    return { boot: "test-machine", ioOps: this.m().ioOps, ticks: this.m().pit.ticks };
  }
}
