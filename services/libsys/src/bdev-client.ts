// The client side of the block protocol (MINIX libbdev). Talks to one incarnation at a
// time; when the driver dies (EDEADSRCDST) it waits for the next generation, re-opens what
// was open and resends; when the kernel or NATS is away (ENOTREADY) it waits and resends
// (libsys's one recovery mechanism, recovery.ts). Reads, writes of whole sectors and
// flushes are idempotent, so resending is safe.
import { Bdev, MkError, SECTOR_SIZE, type GeometryReply, type LayoutType, type ReqArgs } from "#abi";
import { crc32 } from "node:zlib";
import { Recovering, type RecoveryOptions } from "./recovery.ts";
import type { Extent } from "./blockdriver.ts";
import type { Reply, Sys } from "./sys.ts";

/**
 * Reads again after a reply that failed its checksum, before giving up with EIO: damage in
 * transit is transient, but many replies in a row can be hit (a burst of corruption).
 */
const CORRUPT_RETRIES = 32;

export interface BdevClientOptions extends RecoveryOptions {
  /** Per-request timeout. */
  timeoutMs?: number;
}

export class BdevClient {
  private readonly sys: Sys;
  readonly label: string;
  private readonly timeoutMs: number;
  private readonly open = new Set<number>();
  private readonly driver: Recovering;

  constructor(sys: Sys, label: string, o: BdevClientOptions = {}) {
    this.sys = sys;
    this.label = label;
    this.timeoutMs = o.timeoutMs ?? 30_000;
    // A new generation knows nothing of what was open: open it again before resending.
    this.driver = new Recovering(sys, label, o, async (gen) => {
      for (const minor of this.open) {
        await this.sys.sendrec(`${this.label}#${gen}`, Bdev.BDEV_OPEN, { minor }, undefined, this.timeoutMs).catch(() => undefined);
      }
    });
  }

  /** The driver's incarnation requests go to (0 before the first). */
  get generation(): number {
    return this.driver.generation;
  }

  private call<T extends LayoutType>(type: T, args: ReqArgs<T>, data?: Uint8Array): Promise<Reply<T>> {
    return this.driver.call((dst) => this.sys.sendrec(dst, type, args, data, this.timeoutMs));
  }

  async openMinor(minor = 0): Promise<void> {
    await this.call(Bdev.BDEV_OPEN, { minor, access: "rw" });
    this.open.add(minor);
  }

  /** Replies whose data did not match the driver's checksum (each read again). */
  corruptReplies = 0;

  async read(lba: number, count: number, minor = 0): Promise<Uint8Array> {
    for (let attempt = 0; ; attempt++) {
      const r = await this.call(Bdev.BDEV_READ, { minor, lba, count });
      if (r.data.length !== count * SECTOR_SIZE) throw new MkError("EIO", `read of ${count} sectors returned ${r.data.length} bytes`);
      const crc = r.args.crc;
      if (typeof crc !== "number" || crc32(r.data) === crc) return r.data;
      this.corruptReplies++;
      if (attempt >= CORRUPT_RETRIES) throw new MkError("EIO", `read of lba ${lba}: the data failed its checksum ${attempt + 1} times`);
    }
  }

  async write(lba: number, data: Uint8Array, minor = 0): Promise<void> {
    if (data.length % SECTOR_SIZE !== 0) throw new MkError("EINVAL", `write of ${data.length} bytes is not whole sectors`);
    await this.call(Bdev.BDEV_WRITE, { minor, lba, count: data.length / SECTOR_SIZE }, data);
  }

  /**
   * Writes the extents in one request (at most MAX_WRITEV_EXTENTS of them and
   * MAX_WRITEV_SECTORS in all), those before `barrier` all on the disk before any after
   * it, then a flush if asked: a batch of scattered blocks, one round trip. Resending it is
   * as safe as resending a write.
   */
  async writev(extents: readonly Extent[], o: { flush?: boolean; barrier?: number } = {}, minor = 0): Promise<void> {
    const body = new Uint8Array(extents.reduce((n, e) => n + e.data.length, 0));
    let at = 0;
    for (const e of extents) {
      if (e.data.length % SECTOR_SIZE !== 0)
        throw new MkError("EINVAL", `extent at lba ${e.lba}: ${e.data.length} bytes is not whole sectors`);
      body.set(e.data, at);
      at += e.data.length;
    }
    const list = extents.map((e) => ({ lba: e.lba, count: e.data.length / SECTOR_SIZE }));
    const barrier = o.barrier !== undefined && o.barrier > 0 && o.barrier < extents.length ? { barrier: o.barrier } : {};
    await this.call(Bdev.BDEV_WRITEV, { minor, extents: list, ...barrier, ...(o.flush ? { flush: true } : {}) }, body);
  }

  async flush(minor = 0): Promise<void> {
    await this.call(Bdev.BDEV_FLUSH, { minor });
  }

  async geometry(minor = 0): Promise<GeometryReply> {
    const r = await this.call(Bdev.BDEV_GEOMETRY, { minor });
    return r.args;
  }
}
