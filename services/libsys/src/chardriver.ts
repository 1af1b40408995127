// The character driver framework (MINIX libchardriver): maps the CDEV protocol onto a
// device's open/close/read/write; reads may wait (for a line) up to a timeout, so several
// requests run at once (libsys's server queue keeps one caller from holding them all).
// Reading is the device's input (a console's typed lines): only the labels the privilege
// table names with `input` may read; any label with ipc may write. A read waiting when
// kernel-core restarts is ended: its answer would go to the dead kernel, and the next
// line typed would be lost with it.
import { Cdev, MkError, type Reply } from "#abi";
import { DeviceGuard } from "./device-guard.ts";
import { lifecycleOf, type DeviceLifecycle } from "./device-lifecycle.ts";
import type { Server, ServiceModule } from "./service.ts";
import type { Sys } from "./sys.ts";

export interface CharDevice extends DeviceLifecycle {
  open?(minor: number): Promise<void>;
  close?(minor: number): Promise<void>;
  read(minor: number, count: number, timeoutMs: number): Promise<Uint8Array>;
  write(minor: number, data: Uint8Array): Promise<number>;
  /** Fail the reads still waiting with `why` (the driver is stopping, or kernel-core restarted): their callers read again. */
  cancel?(why: MkError): void;
}

const DEFAULT_READ_TIMEOUT_MS = 10_000;

export function charDriver(label: string, create: (sys: Sys) => CharDevice): ServiceModule {
  return {
    label,
    create(sys: Sys): Server {
      const dev = create(sys);
      const guard = new DeviceGuard(sys);
      const lifecycle = lifecycleOf(dev, sys);
      return {
        ...lifecycle,
        concurrency: 8,
        interrupt: () => dev.cancel?.(new MkError("ENOTREADY", `${sys.label} is stopping: read again from its next incarnation`)),
        initKernelRestart: () => {
          dev.cancel?.(new MkError("ENOTREADY", "kernel-core restarted: a read made through the old one is ended (read again)"));
          guard.forget();
          return lifecycle.initKernelRestart!();
        },
        handlers: {
          [Cdev.CDEV_OPEN]: async (r) => {
            await dev.open?.(r.args.minor);
            return {};
          },
          [Cdev.CDEV_CLOSE]: async (r) => {
            await dev.close?.(r.args.minor);
            return {};
          },
          [Cdev.CDEV_READ]: async (r): Promise<Reply> => {
            await guard.input(r.source);
            const data = await dev.read(r.args.minor, r.args.count, r.args.timeoutMs ?? DEFAULT_READ_TIMEOUT_MS);
            return { args: { count: data.length }, data };
          },
          [Cdev.CDEV_WRITE]: async (r): Promise<Reply> => ({ args: { count: await dev.write(r.args.minor, r.data) } }),
        },
      };
    },
  };
}
