// The serial console driver on the 16550 UART at 0x3F8 (IRQ 4). Output goes out with
// string I/O (rep outsb); input is drained on each receive interrupt with a vector of
// LSR/RBR pairs and kept in a line buffer. A read returns one line (canonical mode),
// or fewer bytes when count is smaller than the line; no echo.
import { IRQ_REENABLE, MkError } from "#abi";
import { type CharDevice, type PortVector, type Sys, sysIrqSetPolicy, sysSdevio, sysVdevio, type Timer } from "#libsys";

const COM1 = { DATA: 0x3f8, IER: 0x3f9, FCR: 0x3fa, LCR: 0x3fb, MCR: 0x3fc, LSR: 0x3fd } as const;
const TTY_IRQ = 4;
const LSR_DR = 0x01;
const DRAIN_PAIRS = 16;
const MAX_INPUT = 64 * 1024;
const MAX_WRITE = 4096;

interface PendingRead {
  count: number;
  resolve: (b: Uint8Array) => void;
  reject: (e: Error) => void;
  timer: Timer;
}

export class SerialTty implements CharDevice {
  private readonly sys: Sys;
  private input: number[] = [];
  private readonly readers: PendingRead[] = [];
  private draining = false;
  private again = false;

  constructor(sys: Sys) {
    this.sys = sys;
  }

  async initFresh(): Promise<void> {
    await this.setUp(0xc7);
  }

  /** fcr: 0xc7 clears both FIFOs (a fresh start); 0xc5 keeps what was typed while no driver ran. */
  private async setUp(fcr: number): Promise<void> {
    await sysIrqSetPolicy(this.sys, TTY_IRQ, IRQ_REENABLE);
    await sysVdevio(this.sys, [
      ["outb", COM1.IER, 0x00],
      ["outb", COM1.LCR, 0x80], // DLAB on
      ["outb", COM1.DATA, 0x01], // divisor 1: 115200 baud
      ["outb", COM1.IER, 0x00],
      ["outb", COM1.LCR, 0x03], // 8N1, DLAB off
      ["outb", COM1.FCR, fcr], // FIFO on, 14-byte threshold; cleared only on a fresh start
      ["outb", COM1.MCR, 0x0b], // DTR, RTS, OUT2 (IRQ gate)
      ["outb", COM1.IER, 0x01], // receive interrupts
    ]);
    await this.drain();
  }

  async initRestart(previous: number): Promise<void> {
    this.sys.log.info({ previous }, "tty restart after generation %d: input typed meanwhile stays in the UART", previous);
    await this.setUp(0xc5);
  }

  intr(bits: number): void {
    if (bits & (1 << TTY_IRQ)) void this.drain().catch((e) => this.sys.log.error({ err: e }, "tty: drain failed"));
  }

  /** Reads the UART dry: LSR/RBR pairs, 16 at a time, until LSR shows no data. */
  private async drain(): Promise<void> {
    if (this.draining) {
      this.again = true;
      return;
    }
    this.draining = true;
    try {
      do {
        this.again = false;
        for (;;) {
          const ops: PortVector = [];
          for (let i = 0; i < DRAIN_PAIRS; i++) ops.push(["inb", COM1.LSR, 0], ["inb", COM1.DATA, 0]);
          const v = (await sysVdevio(this.sys, ops)).values;
          let more = true;
          for (let i = 0; i < DRAIN_PAIRS; i++) {
            if (!(v[2 * i] & LSR_DR)) {
              more = false;
              break;
            }
            if (this.input.length < MAX_INPUT) this.input.push(v[2 * i + 1]);
          }
          if (!more) break;
        }
      } while (this.again);
    } finally {
      this.draining = false;
    }
    this.serve();
  }

  private takeLine(count: number): Uint8Array | undefined {
    const nl = this.input.indexOf(0x0a);
    if (nl < 0 && this.input.length < count) return undefined;
    const n = nl < 0 ? count : Math.min(nl + 1, count);
    return Uint8Array.from(this.input.splice(0, n));
  }

  private serve(): void {
    while (this.readers.length > 0) {
      const line = this.takeLine(this.readers[0].count);
      if (!line) return;
      const r = this.readers.shift()!;
      r.timer.cancel();
      r.resolve(line);
    }
  }

  cancel(why: MkError): void {
    for (const r of this.readers.splice(0)) {
      r.timer.cancel();
      r.reject(why);
    }
  }

  read(minor: number, count: number, timeoutMs: number): Promise<Uint8Array> {
    if (minor !== 0) throw new MkError("ENXIO", `tty: no minor ${minor}`);
    if (count === 0) return Promise.resolve(new Uint8Array(0));
    const now = this.readers.length === 0 ? this.takeLine(count) : undefined;
    if (now) return Promise.resolve(now);
    return new Promise((resolve, reject) => {
      const r: PendingRead = {
        count,
        resolve,
        reject,
        timer: this.sys.clock.setTimeout(() => {
          this.readers.splice(this.readers.indexOf(r), 1);
          reject(new MkError("ETIMEDOUT", `tty: no complete line within ${timeoutMs} ms`));
        }, timeoutMs),
      };
      this.readers.push(r);
    });
  }

  async write(minor: number, data: Uint8Array): Promise<number> {
    if (minor !== 0) throw new MkError("ENXIO", `tty: no minor ${minor}`);
    for (let off = 0; off < data.length; off += MAX_WRITE) {
      const chunk = data.subarray(off, off + MAX_WRITE);
      await sysSdevio(this.sys, "outsb", COM1.DATA, chunk.length, chunk);
    }
    return data.length;
  }
}
