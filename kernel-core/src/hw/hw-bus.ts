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

export class NatsHwBus implements HwBus {
  private readonly mux: RequestMux;
  private readonly timeoutMs: number;
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
    return parseReplyArgs(Hw.HW_INFO, (await this.request(Hw.HW_INFO, {}, undefined, timeoutMs)).args);
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
    let m;
    try {
      m = await this.mux.request(Subjects.hwIo, data, h, timeoutMs);
    } catch (e) {
      // The bus unreachable (NATS reconnecting, the emulator not running) is not a device
      // error: ENOTREADY, which clients resend once it is back. No answer in time is EIO.
      if (isLocalError(e, "MK_ERR_DISCONNECTED") || isLocalError(e, "MK_ERR_NO_RESPONDERS")) {
        throw new MkError("ENOTREADY", `hardware bus unreachable: ${(e as Error).message}`, { cause: e });
      }
      throw new MkError("EIO", `hardware bus did not answer: ${(e as Error).message}`, { cause: e });
    }
    const { get } = readEnvelope(m);
    const status = decodeStatus(get);
    if (status !== 0) throw decodeError(get, status);
    return { args: decodeRawArgs(get), data: m.data };
  }
}
