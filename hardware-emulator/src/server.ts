// The emulator's NATS face: answers HW_IO and HW_FAULT on mk.hw.io (only the kernel may
// publish there), publishes interrupts on mk.hw.irq.<n>, and connects the UART to the
// console subjects. Every request is parsed at the edge; bad ones get EBADREQUEST.
import type { Msg, NatsConnection, Subscription } from "@nats-io/transport-node";
import {
  decodeRawArgs, decodeType, encodeArgs, H, headerSafe, Hw, MkError, parseRequestArgs, Subjects,
  type HwFaultRequest, type HwIoRequest,
} from "#abi";
import type { Logger } from "#base/log.ts";
import { Envelope, readEnvelope } from "#base/nats-envelope.ts";
import type { Machine } from "./bus.ts";

export class HwServer {
  private readonly nc: NatsConnection;
  private readonly machine: Machine;
  private readonly log: Logger;
  private readonly subs: Subscription[] = [];

  constructor(nc: NatsConnection, machine: Machine, log: Logger) {
    this.nc = nc;
    this.machine = machine;
    this.log = log;
  }

  async start(): Promise<void> {
    for (const subject of [Subjects.hwIo, Subjects.hwFault]) {
      this.subs.push(this.nc.subscribe(subject, { callback: (_e, m) => this.handle(m) }));
    }
    this.subs.push(this.nc.subscribe(Subjects.consoleIn, { callback: (_e, m) => this.machine.uart.receive(m.data) }));
    await this.nc.flush();
  }

  handle(m: Msg): void {
    const { get } = readEnvelope(m);
    const h = new Envelope();
    let data: Uint8Array | undefined;
    try {
      const type = decodeType(get);
      const raw = decodeRawArgs(get);
      if (type === Hw.HW_IO) {
        const args = parseRequestArgs(Hw.HW_IO, raw) as HwIoRequest;
        const r = this.machine.exec(args.ops, m.data);
        h.set(H.args, encodeArgs({ values: r.values }) ?? "{}");
        data = r.data;
      } else if (type === Hw.HW_FAULT) {
        const args = parseRequestArgs(Hw.HW_FAULT, raw) as HwFaultRequest;
        this.machine.faults.apply(args);
        this.log.warn({ fault: args }, "fault injected: %s", args.fault);
      } else {
        throw new MkError("EBADREQUEST", `the hardware bus does not handle type 0x${type.toString(16)}`);
      }
      h.set(H.status, "0");
    } catch (e) {
      const err = e instanceof MkError ? e : new MkError("EIO", `bus error: ${(e as Error).message}`);
      if (!(e instanceof MkError)) this.log.error({ err: e }, "bus error");
      h.set(H.status, String(err.code));
      h.set(H.errname, err.errno);
      h.set(H.errmsg, headerSafe(err.message));
    }
    if (m.reply) m.respond(data, { headers: h });
  }

  async stop(): Promise<void> {
    for (const s of this.subs) s.unsubscribe();
  }
}
