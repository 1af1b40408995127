// The block driver framework (MINIX libblockdriver): maps the BDEV protocol onto a
// device's open/read/write/flush/geometry and checks sizes (a write's body must be
// exactly count sectors). One request runs at a time (concurrency 1: one controller, one
// set of registers); libsys's server queue serves callers round robin.
import { crc32 } from "node:zlib";
import { Bdev, MkError, SECTOR_SIZE, type Reply } from "#abi";
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
      return {
        ...lifecycleOf(dev, sys),
        concurrency: 1,
        handlers: {
          [Bdev.BDEV_OPEN]: async (r) => { await dev.open?.(r.args.minor); return {}; },
          [Bdev.BDEV_CLOSE]: async (r) => { await dev.close?.(r.args.minor); return {}; },
          [Bdev.BDEV_READ]: async (r): Promise<Reply> => {
            const { minor, lba, count } = r.args;
            if (count === 0) return { args: { count: 0 } };
            const data = await dev.read(minor, lba, count);
            return { args: { count, crc: crc32(data) }, data };
          },
          [Bdev.BDEV_WRITE]: async (r): Promise<Reply> => {
            const { minor, lba, count } = r.args;
            if (r.data.length !== count * SECTOR_SIZE) {
              throw new MkError("EBADREQUEST", `write of ${count} sectors needs ${count * SECTOR_SIZE} bytes, got ${r.data.length} (truncated sector?)`);
            }
            if (count > 0) await dev.write(minor, lba, r.data);
            return { args: { count } };
          },
          [Bdev.BDEV_FLUSH]: async (r) => { await dev.flush(r.args.minor); return {}; },
          [Bdev.BDEV_GEOMETRY]: async (r) => ({ args: { ...(await dev.geometry(r.args.minor)) } }),
        },
      };
    },
  };
}
