// What a kernel call handler is given: the kernel's state, the caller, and its arguments
// already checked against the call's layout.
import type { EndpointInfo, IpcPath, KernelCallType, ReqArgs, Reply } from "#abi";
import type { Clock } from "#base/clock.ts";
import type { Logger, LogLimiter } from "#base/log.ts";
import type { Denial } from "../events/kernel-events.ts";
import type { HwBus } from "../hw/hw-bus.ts";
import type { KernelMetrics } from "../metrics/metrics.ts";
import type { IrqTable } from "../irq/irq-table.ts";
import type { EndpointEntry, EndpointTable } from "../table/endpoint-table.ts";
import type { ProcessControl } from "../sched/process-control.ts";
import type { Scheduler } from "../sched/scheduler.ts";
import type { ServicePrivileges, SystemTable } from "#base/system-table.ts";

export interface KernelState {
  readonly table: EndpointTable;
  readonly priv: SystemTable;
  readonly irqs: IrqTable;
  readonly hw: HwBus;
  readonly log: Logger;
  /** Rate limit for log lines a caller can cause at will. */
  readonly logLimiter: LogLimiter;
  readonly clock: Clock;
  /** This kernel's boot id: a new one at every start of kernel-core. */
  readonly boot: string;
  readonly metrics: KernelMetrics;
  /** The process table and the mechanism of scheduling. */
  readonly sched: Scheduler;
  /** Signals to verified processes (the scheduler's stops, SYS_KILL). */
  readonly control: ProcessControl;
  endpointRows(): EndpointInfo[];
  /** Whether an incarnation still listens on its endpoint (a null message); one that does not is marked dead. */
  stillThere(ep: EndpointEntry, timeoutMs: number): Promise<boolean>;
  /** The paths a sendrec from priv's label to dst can take in this run (trap always). */
  pathsTo(priv: ServicePrivileges, dst: string): IpcPath[];
  /** The labels the table gives `priv` a channel to, in this run (none when MK_IPC_PATH overrides the table). */
  channelLabels(priv: ServicePrivileges): string[];
  /** SYS_CHANNEL: a channel from the caller to dst (label#generation), the table permitting. */
  openChannel(c: CallContext, dst: string): Promise<{ args: { subject: string; token: string } }>;
  /** A refusal of what the privilege table does not grant: counted, logged, published. */
  deny(d: Denial & { call: string; fields?: Record<string, unknown>; message: string }): void;
}

export interface CallContext<T extends KernelCallType = KernelCallType> {
  readonly caller: EndpointEntry | undefined; // undefined only for SYS_HELLO
  readonly label: string;
  readonly privileges: ServicePrivileges;
  readonly origin: "kernel" | "user";
  readonly args: ReqArgs<T>;
  readonly data: Uint8Array;
  readonly reqId: string;
  /** The trace of the request that made this call: the bus request carries it on. */
  readonly trace?: string;
}

/**
 * A kernel call handler, typed by its call's layout (its arguments arrive parsed) and by
 * the parts of the kernel it reaches (K): it is given those ports and no others, so a
 * handler's type says what it can touch, as MINIX's do_*.c name what they use.
 */
export type KernelCall<T extends KernelCallType, K extends keyof KernelState = keyof KernelState> = (
  k: Pick<KernelState, K>,
  c: CallContext<T>,
) => Promise<Reply> | Reply;
