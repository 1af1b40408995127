// The ATA PIO driver's device logic. A whole transfer is one vector kernel call: program
// the task file, issue the command, read STATUS, move the data with rep insw/outsw, read
// STATUS again. The bus runs a vector atomically and in order, so if the first STATUS
// shows DRQ the data that follows is valid. If it shows BSY the driver unmasks IRQ 14
// (nIEN is otherwise kept set: polling costs no interrupt messages), waits for the
// interrupt or polls (a lost interrupt costs at most one 50 ms poll), then moves the data.
// A drive busy for a second is soft-reset (SRST) once; past its deadline the request fails
// with ETIMEDOUT.
import { IRQ_REENABLE, MAX_VECTOR, MkError, SECTOR_SIZE } from "#abi";
import { type BlockDevice, type Extent, type Geometry, IrqWaiter, type PortVector, type Sys, sysIrqSetPolicy, sysVdevio } from "#libsys";

const P = {
  DATA: 0x1f0,
  ERROR: 0x1f1,
  COUNT: 0x1f2,
  LBA_LO: 0x1f3,
  LBA_MID: 0x1f4,
  LBA_HI: 0x1f5,
  DRIVE: 0x1f6,
  STATUS: 0x1f7,
  CMD: 0x1f7,
  ALT: 0x3f6,
  CTL: 0x3f6,
} as const;
const S = { ERR: 0x01, DRQ: 0x08, DF: 0x20, RDY: 0x40, BSY: 0x80 } as const;
const C = { READ: 0x20, WRITE: 0x30, FLUSH: 0xe7, IDENTIFY: 0xec } as const;
const ATA_IRQ = 14;
const MAX_PER_COMMAND = 256;
const NIEN = 0x02;
const SRST = 0x04;
/** A drive busy this long before a command is soft-reset (once per command), then waited for to the deadline. */
const RESET_AFTER_MS = 1000;
const STATUS_NAMES: [number, string][] = [
  [0x80, "BSY"],
  [0x40, "RDY"],
  [0x20, "DF"],
  [0x10, "SRV"],
  [0x08, "DRQ"],
  [0x01, "ERR"],
];
const ERROR_NAMES: [number, string][] = [
  [0x80, "BBK"],
  [0x40, "UNC"],
  [0x20, "MC"],
  [0x10, "IDNF"],
  [0x08, "MCR"],
  [0x04, "ABRT"],
  [0x02, "TK0NF"],
  [0x01, "AMNF"],
];

function bits(v: number, names: [number, string][]): string {
  const set = names.filter(([b]) => v & b).map(([, n]) => n);
  return `0x${v.toString(16).padStart(2, "0")}${set.length ? ` (${set.join(" ")})` : ""}`;
}

export interface AtaOptions {
  /** How long a command may keep the drive busy before the driver gives up. */
  timeoutMs: number;
}

export class AtaDisk implements BlockDevice {
  private readonly sys: Sys;
  private readonly o: AtaOptions;
  private readonly irq: IrqWaiter;
  private geo?: Geometry;

  constructor(sys: Sys, o: AtaOptions) {
    this.sys = sys;
    this.o = o;
    this.irq = new IrqWaiter(sys.clock);
  }

  /** Also what a restart runs (libsys logs it): a driver keeps nothing, it re-claims the IRQ and re-identifies the drive. */
  async initFresh(): Promise<void> {
    await sysIrqSetPolicy(this.sys, ATA_IRQ, IRQ_REENABLE);
    await sysVdevio(this.sys, [["outb", P.CTL, NIEN]]); // interrupts masked until we must wait
    this.geo = await this.identify();
    this.sys.log.info({ geometry: this.geo }, "ata0: %s, %d sectors", this.geo.model, this.geo.sectors);
  }

  intr(b: number): void {
    if (b & (1 << ATA_IRQ)) this.irq.fire();
  }

  async geometry(minor: number): Promise<Geometry> {
    this.checkMinor(minor);
    if (!this.geo) this.geo = await this.identify();
    return this.geo;
  }

  /**
   * A transfer wholly on the disk: LBA28 addresses 2^28 sectors, and the task file takes
   * the address modulo that, so sector 2^28 + X would be sector X. A range past the drive's
   * end is refused here (EIO, as MINIX's drivers do), before the drive is programmed.
   */
  private async checkRange(lba: number, count: number, what: string): Promise<void> {
    const sectors = (await this.geometry(0)).sectors;
    if (lba + count > Math.min(sectors, 2 ** 28)) {
      throw new MkError(
        "EIO",
        `ata: ${what} of sectors ${lba}-${lba + Math.max(count, 1) - 1} is past the disk's end (${sectors} sectors)`,
      );
    }
  }

  private checkMinor(minor: number): void {
    if (minor !== 0) throw new MkError("ENXIO", `ata: no minor ${minor} (only 0, the whole disk)`);
  }

  private taskFile(lba: number, count: number, cmd: number): PortVector {
    return [
      ["outb", P.DRIVE, 0xe0 | ((lba >>> 24) & 0x0f)],
      ["outb", P.COUNT, count & 0xff],
      ["outb", P.LBA_LO, lba & 0xff],
      ["outb", P.LBA_MID, (lba >>> 8) & 0xff],
      ["outb", P.LBA_HI, (lba >>> 16) & 0xff],
      ["outb", P.CMD, cmd],
    ];
  }

  /**
   * Waits until BSY clears: unmasks IRQ 14, sleeps until the interrupt (or 50 ms, then
   * polls again) up to the request's deadline, and masks it again after.
   */
  private async settle(status: number, what: string, deadline: number, reset?: { after: number; done: boolean }): Promise<number> {
    if (!(status & S.BSY)) return status;
    this.irq.arm();
    status = (
      await sysVdevio(this.sys, [
        ["outb", P.CTL, 0x00],
        ["inb", P.ALT, 0],
      ])
    ).values[0];
    try {
      while (status & S.BSY) {
        const left = deadline - this.sys.clock.now();
        if (left <= 0)
          throw new MkError(
            "ETIMEDOUT",
            `ata: ${what}: drive still busy (status ${bits(status, STATUS_NAMES)}) after ${this.o.timeoutMs} ms`,
            { detail: { arg: "status", got: status, limit: this.o.timeoutMs } },
          );
        // Busy for too long before the command went in: a soft reset (SRST), once per command.
        if (reset && !reset.done && this.sys.clock.now() >= reset.after) {
          reset.done = true;
          this.sys.log.warn({ what }, "ata: drive busy for %d ms: soft reset", RESET_AFTER_MS);
          await sysVdevio(this.sys, [
            ["outb", P.CTL, NIEN | SRST],
            ["outb", P.CTL, 0x00],
          ]);
        }
        await this.irq.wait(Math.min(left, 50));
        status = (await sysVdevio(this.sys, [["inb", P.ALT, 0]])).values[0];
      }
    } finally {
      await sysVdevio(this.sys, [["outb", P.CTL, NIEN]]);
    }
    return (await sysVdevio(this.sys, [["inb", P.STATUS, 0]])).values[0];
  }

  /**
   * Runs one command as one vector: task file, command, STATUS, the data phase, STATUS.
   * A drive that was busy ignored the command: wait until it is not, and issue it again.
   */
  private async command(
    what: string,
    vector: PortVector,
    data?: Uint8Array,
    dataPhase = true,
  ): Promise<{ after: number; data: Uint8Array }> {
    const deadline = this.sys.clock.now() + this.o.timeoutMs;
    const reset = { after: this.sys.clock.now() + RESET_AFTER_MS, done: false };
    for (;;) {
      const r = await sysVdevio(this.sys, vector, data);
      const [status, after] = r.values;
      if (status & S.BSY) {
        // The drive ignored the command: wait (resetting it once if it stays busy), issue it again.
        await this.settle(status, what, deadline, reset);
        continue;
      }
      if (status & (S.ERR | S.DF) || (dataPhase && !(status & S.DRQ))) await this.fail(what, status);
      return { after: dataPhase ? await this.settle(after, what, deadline) : status, data: r.data };
    }
  }

  private async fail(what: string, status: number): Promise<never> {
    const err = (await sysVdevio(this.sys, [["inb", P.ERROR, 0]])).values[0];
    throw new MkError("EIO", `ata: ${what} failed: status ${bits(status, STATUS_NAMES)} error ${bits(err, ERROR_NAMES)}`);
  }

  private async identify(): Promise<Geometry> {
    const probe = await sysVdevio(this.sys, [
      ["outb", P.DRIVE, 0xa0],
      ["inb", P.STATUS, 0],
    ]);
    if (probe.values[0] === 0) throw new MkError("ENXIO", "ata: no drive on the primary channel");
    const vector: PortVector = [
      ["outb", P.DRIVE, 0xa0],
      ["outb", P.COUNT, 0],
      ["outb", P.LBA_LO, 0],
      ["outb", P.LBA_MID, 0],
      ["outb", P.LBA_HI, 0],
      ["outb", P.CMD, C.IDENTIFY],
      ["inb", P.STATUS, 0],
      ["insw", P.DATA, 256],
      ["inb", P.STATUS, 0],
    ];
    const id = await this.command("IDENTIFY", vector);
    const w = (i: number) => id.data[2 * i] | (id.data[2 * i + 1] << 8);
    const str = (word: number, len: number) => {
      let s = "";
      for (let i = 0; i < len / 2; i++) s += String.fromCharCode(id.data[2 * (word + i) + 1], id.data[2 * (word + i)]);
      return s.trim();
    };
    if (!(w(49) & 0x0200)) throw new MkError("ENXIO", "ata: drive does not support LBA");
    return { sectors: w(60) | (w(61) << 16), sectorSize: SECTOR_SIZE, model: str(27, 40), serial: str(10, 20) };
  }

  async read(minor: number, lba: number, count: number): Promise<Uint8Array> {
    this.checkMinor(minor);
    await this.checkRange(lba, count, "read");
    const out = new Uint8Array(count * SECTOR_SIZE);
    for (let done = 0; done < count; ) {
      const n = Math.min(MAX_PER_COMMAND, count - done);
      const at = lba + done;
      const what = `READ SECTORS lba ${at} count ${n}`;
      const r = await this.command(what, [
        ...this.taskFile(at, n, C.READ),
        ["inb", P.STATUS, 0],
        ["insw", P.DATA, n * 256],
        ["inb", P.STATUS, 0],
      ]);
      if (r.after & (S.ERR | S.DF)) await this.fail(what, r.after);
      out.set(r.data, done * SECTOR_SIZE);
      done += n;
    }
    return out;
  }

  async write(minor: number, lba: number, data: Uint8Array): Promise<void> {
    this.checkMinor(minor);
    await this.checkRange(lba, data.length / SECTOR_SIZE, "write");
    const count = data.length / SECTOR_SIZE;
    for (let done = 0; done < count; ) {
      const n = Math.min(MAX_PER_COMMAND, count - done);
      const at = lba + done;
      const what = `WRITE SECTORS lba ${at} count ${n}`;
      const chunk = data.subarray(done * SECTOR_SIZE, (done + n) * SECTOR_SIZE);
      // Data written while the drive does not ask for it (no DRQ) is ignored by the drive.
      const r = await this.command(
        what,
        [...this.taskFile(at, n, C.WRITE), ["inb", P.ALT, 0], ["outsw", P.DATA, n * 256], ["inb", P.STATUS, 0]],
        chunk,
      );
      if (r.after & (S.ERR | S.DF | S.DRQ)) await this.fail(what, r.after);
      done += n;
    }
  }

  /**
   * The extents (checked by the framework: inside the disk, whole, not overlapping) as one
   * port vector for each side of the barrier: each WRITE SECTORS with its data, in order,
   * and CACHE FLUSH after the last if asked. The statuses that come back say whether the
   * drive took every command; the commands after the barrier go only once every one before
   * it was taken. A side with a command the drive did not take (busy, in error, not asking
   * for data) is written again the careful way, one command at a time, stopping at the
   * first that fails (a write is idempotent).
   */
  async writev(minor: number, extents: readonly Extent[], flush: boolean, barrier: number): Promise<void> {
    this.checkMinor(minor);
    const sides = barrier > 0 && barrier < extents.length ? [extents.slice(0, barrier), extents.slice(barrier)] : [extents];
    for (const [k, side] of sides.entries()) {
      const last = k === sides.length - 1;
      if (!(await this.writeVector(side, flush && last))) await this.writevSlowly(minor, side, flush && last);
    }
  }

  /** One port vector for the extents (and the flush): whether the drive took every command. */
  private async writeVector(extents: readonly Extent[], flush: boolean): Promise<boolean> {
    const vector: PortVector = [];
    const body: Uint8Array[] = [];
    for (const e of extents) {
      const n = e.data.length / SECTOR_SIZE;
      if (n > MAX_PER_COMMAND) return false;
      vector.push(...this.taskFile(e.lba, n, C.WRITE), ["inb", P.ALT, 0], ["outsw", P.DATA, n * 256], ["inb", P.STATUS, 0]);
      body.push(e.data);
    }
    if (flush) vector.push(["outb", P.DRIVE, 0xe0], ["outb", P.CMD, C.FLUSH], ["inb", P.STATUS, 0]);
    if (vector.length > MAX_VECTOR) return false;
    const v = (await sysVdevio(this.sys, vector, body.length === 1 ? body[0] : Buffer.concat(body))).values;
    const took = extents.every((_, i) => {
      const [before, after] = [v[2 * i], v[2 * i + 1]];
      return (before & (S.BSY | S.ERR | S.DF | S.DRQ)) === S.DRQ && !(after & (S.BSY | S.ERR | S.DF | S.DRQ));
    });
    return took && (!flush || !(v[2 * extents.length] & (S.BSY | S.ERR | S.DF)));
  }

  private async writevSlowly(minor: number, extents: readonly Extent[], flush: boolean): Promise<void> {
    for (const e of extents) await this.write(minor, e.lba, e.data);
    if (flush) await this.flush(minor);
  }

  async flush(minor: number): Promise<void> {
    this.checkMinor(minor);
    const r = await this.command(
      "CACHE FLUSH",
      [
        ["outb", P.DRIVE, 0xe0],
        ["outb", P.CMD, C.FLUSH],
        ["inb", P.STATUS, 0],
        ["inb", P.STATUS, 0],
      ],
      undefined,
      false,
    );
    if (r.after & (S.ERR | S.DF)) await this.fail("CACHE FLUSH", r.after);
  }
}
