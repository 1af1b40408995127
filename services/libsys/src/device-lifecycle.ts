// What the block and character driver frameworks share: a device's init callbacks become
// the server's, and interrupts (notifications from "hardware") go to its intr(). When the
// machine itself restarted (the kernel's NOTIFY_HW_RESET from "hardware") or kernel-core
// did, the device is set up again: its registers and the kernel's IRQ policy are gone.
import { HARDWARE, NOTIFY_HW_RESET } from "#abi";
import type { Server } from "./service.ts";
import type { Sys } from "./sys.ts";

export interface DeviceLifecycle {
  initFresh(): Promise<void>;
  initRestart?(previousGeneration: number): Promise<void>;
  intr?(bits: number): void;
  /** The device lost its state (the emulator restarted). Default: initFresh. */
  reset?(): Promise<void>;
}

export function lifecycleOf(dev: DeviceLifecycle, sys: Sys): Pick<Server, "initFresh" | "initRestart" | "initKernelRestart" | "notify"> {
  const reset = () => (dev.reset ?? dev.initFresh).call(dev);
  return {
    initFresh: () => dev.initFresh(),
    initRestart: (prev) => (dev.initRestart ?? dev.initFresh).call(dev, prev),
    initKernelRestart: reset,
    notify(source, bits) {
      if (source !== HARDWARE) return;
      if (bits & NOTIFY_HW_RESET)
        void reset().catch((e) => sys.log.error({ err: e }, "setting the device up again after a hardware reset failed"));
      const irqs = bits & ~NOTIFY_HW_RESET;
      if (irqs) dev.intr?.(irqs);
    },
  };
}
