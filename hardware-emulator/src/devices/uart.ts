// 16550 UART at 0x3F8-0x3FF, IRQ 4 (OSDev wiki "Serial Ports"). The far end of the
// serial line is the console: bytes written to THR leave as console output, bytes
// arriving from the console fill the receive buffer. The line is instant: THR is always
// empty; what the driver wrote leaves at once, a prompt without a newline too. An IRQ goes out when received data becomes available and ERBFI is enabled, or
// when ETBEI is enabled (THR empty).
import type { PortDevice, RaiseIrq, Width } from "./device.ts";

export const UART = {
  BASE: 0x3f8,
  RBR: 0x3f8,
  THR: 0x3f8,
  IER: 0x3f9,
  IIR: 0x3fa,
  FCR: 0x3fa,
  LCR: 0x3fb,
  MCR: 0x3fc,
  LSR: 0x3fd,
  MSR: 0x3fe,
  SCR: 0x3ff,
  IRQ: 4,
} as const;
export const LSR = { DR: 0x01, OE: 0x02, THRE: 0x20, TEMT: 0x40 } as const;
export const IER = { ERBFI: 0x01, ETBEI: 0x02 } as const;
const RX_LIMIT = 64 * 1024;

export class UartDevice implements PortDevice {
  readonly name = "uart0";
  readonly ports = [[0x3f8, 0x3ff]] as const;
  private readonly raise: RaiseIrq;
  private readonly output: (bytes: Uint8Array) => void;
  private rx: number[] = [];
  private ier = 0;
  private lcr = 0x03;
  private mcr = 0;
  private scr = 0;
  private fcr = 0;
  private dll = 0x01;
  private dlm = 0;
  private overrun = false;
  private tx: number[] = [];
  private flushing = false;

  constructor(raise: RaiseIrq, output: (bytes: Uint8Array) => void) {
    this.raise = raise;
    this.output = output;
  }

  private get dlab(): boolean {
    return (this.lcr & 0x80) !== 0;
  }

  /** Bytes arriving on the line from the console. */
  receive(bytes: Uint8Array): void {
    const wasEmpty = this.rx.length === 0;
    for (const b of bytes) {
      if (this.rx.length >= RX_LIMIT) {
        this.overrun = true;
        break;
      }
      this.rx.push(b);
    }
    if (wasEmpty && this.rx.length > 0 && this.ier & IER.ERBFI) this.raise(UART.IRQ);
  }

  in(port: number, _w: Width): number {
    switch (port) {
      case UART.RBR:
        if (this.dlab) return this.dll;
        return this.rx.shift() ?? 0;
      case UART.IER:
        return this.dlab ? this.dlm : this.ier;
      case UART.IIR: {
        const fifo = this.fcr & 0x01 ? 0xc0 : 0;
        if (this.rx.length > 0 && this.ier & IER.ERBFI) return fifo | 0x04;
        if (this.ier & IER.ETBEI) return fifo | 0x02;
        return fifo | 0x01; // no interrupt pending
      }
      case UART.LCR:
        return this.lcr;
      case UART.MCR:
        return this.mcr;
      case UART.LSR: {
        const v = (this.rx.length > 0 ? LSR.DR : 0) | (this.overrun ? LSR.OE : 0) | LSR.THRE | LSR.TEMT;
        this.overrun = false;
        return v;
      }
      case UART.MSR:
        return 0xb0; // CTS, DSR, DCD
      case UART.SCR:
        return this.scr;
      default:
        return 0xff;
    }
  }

  out(port: number, _w: Width, value: number): void {
    const v = value & 0xff;
    switch (port) {
      case UART.THR:
        if (this.dlab) {
          this.dll = v;
          return;
        }
        if (this.mcr & 0x10) {
          this.receive(Uint8Array.of(v));
          return;
        } // loopback mode
        this.tx.push(v);
        if (v === 0x0a || this.tx.length >= 4096) this.flush();
        else this.flushSoon();
        return;
      case UART.IER:
        if (this.dlab) {
          this.dlm = v;
          return;
        }
        this.ier = v & 0x0f;
        if (this.ier & IER.ETBEI || (this.ier & IER.ERBFI && this.rx.length > 0)) this.raise(UART.IRQ);
        return;
      case UART.FCR:
        this.fcr = v;
        if (v & 0x02) this.rx = [];
        return;
      case UART.LCR:
        this.lcr = v;
        return;
      case UART.MCR:
        this.mcr = v;
        return;
      case UART.SCR:
        this.scr = v;
        return;
    }
  }

  outString(port: number, _w: Width, data: Uint8Array): boolean {
    if (port !== UART.THR || this.dlab || this.mcr & 0x10) return false;
    for (const b of data) this.tx.push(b);
    // One rep outsb is one write of the driver's (a prompt has no newline): it leaves whole.
    this.flush();
    return true;
  }

  /** Bytes written one at a time leave together at the end of this turn of the event loop. */
  private flushSoon(): void {
    if (this.flushing) return;
    this.flushing = true;
    queueMicrotask(() => {
      this.flushing = false;
      this.flush();
    });
  }

  /** Hands everything transmitted so far to the console. */
  flush(): void {
    if (this.tx.length === 0) return;
    const bytes = Uint8Array.from(this.tx);
    this.tx = [];
    this.output(bytes);
  }

  pendingInput(): number {
    return this.rx.length;
  }
}
