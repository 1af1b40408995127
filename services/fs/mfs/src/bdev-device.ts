// The disk mfs mounts: the block protocol to the ATA driver, seen as a BlockDevice. The
// client (libsys's BdevClient) already rides out the driver's restarts and checks each
// read's CRC, so mfs never sees a driver crash, only a slower request.
//
// The file system holds a region of the disk, from `first` to the end: by default the
// second half. The first half stays raw, for block workloads (mkctl chaos, benchmarks)
// that write sectors directly and must not write over the file system.
import { MkError, SECTOR_SIZE } from "#abi";

/** Sectors per block request: one ATA command's worth (128 KiB), well inside a message. */
const MAX_SECTORS = 256;
import { BdevClient, type Sys } from "#libsys";
import type { BlockDevice } from "./block-device.ts";

export class BdevBlockDevice implements BlockDevice {
  private readonly client: BdevClient;
  /** The region's first sector on the disk. */
  readonly first: number;
  readonly sectors: number;

  private constructor(client: BdevClient, first: number, sectors: number) {
    this.client = client;
    this.first = first;
    this.sectors = sectors;
  }

  /** Opens minor 0 of the driver `label`; the region starts at `first` (default: half the disk). */
  static async open(sys: Sys, label: string, first?: number): Promise<BdevBlockDevice> {
    // The deadline, not a count of the driver's deaths, bounds a request (a storm of restarts is ridden out).
    const client = new BdevClient(sys, label, { waitMs: 60_000, maxRetries: 100_000 });
    await client.openMinor(0);
    const g = await client.geometry(0);
    const start = first ?? Math.floor(g.sectors / 2);
    if (!Number.isInteger(start) || start < 0 || start >= g.sectors) {
      throw new MkError("EINVAL", `the file system's first sector ${start} is not on the ${g.sectors}-sector disk`);
    }
    return new BdevBlockDevice(client, start, g.sectors - start);
  }

  private check(lba: number, count: number): void {
    if (lba < 0 || lba + count > this.sectors) throw new MkError("EIO", `sectors ${lba}..${lba + count - 1} are past the file system's ${this.sectors}`);
  }
  async read(lba: number, count: number): Promise<Uint8Array> {
    this.check(lba, count);
    if (count <= MAX_SECTORS) return this.client.read(this.first + lba, count);
    const out = new Uint8Array(count * SECTOR_SIZE);
    for (let done = 0; done < count; done += MAX_SECTORS) {
      out.set(await this.client.read(this.first + lba + done, Math.min(MAX_SECTORS, count - done)), done * SECTOR_SIZE);
    }
    return out;
  }
  async write(lba: number, data: Uint8Array): Promise<void> {
    const count = data.length / SECTOR_SIZE;
    this.check(lba, count);
    for (let done = 0; done < count; done += MAX_SECTORS) {
      await this.client.write(this.first + lba + done, data.subarray(done * SECTOR_SIZE, Math.min(count, done + MAX_SECTORS) * SECTOR_SIZE));
    }
  }
  flush(): Promise<void> {
    return this.client.flush();
  }
}
