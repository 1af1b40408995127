// UART, PIT and RTC at port level (OSDev wiki: "Serial Ports", "PIT", "CMOS").
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { IER, LSR, PIT, RTC, UART } from "../../hardware-emulator/src/index.ts";
import { testMachine, type TestMachine } from "../helpers/machine.ts";

let t: TestMachine;
beforeEach(() => {
  t = testMachine(64);
});
afterEach(() => t.dispose());

describe("uart", () => {
  it("uart - bytes written to THR reach the console at each newline; THR is always empty", () => {
    for (const ch of "hi\n") t.outb(UART.THR, ch.charCodeAt(0));
    t.m.exec([["outsb", UART.THR, 4]], new TextEncoder().encode("ok!\n"));
    expect(t.console).toEqual(["hi\n", "ok!\n"]);
    expect(t.inb(UART.LSR) & (LSR.THRE | LSR.TEMT)).toBe(LSR.THRE | LSR.TEMT);
  });

  it("uart - a prompt without a newline reaches the console: a string write at once, single bytes at the end of the turn", async () => {
    t.m.exec([["outsb", UART.THR, 6]], new TextEncoder().encode("mkos$ "));
    expect(t.console).toEqual(["mkos$ "]);
    for (const ch of "ab") t.outb(UART.THR, ch.charCodeAt(0));
    expect(t.console).toEqual(["mkos$ "]);
    await Promise.resolve();
    expect(t.console).toEqual(["mkos$ ", "ab"]);
  });

  it("uart - received bytes set LSR.DR and raise IRQ 4 only when ERBFI is enabled", () => {
    t.m.uart.receive(new TextEncoder().encode("a"));
    expect(t.irqs).toEqual([]);
    expect(t.inb(UART.LSR) & LSR.DR).toBe(LSR.DR);
    t.outb(UART.IER, IER.ERBFI); // enabling with data pending interrupts at once
    expect(t.irqs).toEqual([4]);
    expect(t.inb(UART.IIR) & 0x0f).toBe(0x04);
    expect(t.inb(UART.RBR)).toBe(0x61);
    expect(t.inb(UART.LSR) & LSR.DR).toBe(0);
    expect(t.inb(UART.IIR) & 0x01).toBe(1); // nothing pending
  });

  it("uart - DLAB exposes the divisor latch; loopback mode feeds THR back to RBR", () => {
    t.outb(UART.LCR, 0x80);
    t.outb(UART.THR, 0x0c);
    expect(t.inb(UART.RBR)).toBe(0x0c);
    t.outb(UART.LCR, 0x03);
    t.outb(UART.MCR, 0x10);
    t.outb(UART.THR, 0x42);
    expect(t.inb(UART.RBR)).toBe(0x42);
    expect(t.console).toEqual([]);
  });
});

describe("pit", () => {
  it("pit - channel 0 programmed in mode 2 raises IRQ 0 at 1193182/divisor Hz on the clock", () => {
    const divisor = 11932; // ~100 Hz
    t.outb(PIT.CMD, 0x34);
    t.outb(PIT.CH0, divisor & 0xff);
    t.outb(PIT.CH0, divisor >> 8);
    t.clock.advance(1000);
    const ticks = t.irqs.filter((l) => l === 0).length;
    expect(ticks).toBeGreaterThanOrEqual(99);
    expect(ticks).toBeLessThanOrEqual(101);
  });

  it("pit - the latched count reads back low byte then high byte, below the reload value", () => {
    t.outb(PIT.CMD, 0x34);
    t.outb(PIT.CH0, 0x00);
    t.outb(PIT.CH0, 0x10); // reload 0x1000
    t.clock.advance(1);
    t.outb(PIT.CMD, 0x00); // latch channel 0
    const lo = t.inb(PIT.CH0);
    const hi = t.inb(PIT.CH0);
    const count = lo | (hi << 8);
    expect(count).toBeGreaterThan(0);
    expect(count).toBeLessThanOrEqual(0x1000);
  });
});

describe("rtc", () => {
  it("rtc - time registers read the injected clock in BCD, or binary when status B says so", () => {
    t.clock.advance(Date.UTC(2026, 10, 21, 15, 42, 7) - t.clock.now());
    const read = (reg: number) => {
      t.outb(RTC.INDEX, reg);
      return t.inb(RTC.DATA);
    };
    expect([read(RTC.HOUR), read(RTC.MIN), read(RTC.SEC)]).toEqual([0x15, 0x42, 0x07]);
    expect([read(RTC.DAY), read(RTC.MONTH), read(RTC.YEAR), read(RTC.CENTURY)]).toEqual([0x21, 0x11, 0x26, 0x20]);
    expect(read(RTC.A) & 0x80).toBe(0);
    t.outb(RTC.INDEX, RTC.B);
    t.outb(RTC.DATA, 0x06);
    expect(read(RTC.MIN)).toBe(42);
  });
});
