// 8254 PIT, channel 0 (OSDev wiki "Programmable Interval Timer"): ports 0x40 and 0x43,
// IRQ 0 at 1193182 Hz / reload. The kernel programs it at boot for its tick. Ticks are
// driven by the injected clock; rates above 1000 Hz are capped (one NATS message a tick).
import { PIT_INPUT_HZ } from "#abi";
import type { Clock, Timer } from "#base/clock.ts";
import type { PortDevice, RaiseIrq, Width } from "./device.ts";

const PIT_HZ = PIT_INPUT_HZ;
export const PIT = { CH0: 0x40, CMD: 0x43, IRQ: 0 } as const;
const MAX_TICK_HZ = 1000;

export class PitDevice implements PortDevice {
  readonly name = "pit";
  readonly ports = [[0x40, 0x43]] as const;
  private readonly clock: Clock;
  private readonly raise: RaiseIrq;
  private reload = 0; // 0 = not programmed, no ticks
  private access = 3; // 1 lobyte, 2 hibyte, 3 lo then hi
  private mode = 2;
  private writeHigh = false;
  private pendingLow = 0;
  private latched: number | undefined;
  private readHigh = false;
  private startedAt = 0;
  private timer?: Timer;
  ticks = 0;

  constructor(clock: Clock, raise: RaiseIrq) {
    this.clock = clock;
    this.raise = raise;
  }

  get hz(): number {
    return this.reload === 0 ? 0 : PIT_HZ / this.reload;
  }

  private current(): number {
    if (this.reload === 0) return 0;
    const elapsed = Math.floor(((this.clock.now() - this.startedAt) * PIT_HZ) / 1000);
    return this.reload - (elapsed % this.reload);
  }

  in(port: number, _w: Width): number {
    if (port !== PIT.CH0) return 0xff;
    const v = this.latched ?? this.current();
    const byte = this.readHigh ? (v >> 8) & 0xff : v & 0xff;
    if (this.access === 3) {
      if (this.readHigh) this.latched = undefined;
      this.readHigh = !this.readHigh;
    } else {
      this.latched = undefined;
    }
    return byte;
  }

  out(port: number, _w: Width, value: number): void {
    const v = value & 0xff;
    if (port === PIT.CMD) {
      if (v >> 6 !== 0) return; // only channel 0 is wired
      const access = (v >> 4) & 3;
      if (access === 0) {
        this.latched = this.current();
        this.readHigh = false;
        return;
      }
      this.access = access;
      this.mode = (v >> 1) & 7;
      this.writeHigh = false;
      this.readHigh = false;
      return;
    }
    if (port !== PIT.CH0) return;
    if (this.access === 1) return this.program(v);
    if (this.access === 2) return this.program(v << 8);
    if (!this.writeHigh) {
      this.pendingLow = v;
      this.writeHigh = true;
      return;
    }
    this.writeHigh = false;
    this.program(this.pendingLow | (v << 8));
  }

  private program(reload: number): void {
    this.reload = reload === 0 ? 0x10000 : reload;
    this.startedAt = this.clock.now();
    this.timer?.cancel();
    this.schedule();
  }

  private schedule(): void {
    const period = 1000 / Math.min(this.hz, MAX_TICK_HZ);
    this.timer = this.clock.setTimeout(() => {
      this.ticks++;
      this.raise(PIT.IRQ);
      if (this.mode !== 0) this.schedule(); // mode 0 fires once; 2 and 3 are periodic
    }, period);
  }

  stop(): void {
    this.timer?.cancel();
  }
}
