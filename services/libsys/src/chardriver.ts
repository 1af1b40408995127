// The character driver framework (MINIX libchardriver): maps the CDEV protocol onto a
// device's open/close/read/write; reads may wait (for a line) up to a timeout, so several
// requests run at once (libsys's server queue keeps one caller from holding them all).
import { Cdev, type Reply } from "#abi";
import { lifecycleOf, type DeviceLifecycle } from "./device-lifecycle.ts";
import type { Server, ServiceModule } from "./service.ts";
import type { Sys } from "./sys.ts";

export interface CharDevice extends DeviceLifecycle {
  open?(minor: number): Promise<void>;
  close?(minor: number): Promise<void>;
  read(minor: number, count: number, timeoutMs: number): Promise<Uint8Array>;
  write(minor: number, data: Uint8Array): Promise<number>;
  /** The driver is stopping: fail the reads still waiting (their callers read again from the next incarnation). */
  cancel?(): void;
}

export const DEFAULT_READ_TIMEOUT_MS = 10_000;

export function charDriver(label: string, create: (sys: Sys) => CharDevice): ServiceModule {
  return {
    label,
    create(sys: Sys): Server {
      const dev = create(sys);
      return {
        ...lifecycleOf(dev, sys),
        concurrency: 8,
        interrupt: () => dev.cancel?.(),
        handlers: {
          [Cdev.CDEV_OPEN]: async (r) => { await dev.open?.(r.args.minor); return {}; },
          [Cdev.CDEV_CLOSE]: async (r) => { await dev.close?.(r.args.minor); return {}; },
          [Cdev.CDEV_READ]: async (r): Promise<Reply> => {
            const data = await dev.read(r.args.minor, r.args.count, r.args.timeoutMs ?? DEFAULT_READ_TIMEOUT_MS);
            return { args: { count: data.length }, data };
          },
          [Cdev.CDEV_WRITE]: async (r): Promise<Reply> => ({ args: { count: await dev.write(r.args.minor, r.data) } }),
        },
      };
    },
  };
}
