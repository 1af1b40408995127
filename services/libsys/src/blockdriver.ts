// The block driver framework (MINIX libblockdriver): maps the BDEV protocol onto a
// device's open/read/write/flush/geometry and checks sizes (a write's body must be
// exactly count sectors) and who may touch which sectors (the privilege table's `block`
// areas, device-guard.ts: a client with ipc to the driver but no grant on a sector is
// refused with EPERM, so no one but mfs writes the file system's blocks). One request
// runs at a time (concurrency 1: one controller, one set of registers); libsys's server
// queue serves callers round robin.
import { crc32 } from "node:zlib";
import { Bdev, MkError, SECTOR_SIZE, type Reply } from "#abi";
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
  flush(minor: number): Promise<void>;
  geometry(minor: number): Promise<Geometry>;
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
