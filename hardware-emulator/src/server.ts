// The emulator's NATS face: answers HW_IO, HW_FAULT and HW_INFO on mk.hw.io (only the
// kernel may publish there), publishes interrupts on mk.hw.irq.<n>, and connects the UART
// to the console subjects. Every request is parsed at the edge (the ABI bounds every
// count, so a reply always fits a message); bad ones get EBADREQUEST, and an answer that
// still cannot be sent goes back as an error reply: the bus never falls silent.
import { nuid, type Msg, type Subscription } from "@nats-io/transport-node";
import { decodeRawArgs, decodeType, encodeArgs, H, Hw, MkError, parseRequestArgs, Subjects } from "#abi";
import { clip, LogLimiter, type Logger } from "#base/log.ts";
import { Envelope, readEnvelope } from "#base/nats-envelope.ts";
import { errorEnvelope, type Wire } from "#base/wire.ts";
import type { Machine } from "./bus.ts";

/** Console bytes taken from one message: the UART's receive FIFO is what bounds input anyway. */
const MAX_CONSOLE_IN = 4096;

export class HwServer {
  private readonly wire: Wire;
  private readonly machine: Machine;
  private readonly log: Logger;
  private readonly limiter: LogLimiter;
  private readonly subs: Subscription[] = [];
  /** This machine's boot: a new one after every start of the emulator. */
  readonly boot = nuid.next();

  constructor(wire: Wire, machine: Machine, log: Logger) {
    this.wire = wire;
    this.machine = machine;
    this.log = log;
    this.limiter = new LogLimiter(machine.clock);
  }

  async start(): Promise<void> {
    const nc = this.wire.nc;
    for (const subject of [Subjects.hwIo, Subjects.hwFault]) {
      this.subs.push(nc.subscribe(subject, { callback: this.wire.guard(subject, (m) => this.handle(m)) }));
    }
    this.subs.push(
      nc.subscribe(Subjects.consoleIn, {
        callback: this.wire.guard("console", (m) => this.machine.uart.receive(m.data.subarray(0, MAX_CONSOLE_IN))),
      }),
    );
    await nc.flush();
    this.announce();
  }

  /** Tells the kernel this machine (re)started, so it re-programs what it had set up. */
  announce(): void {
    this.wire.publish(Subjects.hwBoot, undefined, bootEnvelope(this.boot));
  }

  handle(m: Msg): void {
    const { get } = readEnvelope(m);
    const h = new Envelope();
    let data: Uint8Array | undefined;
    try {
      const type = decodeType(get);
      const raw = decodeRawArgs(get);
      if (type === Hw.HW_IO) {
        const r = this.machine.exec(parseRequestArgs(Hw.HW_IO, raw).ops, m.data);
        h.set(H.args, encodeArgs({ values: r.values }) ?? "{}");
        data = r.data;
      } else if (type === Hw.HW_FAULT) {
        const args = parseRequestArgs(Hw.HW_FAULT, raw);
        this.machine.faults.apply(args);
        this.limiter.allow(this.log, `fault:${args.fault}`, () => this.log.warn({ fault: args }, "fault injected: %s", args.fault));
      } else if (type === Hw.HW_INFO) {
        parseRequestArgs(Hw.HW_INFO, raw);
        h.set(H.args, encodeArgs({ boot: this.boot, ioOps: this.machine.ioOps, ticks: this.machine.pit.ticks }) ?? "{}");
      } else {
        throw new MkError("EBADREQUEST", `the hardware bus does not handle type 0x${type.toString(16)}`);
      }
      h.set(H.status, "0");
    } catch (e) {
      const err = e instanceof MkError ? e : new MkError("EIO", `bus error: ${(e as Error).message}`);
      if (!(e instanceof MkError)) this.limiter.allow(this.log, "bus-error", () => this.log.error({ err: e }, "bus error"));
      this.wire.respond(m.reply, undefined, errorEnvelope(err));
      return;
    }
    this.wire.respond(m.reply, data, h);
  }

  /** What the UART sent, for the console: published whole, logged clipped and rate-limited. */
  consoleOut(bytes: Uint8Array): void {
    this.wire.publish(Subjects.consoleOut, bytes);
    this.limiter.allow(this.log, "console", () =>
      this.log.info(
        { console: clip(new TextDecoder().decode(bytes.subarray(0, 256)).replace(/\n$/, ""), 200), bytes: bytes.length },
        "console",
      ),
    );
  }

  async stop(): Promise<void> {
    for (const s of this.subs) s.unsubscribe();
  }
}

function bootEnvelope(boot: string): Envelope {
  const h = new Envelope();
  h.set(H.args, encodeArgs({ boot }) ?? "{}");
  return h;
}
