// The emulated machine's I/O bus: decodes ports to devices and executes a vector of port
// operations atomically (one HW_IO request). Unclaimed ports float: reads give all ones.
import { MkError } from "#abi";
import type { Clock } from "#base/clock.ts";
import { AtaDevice } from "./devices/ata.ts";
import type { PortDevice, Width } from "./devices/device.ts";
import { PitDevice } from "./devices/pit.ts";
import { RtcDevice } from "./devices/rtc.ts";
import { UartDevice } from "./devices/uart.ts";
import { Faults } from "./faults.ts";

const WIDTH: Record<string, Width> = { b: 1, w: 2, l: 4 };
const FLOAT: Record<Width, number> = { 1: 0xff, 2: 0xffff, 4: 0xffffffff };

export interface MachineOptions {
  clock: Clock;
  diskImage: string;
  diskSectors: number;
  /** An interrupt line goes high: publish it to the kernel. */
  irq: (line: number) => void;
  /** Bytes the UART transmitted, for the console. */
  console: (bytes: Uint8Array) => void;
}

export class Machine {
  readonly ata: AtaDevice;
  readonly uart: UartDevice;
  readonly pit: PitDevice;
  readonly rtc: RtcDevice;
  readonly faults: Faults;
  readonly clock: Clock;
  private readonly map = new Map<number, PortDevice>();
  ioOps = 0;

  constructor(o: MachineOptions) {
    this.clock = o.clock;
    this.faults = new Faults(o.clock, o.irq);
    const raise = (line: number) => this.faults.deliver(line);
    this.ata = new AtaDevice({ image: o.diskImage, sectors: o.diskSectors, clock: o.clock, raise });
    this.uart = new UartDevice(raise, o.console);
    this.pit = new PitDevice(o.clock, raise);
    this.rtc = new RtcDevice(o.clock);
    this.faults.ata = this.ata;
    for (const d of [this.ata, this.uart, this.pit, this.rtc]) {
      for (const [lo, hi] of d.ports) for (let p = lo; p <= hi; p++) this.map.set(p, d);
    }
  }

  /**
   * Executes ops in order. `in*` values are returned in order; `ins*` bytes are appended
   * to the returned data; `outs*` bytes are taken from `data` in order.
   */
  exec(ops: readonly (readonly [string, number, number])[], data: Uint8Array = new Uint8Array(0)): { values: number[]; data: Uint8Array } {
    const values: number[] = [];
    const chunks: Uint8Array[] = [];
    let cursor = 0;
    for (const [op, port, arg] of ops) {
      this.ioOps++;
      const dev = this.map.get(port);
      const width = WIDTH[op[op.length - 1]];
      if (op === "inb" || op === "inw" || op === "inl") {
        values.push(dev ? dev.in(port, width) >>> 0 : FLOAT[width]);
      } else if (op === "outb" || op === "outw" || op === "outl") {
        dev?.out(port, width, arg >>> 0);
      } else if (op.startsWith("ins")) {
        chunks.push(this.insString(dev, port, width, arg));
      } else if (op.startsWith("outs")) {
        const n = arg * width;
        if (cursor + n > data.length)
          throw new MkError("EBADREQUEST", `${op} of ${n} bytes but only ${data.length - cursor} left in the body`);
        this.outsString(dev, port, width, data.subarray(cursor, cursor + n));
        cursor += n;
      } else {
        throw new MkError("EBADREQUEST", `unknown port operation ${op}`);
      }
    }
    if (cursor !== data.length) throw new MkError("EBADREQUEST", `body has ${data.length - cursor} bytes no outs operation used`);
    return { values, data: concat(chunks) };
  }

  private insString(dev: PortDevice | undefined, port: number, width: Width, count: number): Uint8Array {
    const fast = dev?.inString?.(port, width, count);
    if (fast) return fast;
    const out = new Uint8Array(count * width);
    for (let i = 0; i < count; i++) {
      const v = dev ? dev.in(port, width) : FLOAT[width];
      for (let b = 0; b < width; b++) out[i * width + b] = (v >>> (8 * b)) & 0xff;
    }
    return out;
  }

  private outsString(dev: PortDevice | undefined, port: number, width: Width, bytes: Uint8Array): void {
    if (!dev || dev.outString?.(port, width, bytes)) return;
    for (let i = 0; i < bytes.length; i += width) {
      let v = 0;
      for (let b = 0; b < width; b++) v |= bytes[i + b] << (8 * b);
      dev.out(port, width, v >>> 0);
    }
  }

  close(): void {
    this.pit.stop();
    this.uart.flush();
    this.ata.close();
  }
}

function concat(chunks: Uint8Array[]): Uint8Array {
  if (chunks.length === 1) return chunks[0];
  const n = chunks.reduce((a, c) => a + c.length, 0);
  const out = new Uint8Array(n);
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.length;
  }
  return out;
}
