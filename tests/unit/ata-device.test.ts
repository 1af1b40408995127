// The emulated ATA drive at port level, as the OSDev wiki ("ATA PIO Mode") describes it.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ATA, CMD, DEVCTL_NIEN, ER, readIdentifyString, ST } from "../../hardware-emulator/src/index.ts";
import { testMachine, type TestMachine } from "../helpers/machine.ts";

let t: TestMachine;
beforeEach(() => {
  t = testMachine(1024);
});
afterEach(() => t.dispose());

function select(lba: number, count: number): void {
  t.outb(ATA.DRIVE, 0xe0 | ((lba >> 24) & 0x0f));
  t.outb(ATA.COUNT, count & 0xff);
  t.outb(ATA.LBA_LO, lba & 0xff);
  t.outb(ATA.LBA_MID, (lba >> 8) & 0xff);
  t.outb(ATA.LBA_HI, (lba >> 16) & 0xff);
}

function sector(fill: number): Uint8Array {
  return new Uint8Array(512).map((_, i) => (fill + i) & 0xff);
}

describe("ata device", () => {
  it("ata device - IDENTIFY returns 256 words with LBA28 size, model and the LBA capability bit", () => {
    t.outb(ATA.DRIVE, 0xa0);
    t.outb(ATA.COMMAND, CMD.IDENTIFY);
    expect(t.irqs).toEqual([14]);
    const status = t.inb(ATA.STATUS);
    expect(status & ST.DRQ).toBeTruthy();
    expect(status & (ST.BSY | ST.ERR)).toBe(0);
    const id = t.m.exec([["insw", ATA.DATA, 256]]).data;
    const w = (i: number) => id[2 * i] | (id[2 * i + 1] << 8);
    expect(w(60) | (w(61) << 16)).toBe(1024);
    expect(w(49) & 0x200).toBeTruthy();
    expect(w(83) & (1 << 10)).toBe(0); // no LBA48
    expect(readIdentifyString(id, 27, 40)).toBe("MKOS EMULATED ATA DISK");
    expect(t.inb(ATA.STATUS) & ST.DRQ).toBe(0); // all 256 words read: DRQ clears
  });

  it("ata device - no slave drive: selecting it reads status 0", () => {
    t.outb(ATA.DRIVE, 0xb0);
    t.outb(ATA.COMMAND, CMD.IDENTIFY);
    expect(t.inb(ATA.STATUS)).toBe(0);
    expect(t.irqs).toEqual([]);
  });

  it("ata device - WRITE SECTORS then READ SECTORS of 3 sectors round-trip, one IRQ per sector", () => {
    select(10, 3);
    t.outb(ATA.COMMAND, CMD.WRITE_SECTORS);
    expect(t.irqs).toEqual([]); // PIO write: the first sector is asked for without an interrupt
    expect(t.inb(ATA.ALT_STATUS) & ST.DRQ).toBeTruthy();
    for (let i = 0; i < 3; i++) {
      t.m.exec([["outsw", ATA.DATA, 256]], sector(i * 3));
      expect(t.irqs.length).toBe(i + 1);
      t.inb(ATA.STATUS); // acknowledge
    }
    expect(t.inb(ATA.STATUS)).toBe(ST.RDY | ST.SRV);

    t.irqs.length = 0;
    select(10, 3);
    t.outb(ATA.COMMAND, CMD.READ_SECTORS);
    const got: Uint8Array[] = [];
    for (let i = 0; i < 3; i++) {
      expect(t.irqs.length).toBe(i + 1);
      expect(t.inb(ATA.STATUS) & ST.DRQ).toBeTruthy();
      got.push(t.m.exec([["insw", ATA.DATA, 256]]).data);
    }
    got.forEach((g, i) => expect(Buffer.from(g).equals(Buffer.from(sector(i * 3)))).toBe(true));
    expect(t.inb(ATA.STATUS) & ST.DRQ).toBe(0);
  });

  it("ata device - INTRQ is raised once until STATUS is read; ALT STATUS does not acknowledge", () => {
    select(0, 2);
    t.outb(ATA.COMMAND, CMD.READ_SECTORS);
    t.m.exec([["insw", ATA.DATA, 256]]);
    expect(t.irqs).toEqual([14]); // second sector ready, but INTRQ still pending: no new edge
    t.inb(ATA.ALT_STATUS);
    t.m.exec([["insw", ATA.DATA, 256]]);
    expect(t.irqs).toEqual([14]);
  });

  it("ata device - sector count 0 means 256 sectors", () => {
    select(0, 0);
    t.outb(ATA.COMMAND, CMD.READ_SECTORS);
    const all = t.m.exec([["insw", ATA.DATA, 256 * 256]]).data;
    expect(all.length).toBe(256 * 512);
    expect(t.inb(ATA.STATUS) & (ST.DRQ | ST.ERR)).toBe(0);
  });

  it("ata device - an LBA past the end sets ERR with IDNF in the error register and interrupts", () => {
    select(1023, 2);
    t.outb(ATA.COMMAND, CMD.READ_SECTORS);
    expect(t.irqs).toEqual([14]);
    expect(t.inb(ATA.STATUS)).toBe(ST.RDY | ST.ERR);
    expect(t.inb(ATA.ERROR)).toBe(ER.IDNF);
  });

  it("ata device - an unknown command aborts with ERR and ABRT", () => {
    t.outb(ATA.DRIVE, 0xe0);
    t.outb(ATA.COMMAND, 0x91);
    expect(t.inb(ATA.STATUS) & ST.ERR).toBeTruthy();
    expect(t.inb(ATA.ERROR)).toBe(ER.ABRT);
  });

  it("ata device - nIEN in the device control register masks the interrupt", () => {
    t.outb(ATA.DEVCTL, DEVCTL_NIEN);
    select(0, 1);
    t.outb(ATA.COMMAND, CMD.READ_SECTORS);
    expect(t.irqs).toEqual([]);
    expect(t.inb(ATA.STATUS) & ST.DRQ).toBeTruthy();
  });

  it("ata device - CACHE FLUSH completes with an interrupt, and data survives a new machine on the same image", () => {
    select(5, 1);
    t.outb(ATA.COMMAND, CMD.WRITE_SECTORS);
    t.m.exec([["outsw", ATA.DATA, 256]], sector(77));
    t.inb(ATA.STATUS);
    t.irqs.length = 0;
    t.outb(ATA.COMMAND, CMD.CACHE_FLUSH);
    expect(t.irqs).toEqual([14]);
    expect(t.inb(ATA.STATUS)).toBe(ST.RDY | ST.SRV);
    t.reopen();
    select(5, 1);
    t.outb(ATA.COMMAND, CMD.READ_SECTORS);
    expect(Buffer.from(t.m.exec([["insw", ATA.DATA, 256]]).data).equals(Buffer.from(sector(77)))).toBe(true);
  });

  it("ata device - a bad sector fails its read with ERR and UNC; stuck BSY ignores commands until the clock passes", () => {
    t.m.faults.apply({ fault: "bad-sector", lba: 7 });
    select(6, 2);
    t.outb(ATA.COMMAND, CMD.READ_SECTORS);
    const data = t.m.exec([
      ["insw", ATA.DATA, 512],
      ["inb", ATA.STATUS, 0],
      ["inb", ATA.ERROR, 0],
    ]);
    expect(data.values[0] & ST.ERR).toBeTruthy();
    expect(data.values[1] & ER.UNC).toBeTruthy();

    t.m.faults.apply({ fault: "stuck-bsy", ms: 1000 });
    expect(t.inb(ATA.STATUS)).toBe(ST.BSY);
    select(0, 1);
    t.outb(ATA.COMMAND, CMD.READ_SECTORS);
    expect(t.inb(ATA.ALT_STATUS)).toBe(ST.BSY);
    t.clock.advance(1001);
    expect(t.inb(ATA.STATUS) & ST.BSY).toBe(0);
    expect(t.inb(ATA.STATUS) & ST.DRQ).toBe(0); // the command issued while busy was ignored
  });

  it("ata device - lost and spurious interrupts are injected on the line", () => {
    t.m.faults.apply({ fault: "lost-irq", irq: 14, count: 1 });
    select(0, 1);
    t.outb(ATA.COMMAND, CMD.READ_SECTORS);
    expect(t.irqs).toEqual([]);
    t.m.faults.apply({ fault: "spurious-irq", irq: 14 });
    expect(t.irqs).toEqual([14]);
  });
});

describe("ata device caches", () => {
  it("ata device - sectors an interrupted WRITE accepted reach the image; a later READ sees them", () => {
    const t = testMachine(64);
    try {
      const sel = (lba: number, n: number) =>
        t.m.exec([
          ["outb", ATA.DRIVE, 0xe0],
          ["outb", ATA.COUNT, n],
          ["outb", ATA.LBA_LO, lba],
          ["outb", ATA.LBA_MID, 0],
          ["outb", ATA.LBA_HI, 0],
        ]);
      sel(4, 3);
      t.outb(ATA.COMMAND, CMD.WRITE_SECTORS);
      t.m.exec([["outsw", ATA.DATA, 256]], new Uint8Array(512).fill(0xaa)); // 1 of 3 sectors, then abandoned
      sel(4, 2);
      t.outb(ATA.COMMAND, CMD.READ_SECTORS);
      const r = t.m.exec([["insw", ATA.DATA, 512]]).data;
      expect(r.subarray(0, 512).every((b) => b === 0xaa)).toBe(true);
      expect(r.subarray(512).every((b) => b === 0)).toBe(true);
      t.reopen(); // and it is on the image file, not only in memory
      sel(4, 1);
      t.outb(ATA.COMMAND, CMD.READ_SECTORS);
      expect(t.m.exec([["insw", ATA.DATA, 256]]).data.every((b) => b === 0xaa)).toBe(true);
    } finally {
      t.dispose();
    }
  });
});
