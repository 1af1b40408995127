// The character driver framework (MINIX libchardriver): maps the CDEV protocol onto a
// device's open/close/read/write; reads may wait (for a line) up to a timeout.
import { Cdev, type Reply } from "#abi";
import { lifecycleOf, minorOf, type DeviceLifecycle } from "./device-lifecycle.ts";
import type { Server, ServiceModule } from "./service.ts";
import type { Sys } from "./sys.ts";

export interface CharDevice extends DeviceLifecycle {
  open?(minor: number): Promise<void>;
  close?(minor: number): Promise<void>;
  read(minor: number, count: number, timeoutMs: number): Promise<Uint8Array>;
  write(minor: number, data: Uint8Array): Promise<number>;
}

export const DEFAULT_READ_TIMEOUT_MS = 10_000;

export function charDriver(label: string, create: (sys: Sys) => CharDevice): ServiceModule {
  return {
    label,
    create(sys: Sys): Server {
      const dev = create(sys);
      return {
        ...lifecycleOf(dev),
        handlers: {
          [Cdev.CDEV_OPEN]: async (r) => { await dev.open?.(minorOf(r)); return {}; },
          [Cdev.CDEV_CLOSE]: async (r) => { await dev.close?.(minorOf(r)); return {}; },
          [Cdev.CDEV_READ]: async (r): Promise<Reply> => {
            const { minor, count, timeoutMs } = r.args as { minor: number; count: number; timeoutMs?: number };
            const data = await dev.read(minor, count, timeoutMs ?? DEFAULT_READ_TIMEOUT_MS);
            return { args: { count: data.length }, data };
          },
          [Cdev.CDEV_WRITE]: async (r): Promise<Reply> => {
            const { minor } = r.args as { minor: number };
            return { args: { count: await dev.write(minor, r.data) } };
          },
        },
      };
    },
  };
}
