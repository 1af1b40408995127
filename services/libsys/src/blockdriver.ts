// The block driver framework (MINIX libblockdriver): maps the BDEV protocol onto a
// device's open/read/write/flush/geometry and checks sizes (a write's body must be
// exactly count sectors) and who may touch which sectors (the privilege table's `block`
// areas, device-guard.ts: a client with ipc to the driver but no grant on a sector is
// refused with EPERM, so no one but mfs writes the file system's blocks). One request
// runs at a time (concurrency 1: one controller, one set of registers); libsys's server
// queue serves callers round robin.
import { crc32 } from "node:zlib";
import { Bdev, MAX_WRITEV_SECTORS, MkError, SECTOR_SIZE, type Reply } from "#abi";
import { DeviceGuard } from "./device-guard.ts";
import { lifecycleOf, type DeviceLifecycle } from "./device-lifecycle.ts";
import type { Server, ServiceModule } from "./service.ts";
import type { Sys } from "./sys.ts";

export interface Geometry {
  sectors: number;
  sectorSize: number;
  model: string;
  serial: string;
}

export interface BlockDevice extends DeviceLifecycle {
  open?(minor: number): Promise<void>;
  close?(minor: number): Promise<void>;
  read(minor: number, lba: number, count: number): Promise<Uint8Array>;
  write(minor: number, lba: number, data: Uint8Array): Promise<void>;
  /**
   * Writes the extents, then flushes if asked, as few device commands as it can; they
   * have been checked (inside the disk, none empty, none overlapping). Every extent before
   * `barrier` is written, and known written, before any after it; a failure stops there.
   * Without it the framework writes them one by one, in order.
   */
  writev?(minor: number, extents: readonly Extent[], flush: boolean, barrier: number): Promise<void>;
  flush(minor: number): Promise<void>;
  geometry(minor: number): Promise<Geometry>;
}

/** Sectors at `lba`, with their bytes. */
export interface Extent {
  lba: number;
  data: Uint8Array;
}

/**
 * Refuses a vectored write that could do harm or hide a bug, before any of it is written:
 * an empty extent, one past the disk's end, two that overlap (which one lands last?), more
 * sectors than one request carries, or a body that is not exactly their sectors.
 */
function checkExtents(extents: readonly { lba: number; count: number }[], body: number, sectors: number): void {
  if (extents.length === 0) throw new MkError("EINVAL", "a vectored write of no extents");
  let total = 0;
  for (const [i, e] of extents.entries()) {
    if (e.count === 0) throw new MkError("EINVAL", `extent ${i} (lba ${e.lba}) has a count of 0`);
    if (e.lba + e.count > sectors)
      throw new MkError("EINVAL", `extent ${i} (sectors ${e.lba}-${e.lba + e.count - 1}) is past the disk's end (${sectors} sectors)`);
    total += e.count;
  }
  if (total > MAX_WRITEV_SECTORS)
    throw new MkError("EINVAL", `a vectored write of ${total} sectors; the limit is ${MAX_WRITEV_SECTORS}`, {
      detail: { arg: "extents", limit: MAX_WRITEV_SECTORS, got: total },
    });
  const sorted = [...extents].sort((a, b) => a.lba - b.lba);
  for (let i = 1; i < sorted.length; i++) {
    const prev = sorted[i - 1];
    if (sorted[i].lba < prev.lba + prev.count)
      throw new MkError("EINVAL", `extents at lba ${prev.lba} (${prev.count} sectors) and lba ${sorted[i].lba} overlap`);
  }
  if (body !== total * SECTOR_SIZE)
    throw new MkError("EBADREQUEST", `a vectored write of ${total} sectors needs ${total * SECTOR_SIZE} bytes, got ${body}`, {
      detail: { arg: "body", limit: total * SECTOR_SIZE, got: body },
    });
}

export function blockDriver(label: string, create: (sys: Sys) => BlockDevice): ServiceModule {
  return {
    label,
    create(sys: Sys): Server {
      const dev = create(sys);
      const guard = new DeviceGuard(sys);
      const lifecycle = lifecycleOf(dev, sys);
      return {
        ...lifecycle,
        // A new kernel-core may hold another table: the grants are asked again.
        initKernelRestart: () => (guard.forget(), lifecycle.initKernelRestart!()),
        concurrency: 1,
        handlers: {
          [Bdev.BDEV_OPEN]: async (r) => {
            await guard.anyBlock(r.source);
            await dev.open?.(r.args.minor);
            return {};
          },
          [Bdev.BDEV_CLOSE]: async (r) => {
            await dev.close?.(r.args.minor);
            return {};
          },
          [Bdev.BDEV_READ]: async (r): Promise<Reply> => {
            const { minor, lba, count } = r.args;
            await guard.sectors(r.source, "r", lba, count);
            if (count === 0) return { args: { count: 0 } };
            const data = await dev.read(minor, lba, count);
            return { args: { count, crc: crc32(data) }, data };
          },
          [Bdev.BDEV_WRITE]: async (r): Promise<Reply> => {
            const { minor, lba, count } = r.args;
            if (r.data.length !== count * SECTOR_SIZE) {
              throw new MkError(
                "EBADREQUEST",
                `write of ${count} sectors needs ${count * SECTOR_SIZE} bytes, got ${r.data.length} (truncated sector?)`,
                { detail: { arg: "body", limit: count * SECTOR_SIZE, got: r.data.length } },
              );
            }
            await guard.sectors(r.source, "w", lba, count);
            if (count > 0) await dev.write(minor, lba, r.data);
            return { args: { count } };
          },
          [Bdev.BDEV_WRITEV]: async (r): Promise<Reply> => {
            const { minor, extents } = r.args;
            checkExtents(extents, r.data.length, (await dev.geometry(minor)).sectors);
            const barrier = r.args.barrier ?? 0;
            if (barrier > extents.length) throw new MkError("EINVAL", `a barrier after extent ${barrier} of ${extents.length}`);
            for (const e of extents) await guard.sectors(r.source, "w", e.lba, e.count);
            const flush = r.args.flush === true;
            if (flush) await guard.anyBlock(r.source, "w");
            let at = 0;
            const parts = extents.map((e) => ({ lba: e.lba, data: r.data.subarray(at, (at += e.count * SECTOR_SIZE)) }));
            if (dev.writev) await dev.writev(minor, parts, flush, barrier);
            else {
              for (const p of parts) await dev.write(minor, p.lba, p.data);
              if (flush) await dev.flush(minor);
            }
            return { args: { count: at / SECTOR_SIZE } };
          },
          [Bdev.BDEV_FLUSH]: async (r) => {
            await guard.anyBlock(r.source, "w");
            await dev.flush(r.args.minor);
            return {};
          },
          [Bdev.BDEV_GEOMETRY]: async (r) => {
            await guard.anyBlock(r.source);
            return { args: { ...(await dev.geometry(r.args.minor)) } };
          },
        },
      };
    },
  };
}
