// What the block and character driver frameworks share: a device's init callbacks become
// the server's, and interrupts (notifications from "hardware") go to its intr().
import { HARDWARE } from "#abi";
import type { Server } from "./service.ts";

export interface DeviceLifecycle {
  initFresh(): Promise<void>;
  initRestart?(previousGeneration: number): Promise<void>;
  intr?(bits: number): void;
}

export function lifecycleOf(dev: DeviceLifecycle): Pick<Server, "initFresh" | "initRestart" | "notify"> {
  return {
    initFresh: () => dev.initFresh(),
    initRestart: (prev) => (dev.initRestart ?? dev.initFresh).call(dev, prev),
    notify(source, bits) {
      if (source === HARDWARE) dev.intr?.(bits);
    },
  };
}

/** The minor device a request names (its layout guarantees the field). */
export function minorOf(r: { args: unknown }): number {
  return (r.args as { minor: number }).minor;
}
