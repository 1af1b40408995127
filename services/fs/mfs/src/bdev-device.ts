// The disk mfs mounts: the block protocol to the ATA driver, seen as a BlockDevice. The
// client (libsys's BdevClient) already rides out the driver's restarts and checks each
// read's CRC, so mfs never sees a driver crash, only a slower request.
//
// The file system holds one area of the disk: the one the privilege table grants mfs to
// read and write (`block: { ata: { minix: rw } }`, the area's sectors in
// hardware.disk.areas). The driver refuses everyone else's writes there, and mfs's
// outside it: the raw area stays for block workloads (mkctl chaos, benchmarks, dd).
import { f, MAX_WRITEV_EXTENTS, MAX_WRITEV_SECTORS, MkError, parseShape, SECTOR_SIZE } from "#abi";
import { BdevClient, sysGetPrivileges, type Sys } from "#libsys";
import type { BlockDevice, Extent, IoCounts } from "./block-device.ts";

/** Sectors per read request (512 KiB, the protocol's bound; the driver reads them in four commands). */
const MAX_READ_SECTORS = 1024;
/** Sectors per written extent: one ATA command's worth (128 KiB). */
const MAX_SECTORS = 256;
const Grants = {
  block: f.opt(f.list(f.object({ device: f.str(32), area: f.str(32), first: f.u32, last: f.u32, access: f.enum("r", "w", "rw") }), 1024)),
};

/** The one disk area of `driver` this service may read and write, as its privileges say. */
async function ownArea(sys: Sys, driver: string): Promise<{ area: string; first: number; last: number }> {
  const all = await sysGetPrivileges(sys);
  const p = parseShape(Grants, { block: typeof all === "object" && all !== null && "block" in all ? all.block : undefined });
  const rw = (p.block ?? []).filter((g) => g.device === driver && g.access === "rw");
  if (rw.length !== 1) {
    throw new MkError(
      "EPERM",
      `${sys.label} needs exactly one disk area it may read and write on ${driver} (block: { ${driver}: { AREA: rw } } in the privilege table); it has ${rw.length}`,
    );
  }
  return rw[0];
}

export class BdevBlockDevice implements BlockDevice {
  private readonly client: BdevClient;
  /** The region's first sector on the disk. */
  readonly first: number;
  readonly sectors: number;
  readonly io: IoCounts = { reads: 0, writes: 0, flushes: 0 };

  private constructor(client: BdevClient, first: number, sectors: number) {
    this.client = client;
    this.first = first;
    this.sectors = sectors;
  }

  /** Opens minor 0 of the driver `label`; the file system is this service's own area of its disk. */
  static async open(sys: Sys, label: string): Promise<BdevBlockDevice> {
    const area = await ownArea(sys, label);
    // The deadline, not a count of the driver's deaths, bounds a request (a storm of restarts is ridden out).
    const client = new BdevClient(sys, label, { waitMs: 60_000, maxRetries: 100_000 });
    await client.openMinor(0);
    const g = await client.geometry(0);
    if (area.last >= g.sectors) {
      throw new MkError(
        "EINVAL",
        `area ${area.area} (sectors ${area.first}-${area.last}) is not on the ${g.sectors}-sector disk: hardware.disk.sectors says another size`,
      );
    }
    return new BdevBlockDevice(client, area.first, area.last - area.first + 1);
  }

  private check(lba: number, count: number): void {
    if (lba < 0 || lba + count > this.sectors)
      throw new MkError("EIO", `sectors ${lba}..${lba + count - 1} are past the file system's ${this.sectors}`);
  }
  async read(lba: number, count: number): Promise<Uint8Array> {
    this.check(lba, count);
    if (count <= MAX_READ_SECTORS) {
      this.io.reads++;
      return this.client.read(this.first + lba, count);
    }
    const out = new Uint8Array(count * SECTOR_SIZE);
    for (let done = 0; done < count; done += MAX_READ_SECTORS) {
      this.io.reads++;
      out.set(await this.client.read(this.first + lba + done, Math.min(MAX_READ_SECTORS, count - done)), done * SECTOR_SIZE);
    }
    return out;
  }
  async write(lba: number, data: Uint8Array): Promise<void> {
    const count = data.length / SECTOR_SIZE;
    this.check(lba, count);
    for (let done = 0; done < count; done += MAX_SECTORS) {
      this.io.writes++;
      await this.client.write(
        this.first + lba + done,
        data.subarray(done * SECTOR_SIZE, Math.min(count, done + MAX_SECTORS) * SECTOR_SIZE),
      );
    }
  }
  /**
   * The extents in order, packed into as few BDEV_WRITEV requests as the protocol's bounds
   * allow (an extent longer than one ATA command is cut in two), the barrier passed on to
   * the request it falls in (requests go one after another, so it holds between them too);
   * the flush rides on the last.
   */
  async writev(extents: readonly Extent[], flush: boolean, barrier = 0): Promise<void> {
    const pieces: Extent[] = [];
    let pieceBarrier = 0;
    for (const [k, e] of extents.entries()) {
      if (k === barrier) pieceBarrier = pieces.length;
      const count = e.data.length / SECTOR_SIZE;
      this.check(e.lba, count);
      for (let done = 0; done < count; done += MAX_SECTORS) {
        const end = Math.min(count, done + MAX_SECTORS);
        pieces.push({ lba: this.first + e.lba + done, data: e.data.subarray(done * SECTOR_SIZE, end * SECTOR_SIZE) });
      }
    }
    if (pieces.length === 0) return flush ? this.flush() : undefined;
    for (let i = 0; i < pieces.length; ) {
      let sectors = 0;
      let j = i;
      while (j < pieces.length && j - i < MAX_WRITEV_EXTENTS && sectors + pieces[j].data.length / SECTOR_SIZE <= MAX_WRITEV_SECTORS)
        sectors += pieces[j++].data.length / SECTOR_SIZE;
      const last = j === pieces.length;
      this.io.writes++;
      if (last && flush) this.io.flushes++;
      await this.client.writev(pieces.slice(i, j), { flush: last && flush, barrier: pieceBarrier - i });
      i = j;
    }
  }

  flush(): Promise<void> {
    this.io.flushes++;
    return this.client.flush();
  }
}
