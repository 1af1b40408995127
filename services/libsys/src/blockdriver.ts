// The block driver framework (MINIX libblockdriver): maps the BDEV protocol onto a
// device's open/read/write/flush/geometry, checks sizes (a write's body must be exactly
// count sectors), and runs one request at a time.
import { Bdev, MkError, SECTOR_SIZE, type Reply } from "#abi";
import { lifecycleOf, minorOf, type DeviceLifecycle } from "./device-lifecycle.ts";
import { Mutex } from "./mutex.ts";
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
      const one = new Mutex();
      return {
        ...lifecycleOf(dev),
        handlers: {
          [Bdev.BDEV_OPEN]: (r) => one.run(async () => { await dev.open?.(minorOf(r)); return {}; }),
          [Bdev.BDEV_CLOSE]: (r) => one.run(async () => { await dev.close?.(minorOf(r)); return {}; }),
          [Bdev.BDEV_READ]: (r) => one.run(async (): Promise<Reply> => {
            const { minor, lba, count } = r.args as { minor: number; lba: number; count: number };
            if (count === 0) return { args: { count: 0 } };
            const data = await dev.read(minor, lba, count);
            return { args: { count }, data };
          }),
          [Bdev.BDEV_WRITE]: (r) => one.run(async (): Promise<Reply> => {
            const { minor, lba, count } = r.args as { minor: number; lba: number; count: number };
            if (r.data.length !== count * SECTOR_SIZE) {
              throw new MkError("EBADREQUEST", `write of ${count} sectors needs ${count * SECTOR_SIZE} bytes, got ${r.data.length} (truncated sector?)`);
            }
            if (count > 0) await dev.write(minor, lba, r.data);
            return { args: { count } };
          }),
          [Bdev.BDEV_FLUSH]: (r) => one.run(async () => { await dev.flush(minorOf(r)); return {}; }),
          [Bdev.BDEV_GEOMETRY]: (r) => one.run(async () => ({ args: { ...(await dev.geometry(minorOf(r))) } })),
        },
      };
    },
  };
}
