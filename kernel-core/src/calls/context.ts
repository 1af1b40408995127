// What a kernel call handler is given: the kernel's state, the caller, and its arguments
// already checked against the call's layout.
import type { Args, EndpointInfo, Reply } from "#abi";
import type { Logger } from "#base/log.ts";
import type { HwBus } from "../hw/hw-bus.ts";
import type { KernelMetrics } from "../http/metrics.ts";
import type { IrqTable } from "../irq/irq-table.ts";
import type { EndpointEntry, EndpointTable } from "../ipc/endpoint-table.ts";
import type { ServicePrivileges, SystemTable } from "#base/system-table.ts";

export interface KernelState {
  readonly table: EndpointTable;
  readonly priv: SystemTable;
  readonly irqs: IrqTable;
  readonly hw: HwBus;
  readonly log: Logger;
  readonly metrics: KernelMetrics;
  endpointRows(): EndpointInfo[];
}

export interface CallContext {
  readonly caller: EndpointEntry | undefined; // undefined only for SYS_HELLO
  readonly label: string;
  readonly privileges: ServicePrivileges;
  readonly origin: "kernel" | "user";
  readonly args: Args;
  readonly data: Uint8Array;
  readonly reqId: string;
}

export type KernelCall = (k: KernelState, c: CallContext) => Promise<Reply> | Reply;
