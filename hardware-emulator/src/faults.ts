// Injected hardware faults: bad sectors, lost and spurious interrupts, a stuck BSY. Every
// interrupt the devices raise passes through here on its way to the kernel.
import { MkError, type HwFaultRequest } from "#abi";
import type { Clock } from "#base/clock.ts";
import type { AtaDevice } from "./devices/ata.ts";

export class Faults {
  private readonly clock: Clock;
  private readonly publish: (line: number) => void;
  private readonly lost = new Map<number, number>(); // line -> interrupts still to drop
  ata?: AtaDevice;
  dropped = 0;

  constructor(clock: Clock, publish: (line: number) => void) {
    this.clock = clock;
    this.publish = publish;
  }

  deliver(line: number): void {
    const n = this.lost.get(line) ?? 0;
    if (n > 0) {
      this.lost.set(line, n - 1);
      this.dropped++;
      return;
    }
    this.publish(line);
  }

  apply(f: HwFaultRequest): void {
    switch (f.fault) {
      case "bad-sector": {
        if (f.lba === undefined) throw new MkError("EBADREQUEST", "bad-sector needs lba");
        for (let i = 0; i < (f.count ?? 1); i++) this.ata?.badSectors.add(f.lba + i);
        return;
      }
      case "lost-irq":
        this.lost.set(f.irq ?? 14, (this.lost.get(f.irq ?? 14) ?? 0) + (f.count ?? 1));
        return;
      case "spurious-irq":
        for (let i = 0; i < (f.count ?? 1); i++) this.publish(f.irq ?? 14);
        return;
      case "stuck-bsy":
        // count: soft resets (SRST) it survives; by default the driver's reset clears it.
        if (this.ata) {
          this.ata.stuckBsyUntil = this.clock.now() + (f.ms ?? 60_000);
          this.ata.stuckBsyResets = f.count ?? 0;
        }
        return;
      case "clear":
        this.lost.clear();
        this.ata?.badSectors.clear();
        if (this.ata) this.ata.stuckBsyUntil = 0;
        return;
    }
  }
}
