// ATA/IDE primary channel, master drive, PIO mode, LBA28 (OSDev wiki "ATA PIO Mode").
// Ports 0x1F0-0x1F7 and 0x3F6; IRQ 14. Commands: IDENTIFY, READ SECTORS, WRITE SECTORS,
// CACHE FLUSH (fsync of the image). The drive is instant: BSY is only ever seen when a
// stuck-BSY fault is injected. INTRQ is level-like: raised when a sector is ready (or a
// command ends), cleared by reading the status register; an IRQ message goes out on
// each 0 -> 1 edge, unless nIEN is set in the device control register.
import { closeSync, fstatSync, fsyncSync, ftruncateSync, openSync, readSync, writeSync } from "node:fs";
import type { Clock } from "#base/clock.ts";
import type { PortDevice, RaiseIrq, Width } from "./device.ts";

export const ATA = {
  DATA: 0x1f0,
  ERROR: 0x1f1,
  FEATURES: 0x1f1,
  COUNT: 0x1f2,
  LBA_LO: 0x1f3,
  LBA_MID: 0x1f4,
  LBA_HI: 0x1f5,
  DRIVE: 0x1f6,
  STATUS: 0x1f7,
  COMMAND: 0x1f7,
  ALT_STATUS: 0x3f6,
  DEVCTL: 0x3f6,
  IRQ: 14,
} as const;
export const ST = { ERR: 0x01, IDX: 0x02, CORR: 0x04, DRQ: 0x08, SRV: 0x10, DF: 0x20, RDY: 0x40, BSY: 0x80 } as const;
export const ER = { AMNF: 0x01, TKZNF: 0x02, ABRT: 0x04, MCR: 0x08, IDNF: 0x10, MC: 0x20, UNC: 0x40, BBK: 0x80 } as const;
export const CMD = {
  READ_SECTORS: 0x20,
  READ_SECTORS_NR: 0x21,
  WRITE_SECTORS: 0x30,
  WRITE_SECTORS_NR: 0x31,
  IDENTIFY: 0xec,
  CACHE_FLUSH: 0xe7,
} as const;
export const DEVCTL_NIEN = 0x02;
const DEVCTL_SRST = 0x04;
const SECTOR = 512;

export interface AtaOptions {
  image: string;
  sectors: number;
  clock: Clock;
  raise: RaiseIrq;
  model?: string;
  serial?: string;
}

type Mode = "idle" | "read" | "write" | "identify";

export class AtaDevice implements PortDevice {
  readonly name = "ata0";
  readonly ports = [
    [0x1f0, 0x1f7],
    [0x3f6, 0x3f6],
  ] as const;
  readonly sectors: number;
  private readonly fd: number;
  private readonly o: AtaOptions;
  private count = 0;
  private lbaLo = 0;
  private lbaMid = 0;
  private lbaHi = 0;
  private drive = 0xa0;
  private status: number = ST.RDY | ST.SRV;
  private error = 0;
  private devctl = 0;
  private intrq = false;
  private mode: Mode = "idle";
  private buf: Uint8Array = new Uint8Array(SECTOR);
  private pos = 0;
  private lba = 0;
  private remaining = 0;
  /** Read-ahead: the sectors of the current READ command, fetched with one read. */
  private ahead?: { lba: number; data: Uint8Array };
  /** Write cache: whole sectors of the current WRITE command, written out before it ends. */
  private behind?: { lba: number; chunks: Uint8Array[] };
  /** Fault state: sectors that fail, and a BSY that sticks until a deadline. */
  readonly badSectors = new Set<number>();
  stuckBsyUntil = 0;
  /** Soft resets a stuck BSY survives (0: the next reset clears it, as a firmware hang would). */
  stuckBsyResets = 0;

  constructor(o: AtaOptions) {
    this.o = o;
    this.sectors = o.sectors;
    this.fd = openImage(o.image);
    if (fstatSync(this.fd).size < o.sectors * SECTOR) ftruncateSync(this.fd, o.sectors * SECTOR);
  }

  close(): void {
    closeSync(this.fd);
  }

  private get slave(): boolean {
    return (this.drive & 0x10) !== 0;
  }

  private busy(): boolean {
    return this.stuckBsyUntil > this.o.clock.now();
  }

  private statusValue(): number {
    if (this.slave) return 0; // no slave drive: the register floats low
    if (this.busy()) return ST.BSY;
    return this.status;
  }

  private interrupt(): void {
    if (this.intrq) return;
    this.intrq = true;
    if (!(this.devctl & DEVCTL_NIEN)) this.o.raise(ATA.IRQ);
  }

  in(port: number, width: Width): number {
    switch (port) {
      case ATA.DATA:
        return this.readData(width);
      case ATA.ERROR:
        return this.error;
      case ATA.COUNT:
        return this.count;
      case ATA.LBA_LO:
        return this.lbaLo;
      case ATA.LBA_MID:
        return this.lbaMid;
      case ATA.LBA_HI:
        return this.lbaHi;
      case ATA.DRIVE:
        return this.drive;
      case ATA.STATUS: {
        const s = this.statusValue();
        if (!this.busy()) this.intrq = false; // reading STATUS acknowledges the interrupt
        return s;
      }
      case ATA.ALT_STATUS:
        return this.statusValue();
      default:
        return 0xff;
    }
  }

  out(port: number, width: Width, value: number): void {
    const v = value & 0xff;
    switch (port) {
      case ATA.DATA:
        return this.writeData(width, value);
      case ATA.FEATURES:
        return; // SET FEATURES' argument: nothing it selects is emulated
      case ATA.COUNT:
        this.count = v;
        return;
      case ATA.LBA_LO:
        this.lbaLo = v;
        return;
      case ATA.LBA_MID:
        this.lbaMid = v;
        return;
      case ATA.LBA_HI:
        this.lbaHi = v;
        return;
      case ATA.DRIVE:
        this.drive = v | 0xa0;
        return;
      case ATA.COMMAND:
        return this.command(v);
      case ATA.DEVCTL: {
        const wasReset = this.devctl & DEVCTL_SRST;
        const wasMasked = this.devctl & DEVCTL_NIEN;
        this.devctl = v;
        if (wasReset && !(v & DEVCTL_SRST)) this.reset();
        // INTRQ is a level: unmasking it while an interrupt is pending raises the line.
        if (wasMasked && !(v & DEVCTL_NIEN) && this.intrq) this.o.raise(ATA.IRQ);
        return;
      }
    }
  }

  private reset(): void {
    if (this.stuckBsyResets > 0) this.stuckBsyResets--;
    else this.stuckBsyUntil = 0;
    this.writeBack();
    this.ahead = undefined;
    this.mode = "idle";
    this.status = ST.RDY | ST.SRV;
    this.error = 0x01; // diagnostic code: no error
    this.count = 1;
    this.lbaLo = 1;
    this.lbaMid = 0;
    this.lbaHi = 0;
    this.drive = 0xa0;
    this.intrq = false;
  }

  private command(cmd: number): void {
    if (this.slave || this.busy()) return; // writes to COMMAND while BSY are ignored
    this.writeBack(); // sectors an interrupted WRITE already accepted are written, as a drive would
    this.error = 0;
    this.intrq = false;
    switch (cmd) {
      case CMD.IDENTIFY: {
        this.buf = identifyBlock(this.sectors, this.o.model ?? "MKOS EMULATED ATA DISK", this.o.serial ?? "MK0000000001");
        this.pos = 0;
        this.mode = "identify";
        this.remaining = 1;
        this.status = ST.RDY | ST.SRV | ST.DRQ;
        this.interrupt();
        return;
      }
      case CMD.READ_SECTORS:
      case CMD.READ_SECTORS_NR:
      case CMD.WRITE_SECTORS:
      case CMD.WRITE_SECTORS_NR: {
        const write = cmd === CMD.WRITE_SECTORS || cmd === CMD.WRITE_SECTORS_NR;
        if (!(this.drive & 0x40)) return this.abort(ER.ABRT); // CHS addressing is not emulated
        const lba = ((this.drive & 0x0f) << 24) | (this.lbaHi << 16) | (this.lbaMid << 8) | this.lbaLo;
        const n = this.count === 0 ? 256 : this.count;
        if (lba + n > this.sectors) return this.abort(ER.IDNF);
        this.lba = lba;
        this.remaining = n;
        this.pos = 0;
        this.ahead = undefined;
        if (write) {
          this.buf = new Uint8Array(SECTOR);
          this.mode = "write";
          this.status = ST.RDY | ST.SRV | ST.DRQ; // the first sector is asked for without an IRQ
        } else {
          this.mode = "read";
          this.loadSector();
        }
        return;
      }
      case CMD.CACHE_FLUSH: {
        try {
          fsyncSync(this.fd);
          this.status = ST.RDY | ST.SRV;
        } catch {
          this.status = ST.RDY | ST.DF | ST.ERR;
          this.error = ER.ABRT;
        }
        this.mode = "idle";
        this.interrupt();
        return;
      }
      default:
        return this.abort(ER.ABRT);
    }
  }

  private abort(err: number): void {
    this.mode = "idle";
    this.error = err;
    this.status = ST.RDY | ST.ERR;
    this.interrupt();
  }

  private loadSector(): void {
    if (this.badSectors.has(this.lba)) return this.abort(ER.UNC | ER.IDNF);
    try {
      const a = this.ahead;
      if (!a || this.lba < a.lba || (this.lba - a.lba + 1) * SECTOR > a.data.length) {
        // One read for the rest of the command, as a drive's read-ahead would.
        const data = new Uint8Array(this.remaining * SECTOR);
        readSync(this.fd, data, 0, data.length, this.lba * SECTOR);
        this.ahead = { lba: this.lba, data };
      }
      const at = (this.lba - this.ahead!.lba) * SECTOR;
      this.buf = this.ahead!.data.subarray(at, at + SECTOR);
    } catch {
      this.mode = "idle";
      this.error = ER.UNC;
      this.status = ST.RDY | ST.DF | ST.ERR;
      this.interrupt();
      return;
    }
    this.pos = 0;
    this.status = ST.RDY | ST.SRV | ST.DRQ;
    this.interrupt();
  }

  private readData(width: Width): number {
    if ((this.mode !== "read" && this.mode !== "identify") || !(this.status & ST.DRQ) || this.busy()) return 0;
    let v = 0;
    for (let i = 0; i < width; i++) v |= this.buf[this.pos + i] << (8 * i);
    this.pos += width;
    if (this.pos >= SECTOR) this.sectorRead();
    return v >>> 0;
  }

  private sectorRead(): void {
    this.remaining--;
    if (this.mode === "identify" || this.remaining === 0) {
      this.ahead = undefined;
      this.mode = "idle";
      this.status = ST.RDY | ST.SRV;
      return;
    }
    this.lba++;
    this.loadSector();
  }

  private writeData(width: Width, value: number): void {
    if (this.mode !== "write" || !(this.status & ST.DRQ) || this.busy()) return;
    for (let i = 0; i < width; i++) this.buf[this.pos + i] = (value >>> (8 * i)) & 0xff;
    this.pos += width;
    if (this.pos >= SECTOR) this.sectorWritten();
  }

  /** Writes the cached sectors of this command to the image; false on an I/O error. */
  private writeBack(): boolean {
    const b = this.behind;
    this.behind = undefined;
    if (!b || b.chunks.length === 0) return true;
    const data = b.chunks.length === 1 ? b.chunks[0] : Buffer.concat(b.chunks);
    try {
      writeSync(this.fd, data, 0, data.length, b.lba * SECTOR);
      return true;
    } catch {
      return false;
    }
  }

  private sectorWritten(): void {
    if (this.badSectors.has(this.lba)) {
      this.writeBack(); // the sectors before the bad one were accepted
      return this.abort(ER.IDNF);
    }
    if (!this.behind) this.behind = { lba: this.lba, chunks: [] };
    this.behind.chunks.push(this.buf);
    this.buf = new Uint8Array(SECTOR);
    this.remaining--;
    this.pos = 0;
    if (this.remaining === 0) {
      // The command's end is visible only after its data reached the image.
      const ok = this.writeBack();
      this.mode = "idle";
      this.status = ok ? ST.RDY | ST.SRV : ST.RDY | ST.DF | ST.ERR;
      if (!ok) this.error = ER.ABRT;
    } else {
      this.lba++;
      this.status = ST.RDY | ST.SRV | ST.DRQ;
    }
    this.interrupt();
  }

  inString(port: number, width: Width, count: number): Uint8Array | undefined {
    if (port !== ATA.DATA) return undefined;
    const out = new Uint8Array(count * width);
    let off = 0;
    while (off < out.length) {
      if ((this.mode !== "read" && this.mode !== "identify") || !(this.status & ST.DRQ) || this.busy()) break; // bus floats: zeros
      const n = Math.min(SECTOR - this.pos, out.length - off);
      out.set(this.buf.subarray(this.pos, this.pos + n), off);
      off += n;
      this.pos += n;
      if (this.pos >= SECTOR) this.sectorRead();
    }
    return out;
  }

  outString(port: number, _width: Width, data: Uint8Array): boolean {
    if (port !== ATA.DATA) return false;
    let off = 0;
    while (off < data.length) {
      if (this.mode !== "write" || !(this.status & ST.DRQ) || this.busy()) break; // ignored, as on real hardware
      const n = Math.min(SECTOR - this.pos, data.length - off);
      this.buf.set(data.subarray(off, off + n), this.pos);
      off += n;
      this.pos += n;
      if (this.pos >= SECTOR) this.sectorWritten();
    }
    return true;
  }
}

function openImage(path: string): number {
  try {
    return openSync(path, "r+");
  } catch {
    return openSync(path, "w+"); // first boot: a new, sparse image
  }
}

/** The 256-word IDENTIFY DEVICE block (ATA-6 layout, LBA28 only). */
function identifyBlock(sectors: number, model: string, serial: string): Uint8Array {
  const w = new Uint16Array(256);
  w[0] = 0x0040; // fixed device
  w[1] = 16383;
  w[3] = 16;
  w[6] = 63; // nominal CHS, for old readers
  putString(w, 10, 20, serial);
  putString(w, 23, 8, "MKOS0001");
  putString(w, 27, 40, model);
  w[47] = 0x8001; // READ/WRITE MULTIPLE: 1 sector
  w[49] = 0x0200; // LBA supported
  w[53] = 0x0006;
  w[60] = sectors & 0xffff;
  w[61] = (sectors >>> 16) & 0x0fff;
  w[80] = 0x007e; // ATA-1..6
  w[82] = 0x4000;
  w[83] = 0x4000 | 0x1000; // FLUSH CACHE supported, no LBA48
  w[86] = 0x1000;
  const out = new Uint8Array(512);
  for (let i = 0; i < 256; i++) {
    out[2 * i] = w[i] & 0xff;
    out[2 * i + 1] = w[i] >> 8;
  }
  return out;
}

/** ATA strings: space padded, two characters per word, first character in the high byte. */
function putString(w: Uint16Array, word: number, len: number, s: string): void {
  const padded = s.padEnd(len, " ").slice(0, len);
  for (let i = 0; i < len; i += 2) w[word + i / 2] = (padded.charCodeAt(i) << 8) | padded.charCodeAt(i + 1);
}

export function readIdentifyString(block: Uint8Array, word: number, len: number): string {
  let s = "";
  for (let i = 0; i < len; i += 2) s += String.fromCharCode(block[2 * (word + i / 2) + 1], block[2 * (word + i / 2)]);
  return s.trimEnd();
}
