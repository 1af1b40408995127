// Kernel placement: a server loaded into kernel-core's own process. Its messages are
// function calls into the trap path; messages to it are function calls to its handlers.
// A crash here is a crash of the kernel: panic() stops kernel-core (the blue screen).
import { Kind, MkError, NOTIFY_MESSAGE, type KernelEvent } from "#abi";
import { ExitStatus } from "#base/errors.ts";
import { childTrace, currentTrace } from "#base/trace.ts";
import type { Logger } from "#base/log.ts";
import type { RawReply, Receiver, Transport } from "#base/transport.ts";
import type { KernelEvents } from "../events/kernel-events.ts";
import type { Ipc, TrapOut } from "./ipc.ts";

const DEFAULT_TIMEOUT_MS = 30_000;
let seq = 0;

export class KernelTransport implements Transport {
  readonly label: string;
  readonly placement = "kernel" as const;
  private readonly ipc: Ipc;
  private readonly klog: Logger;

  private self?: string;
  private readonly kevents?: { source: KernelEvents; allowed: boolean };
  private readonly halt?: (label: string, err: unknown) => void;

  /**
   * kevents: the kernel's event stream, and whether this service holds the events privilege.
   * halt: what a panic does before kernel-core ends (kernel-core's main: the panic event, the
   * console, then exit); without it a panic exits at once.
   */
  constructor(
    label: string,
    ipc: Ipc,
    log: Logger,
    kevents?: { source: KernelEvents; allowed: boolean },
    halt?: (label: string, err: unknown) => void,
  ) {
    this.label = label;
    this.ipc = ipc;
    this.klog = log;
    this.kevents = kevents;
    this.halt = halt;
  }

  async events(onEvent: (ev: KernelEvent) => void): Promise<{ stop(): void }> {
    if (!this.kevents?.allowed)
      throw new MkError("ECALLDENIED", `${this.label} may not read the kernel event stream: it needs events: true in the privilege table`);
    const stop = this.kevents.source.listen((ev) => {
      try {
        onEvent(ev);
      } catch (e) {
        this.halting(e);
      }
    });
    return { stop };
  }

  connection(): string {
    return "";
  }

  private async trap(
    kind: Kind,
    dst: string,
    type: number,
    args: object | undefined,
    data: Uint8Array,
    timeoutMs: number,
  ): Promise<TrapOut> {
    const out = await this.ipc.trap({
      caller: this.label,
      callerClaim: this.self,
      origin: "kernel",
      kind,
      dst,
      type,
      args: args ?? {},
      data,
      reqId: `k${++seq}`,
      timeoutMs,
      // An in-kernel server's calls carry the trace of the request it is handling, if any.
      trace: currentTrace() && childTrace(),
    });
    if (out.status !== 0) throw MkError.fromStatus(out.status, out.errmsg ?? "", out.detail);
    return out;
  }

  async sendrec(dst: string, type: number, args: object | undefined, data: Uint8Array, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<RawReply> {
    const out = await this.trap(Kind.SENDREC, dst, type, args, data, timeoutMs);
    return { args: out.args ?? (out.argsJson ? (JSON.parse(out.argsJson) as unknown) : {}), data: out.data };
  }

  async send(dst: string, type: number, args: object | undefined, data: Uint8Array): Promise<void> {
    await this.trap(Kind.SEND, dst, type, args, data, DEFAULT_TIMEOUT_MS);
  }

  async notify(dst: string, bits: number): Promise<void> {
    await this.trap(Kind.NOTIFY, dst, NOTIFY_MESSAGE, { bits }, new Uint8Array(0), DEFAULT_TIMEOUT_MS);
  }

  async listen(generation: number, receiver: Receiver): Promise<void> {
    // From now on every trap names this incarnation, as over NATS: a superseded one is refused.
    this.self = `${this.label}#${generation}`;
    this.ipc.inKernel.set(this.label, {
      deliver: async (msg) => {
        try {
          return await receiver.deliver(msg);
        } catch (e) {
          if (e instanceof MkError) throw e;
          // A halted machine answers nothing: the caller learns of it as kernel-core goes.
          this.halting(e);
          return new Promise<never>(() => undefined);
        }
      },
      notify: (source, bits) => {
        try {
          receiver.notify(source, bits);
        } catch (e) {
          this.halting(e);
        }
      },
    });
  }

  async close(): Promise<void> {
    this.ipc.inKernel.delete(this.label);
  }

  /** The blue screen begins: with a halt, kernel-core ends once it has said so (halt exits); without, at once. */
  private halting(err: unknown): void {
    this.klog.fatal({ err, inKernel: this.label }, "kernel panic: in-kernel server %s crashed", this.label);
    if (!this.halt) process.exit(ExitStatus.SOFTWARE);
    this.halt(this.label, err);
  }

  /** A crash in this server: the panic begins, and what threw is thrown on (kernel-core's main ignores every error while it halts). */
  panic(err: unknown): never {
    this.halting(err);
    throw err;
  }
}
