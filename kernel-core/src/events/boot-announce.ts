// kernel-core's boot announcement on mk.kernel.boot: sent at start, after every NATS
// reconnect and every KERNEL_BEACON_MS. Clients that hear none for KERNEL_SILENT_MS take
// the kernel for gone; one that hears a new boot id registers again.
import { encodeArgs, H, Subjects } from "#abi";
import { Envelope } from "#base/nats-envelope.ts";
import type { Wire } from "#base/wire.ts";

export function announceBoot(wire: Wire, boot: string): void {
  const h = new Envelope();
  h.set(H.args, encodeArgs({ boot }) ?? "{}");
  wire.publish(Subjects.kernelBoot, undefined, h);
}
