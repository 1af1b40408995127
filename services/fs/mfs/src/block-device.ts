// The one face mfs sees of a disk: whole 512-byte sectors by LBA. The server runs over the
// ATA driver through this interface; tests and tools run over a file image or memory, so the
// on-disk code is exercised without a kernel.
import { open, type FileHandle } from "node:fs/promises";
import { MkError, SECTOR_SIZE } from "#abi";
import type { Extent } from "#libsys";

export { SECTOR_SIZE };
export type { Extent };

/** Requests a device has served: what a benchmark prints per file operation. */
export interface IoCounts {
  reads: number;
  writes: number;
  flushes: number;
}

export interface BlockDevice {
  /** Size in 512-byte sectors. */
  readonly sectors: number;
  readonly io: IoCounts;
  /** Reads `count` sectors starting at `lba`. */
  read(lba: number, count: number): Promise<Uint8Array>;
  /** Writes whole sectors starting at `lba`. */
  write(lba: number, data: Uint8Array): Promise<void>;
  /**
   * Writes the extents, those before `barrier` all on the disk before any after it is
   * written (a crash part way leaves them all or none of the rest), then flushes if asked:
   * a batch of scattered blocks in as few requests as the device takes.
   */
  writev(extents: readonly Extent[], flush: boolean, barrier?: number): Promise<void>;
  /** Pushes what was written to stable storage. */
  flush(): Promise<void>;
}

/** writev as a loop of writes in order (the barrier holds by itself) and a flush, for devices where a request costs no trip. */
async function writeEach(dev: BlockDevice, extents: readonly Extent[], flush: boolean): Promise<void> {
  for (const e of extents) await dev.write(e.lba, e.data);
  if (flush) await dev.flush();
}

/** Refuses a transfer that is not whole sectors inside the device, before touching it. */
function checkTransfer(dev: { sectors: number }, lba: number, count: number, what: string): void {
  if (!Number.isInteger(lba) || !Number.isInteger(count) || lba < 0 || count < 0 || lba + count > dev.sectors) {
    throw new MkError("EIO", `${what} of ${count} sectors at LBA ${lba} is outside the ${dev.sectors}-sector device`);
  }
}

function sectorsOf(data: Uint8Array, what: string): number {
  if (data.length % SECTOR_SIZE !== 0) throw new MkError("EINVAL", `${what} of ${data.length} bytes is not whole sectors`);
  return data.length / SECTOR_SIZE;
}

/** A disk image file (util-linux's tools work on the same file). */
export class FileBlockDevice implements BlockDevice {
  readonly sectors: number;
  readonly io: IoCounts = { reads: 0, writes: 0, flushes: 0 };
  private readonly fh: FileHandle;
  private readonly readOnly: boolean;

  private constructor(fh: FileHandle, sectors: number, readOnly: boolean) {
    this.fh = fh;
    this.sectors = sectors;
    this.readOnly = readOnly;
  }

  static async open(path: string, opts: { readOnly?: boolean } = {}): Promise<FileBlockDevice> {
    const readOnly = opts.readOnly === true;
    const fh = await open(path, readOnly ? "r" : "r+");
    const { size } = await fh.stat();
    // A trailing partial sector cannot be addressed, so it is not part of the device.
    return new FileBlockDevice(fh, Math.floor(size / SECTOR_SIZE), readOnly);
  }

  async read(lba: number, count: number): Promise<Uint8Array> {
    checkTransfer(this, lba, count, "read");
    this.io.reads++;
    const out = new Uint8Array(count * SECTOR_SIZE);
    let done = 0;
    while (done < out.length) {
      const { bytesRead } = await this.fh.read(out, done, out.length - done, lba * SECTOR_SIZE + done);
      if (bytesRead === 0) throw new MkError("EIO", `short read at LBA ${lba}`);
      done += bytesRead;
    }
    return out;
  }

  async write(lba: number, data: Uint8Array): Promise<void> {
    if (this.readOnly) throw new MkError("EIO", `write at LBA ${lba} to a read-only image`);
    checkTransfer(this, lba, sectorsOf(data, "write"), "write");
    this.io.writes++;
    let done = 0;
    while (done < data.length) {
      const { bytesWritten } = await this.fh.write(data, done, data.length - done, lba * SECTOR_SIZE + done);
      done += bytesWritten;
    }
  }

  writev(extents: readonly Extent[], flush: boolean): Promise<void> {
    return writeEach(this, extents, flush);
  }

  async flush(): Promise<void> {
    this.io.flushes++;
    if (!this.readOnly) await this.fh.sync();
  }

  async close(): Promise<void> {
    await this.fh.close();
  }
}

/** A disk in memory; `bytes` is the whole device, for tests that corrupt it on purpose. */
export class MemoryBlockDevice implements BlockDevice {
  readonly sectors: number;
  readonly bytes: Uint8Array;
  readonly io: IoCounts = { reads: 0, writes: 0, flushes: 0 };

  constructor(sectors: number) {
    if (!Number.isInteger(sectors) || sectors < 0) throw new MkError("EINVAL", `bad sector count ${sectors}`);
    this.sectors = sectors;
    this.bytes = new Uint8Array(sectors * SECTOR_SIZE);
  }

  async read(lba: number, count: number): Promise<Uint8Array> {
    checkTransfer(this, lba, count, "read");
    this.io.reads++;
    return this.bytes.slice(lba * SECTOR_SIZE, (lba + count) * SECTOR_SIZE);
  }

  async write(lba: number, data: Uint8Array): Promise<void> {
    checkTransfer(this, lba, sectorsOf(data, "write"), "write");
    this.io.writes++;
    this.bytes.set(data, lba * SECTOR_SIZE);
  }

  writev(extents: readonly Extent[], flush: boolean): Promise<void> {
    return writeEach(this, extents, flush);
  }

  async flush(): Promise<void> {
    this.io.flushes++;
  }
}
