// CMOS RTC at 0x70 (index, bit 7 masks NMI) / 0x71 (data) (OSDev wiki "CMOS"). Time
// comes from the injected clock, in UTC; BCD unless status B bit 2 selects binary, 24-hour
// when status B bit 1 is set. Writes to the time registers move the RTC's own offset.
import type { Clock } from "#base/clock.ts";
import type { PortDevice, Width } from "./device.ts";

export const RTC = {
  INDEX: 0x70,
  DATA: 0x71,
  SEC: 0x00,
  MIN: 0x02,
  HOUR: 0x04,
  WEEKDAY: 0x06,
  DAY: 0x07,
  MONTH: 0x08,
  YEAR: 0x09,
  A: 0x0a,
  B: 0x0b,
  C: 0x0c,
  D: 0x0d,
  CENTURY: 0x32,
} as const;

export class RtcDevice implements PortDevice {
  readonly name = "rtc";
  readonly ports = [[0x70, 0x71]] as const;
  private readonly clock: Clock;
  private index = 0;
  private readonly ram = new Uint8Array(128);
  private offsetMs = 0;

  constructor(clock: Clock) {
    this.clock = clock;
    this.ram[RTC.A] = 0x26;
    this.ram[RTC.B] = 0x02; // 24-hour, BCD
    this.ram[RTC.D] = 0x80; // battery good
  }

  private encode(v: number): number {
    return this.ram[RTC.B] & 0x04 ? v : (Math.floor(v / 10) << 4) | (v % 10);
  }

  private decode(v: number): number {
    return this.ram[RTC.B] & 0x04 ? v : (v >> 4) * 10 + (v & 0x0f);
  }

  in(port: number, _w: Width): number {
    if (port === RTC.INDEX) return 0xff;
    const d = new Date(this.clock.now() + this.offsetMs);
    switch (this.index) {
      case RTC.SEC:
        return this.encode(d.getUTCSeconds());
      case RTC.MIN:
        return this.encode(d.getUTCMinutes());
      case RTC.HOUR: {
        const h = d.getUTCHours();
        if (this.ram[RTC.B] & 0x02) return this.encode(h);
        const h12 = h % 12 === 0 ? 12 : h % 12;
        return this.encode(h12) | (h >= 12 ? 0x80 : 0);
      }
      case RTC.WEEKDAY:
        return this.encode(d.getUTCDay() + 1);
      case RTC.DAY:
        return this.encode(d.getUTCDate());
      case RTC.MONTH:
        return this.encode(d.getUTCMonth() + 1);
      case RTC.YEAR:
        return this.encode(d.getUTCFullYear() % 100);
      case RTC.CENTURY:
        return this.encode(Math.floor(d.getUTCFullYear() / 100));
      case RTC.A:
        return this.ram[RTC.A] & 0x7f; // update-in-progress never seen
      case RTC.C: {
        const v = this.ram[RTC.C];
        this.ram[RTC.C] = 0;
        return v;
      }
      default:
        return this.ram[this.index];
    }
  }

  out(port: number, _w: Width, value: number): void {
    const v = value & 0xff;
    if (port === RTC.INDEX) {
      this.index = v & 0x7f;
      return;
    }
    const d = new Date(this.clock.now() + this.offsetMs);
    const set = (f: (x: Date) => void) => {
      const x = new Date(d);
      f(x);
      this.offsetMs += x.getTime() - d.getTime();
    };
    switch (this.index) {
      case RTC.SEC:
        return set((x) => x.setUTCSeconds(this.decode(v)));
      case RTC.MIN:
        return set((x) => x.setUTCMinutes(this.decode(v)));
      case RTC.HOUR:
        return set((x) => x.setUTCHours(this.decode(v & 0x7f)));
      case RTC.DAY:
        return set((x) => x.setUTCDate(this.decode(v)));
      case RTC.MONTH:
        return set((x) => x.setUTCMonth(this.decode(v) - 1));
      case RTC.YEAR:
        return set((x) => x.setUTCFullYear(Math.floor(x.getUTCFullYear() / 100) * 100 + this.decode(v)));
      case RTC.C:
      case RTC.D:
        return; // read-only
      default:
        this.ram[this.index] = v;
    }
  }
}
