// The kernel's side of the hardware bus: port I/O reaches the emulator only from here,
// over mk.hw.io, as one atomic vector of operations per request.
import type { NatsConnection } from "@nats-io/transport-node";
import { decodeError, decodeRawArgs, decodeStatus, encodeArgs, H, Hw, KERNEL, MkError, parseReplyArgs, Subjects, type HwFaultRequest } from "#abi";
import { systemClock, type Clock } from "#base/clock.ts";
import { Envelope, readEnvelope } from "#base/nats-envelope.ts";
import { RequestMux } from "#base/request-mux.ts";

export type HwOp = [string, number, number];

export interface HwBus {
  io(ops: HwOp[], data?: Uint8Array): Promise<{ values: number[]; data: Uint8Array }>;
  fault(req: HwFaultRequest): Promise<void>;
}

export class NatsHwBus implements HwBus {
  private readonly mux: RequestMux;
  private readonly timeoutMs: number;
  constructor(nc: NatsConnection, timeoutMs = 5000, clock: Clock = systemClock) {
    this.mux = new RequestMux(nc, `${Subjects.inboxPrefix(KERNEL)}.hw`, clock);
    this.mux.start();
    this.timeoutMs = timeoutMs;
  }

  async io(ops: HwOp[], data?: Uint8Array): Promise<{ values: number[]; data: Uint8Array }> {
    const r = await this.request(Hw.HW_IO, { ops }, data);
    const args = parseReplyArgs(Hw.HW_IO, r.args) as { values: number[] };
    return { values: args.values, data: r.data };
  }

  async fault(req: HwFaultRequest): Promise<void> {
    await this.request(Hw.HW_FAULT, req);
  }

  private async request(type: number, args: object, data?: Uint8Array): Promise<{ args: unknown; data: Uint8Array }> {
    const h = new Envelope();
    h.set(H.type, String(type));
    h.set(H.args, encodeArgs(args as Record<string, unknown>) ?? "{}");
    let m;
    try {
      m = await this.mux.request(Subjects.hwIo, data, h, this.timeoutMs);
    } catch (e) {
      throw new MkError("EIO", `hardware bus did not answer: ${(e as Error).message}`, { cause: e });
    }
    const { get } = readEnvelope(m);
    const status = decodeStatus(get);
    if (status !== 0) throw decodeError(get, status);
    return { args: decodeRawArgs(get), data: m.data };
  }
}
