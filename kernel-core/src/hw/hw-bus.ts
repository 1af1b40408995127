// The kernel's side of the hardware bus: port I/O reaches the emulator only from here,
// over mk.hw.io, as one atomic vector of operations per request.
import {
  decodeError,
  decodeRawArgs,
  decodeStatus,
  encodeArgs,
  H,
  Hw,
  KERNEL,
  MkError,
  parseReplyArgs,
  Subjects,
  type HwFaultRequest,
  type HwInfoReply,
  type HwIoRequest,
} from "#abi";
import type { Clock } from "#base/clock.ts";
import { Envelope, readEnvelope } from "#base/nats-envelope.ts";
import { isLocalError } from "#base/errors.ts";
import { RequestMux } from "#base/request-mux.ts";
import { childTrace } from "#base/trace.ts";
import type { Wire } from "#base/wire.ts";

export type HwOp = HwIoRequest["ops"][number];

export interface HwBus {
  /** trace: the traceparent of the request this I/O is done for, carried to the emulator. */
  io(ops: HwOp[], data?: Uint8Array, trace?: string): Promise<{ values: number[]; data: Uint8Array }>;
  fault(req: HwFaultRequest): Promise<void>;
  /** The machine's boot id and counters; answers within timeoutMs or fails (readiness means this answers). */
  info(timeoutMs?: number): Promise<HwInfoReply>;
}

/** How long the bus asks the machine whether it is still the same one, after a request went unanswered. */
const PROBE_MS = 500;

export class NatsHwBus implements HwBus {
  private readonly mux: RequestMux;
  private readonly timeoutMs: number;
  /** The machine's boot id as last seen in an HW_INFO answer. */
  private machineBoot?: string;
  constructor(wire: Wire, clock: Clock, timeoutMs = 5000) {
    this.mux = new RequestMux(wire, `${Subjects.inboxPrefix(KERNEL)}.hw`, clock);
    this.mux.start();
    this.timeoutMs = timeoutMs;
  }

  async io(ops: HwOp[], data?: Uint8Array, trace?: string): Promise<{ values: number[]; data: Uint8Array }> {
    const r = await this.request(Hw.HW_IO, { ops }, data, this.timeoutMs, trace);
    return { values: parseReplyArgs(Hw.HW_IO, r.args).values, data: r.data };
  }

  async fault(req: HwFaultRequest): Promise<void> {
    await this.request(Hw.HW_FAULT, req);
  }

  async info(timeoutMs = this.timeoutMs): Promise<HwInfoReply> {
    const r = parseReplyArgs(Hw.HW_INFO, (await this.request(Hw.HW_INFO, {}, undefined, timeoutMs)).args);
    this.machineBoot = r.boot;
    return r;
  }

  private async request(
    type: number,
    args: object,
    data?: Uint8Array,
    timeoutMs = this.timeoutMs,
    trace?: string,
  ): Promise<{ args: unknown; data: Uint8Array }> {
    const h = new Envelope();
    h.set(H.type, String(type));
    if (trace) h.set(H.trace, childTrace(trace));
    h.set(H.args, encodeArgs(args) ?? "{}");
    const bootBefore = this.machineBoot;
    let m;
    try {
      m = await this.mux.request(Subjects.hwIo, data, h, timeoutMs);
    } catch (e) {
      // The bus unreachable (NATS reconnecting, the emulator not running) is not a device
      // error: ENOTREADY, which clients resend once it is back.
      if (unreachable(e)) throw new MkError("ENOTREADY", `hardware bus unreachable: ${(e as Error).message}`, { cause: e });
      // No answer in time. A machine that died or restarted with the request on the bus lost
      // it, as a disk loses the command in flight when it loses power: ENOTREADY, resent by
      // the client once the machine is back (the driver sets its device up again first). A
      // machine that is there, the same one, and did not answer: EIO, a device error.
      if (type !== Hw.HW_INFO && (await this.machineGone(bootBefore)))
        throw new MkError("ENOTREADY", `the machine went away or restarted with the request on the bus: ${(e as Error).message}`, {
          cause: e,
        });
      throw new MkError("EIO", `hardware bus did not answer: ${(e as Error).message}`, { cause: e });
    }
    const { get } = readEnvelope(m);
    const status = decodeStatus(get);
    if (status !== 0) throw decodeError(get, status);
    return { args: decodeRawArgs(get), data: m.data };
  }

  /** Whether the machine is gone, or is another boot than `before`, asked now (within PROBE_MS). */
  private async machineGone(before: string | undefined): Promise<boolean> {
    try {
      const now = await this.info(PROBE_MS);
      return before !== undefined && now.boot !== before;
    } catch {
      return true;
    }
  }
}

function unreachable(e: unknown): boolean {
  return isLocalError(e, "MK_ERR_DISCONNECTED") || isLocalError(e, "MK_ERR_NO_RESPONDERS");
}
