// What a server holds to talk to the rest of the system: its own endpoint, the IPC
// primitives named as in MINIX, a logger and a clock. Built on a Transport.
import { KERNEL, parseReplyArgs, type KernelCallType, type LayoutType, type RepArgs, type ReqArgs } from "#abi";
import type { Clock } from "#base/clock.ts";
import type { Logger } from "#base/log.ts";
import type { RawReply, Transport } from "#base/transport.ts";

/** A reply whose arguments were checked against the message type's reply layout. */
export interface Reply<T extends LayoutType> {
  readonly args: RepArgs<T>;
  readonly data: Uint8Array;
  /** The hop trail (`who@epoch-µs,...`) the reply came back with, over NATS. */
  readonly hops?: string;
  /** The trails of the calls the server made for it, `;` between them (mkctl trace). */
  readonly calls?: string;
}

export interface Sys {
  readonly label: string;
  /** This incarnation, label#generation; set once the kernel answered SYS_HELLO. */
  readonly self: string;
  readonly generation: number;
  /** The boot id of the kernel-core this incarnation is registered with ("" before SYS_HELLO): generations are numbered by it. */
  readonly kernelBoot: string;
  readonly log: Logger;
  readonly clock: Clock;
  readonly transport: Transport;
  /**
   * A request and its reply, typed end to end by the message type: the arguments are the
   * layout's request shape, and the reply's are parsed by the layout's reply shape here, at
   * the edge, once (a reply that does not fit is EBADREQUEST). To send what no layout
   * allows (a hostile test), use the transport.
   */
  sendrec<T extends LayoutType>(dst: string, type: T, args: ReqArgs<T>, data?: Uint8Array, timeoutMs?: number): Promise<Reply<T>>;
  send<T extends LayoutType>(dst: string, type: T, args: ReqArgs<T>, data?: Uint8Array): Promise<void>;
  notify(dst: string, bits: number): Promise<void>;
  /** A kernel call: sendrec to the kernel, reply arguments checked against the layout. */
  kernelCall<T extends KernelCallType>(type: T, args: ReqArgs<T>, data?: Uint8Array, timeoutMs?: number): Promise<Reply<T>>;
}

const EMPTY = new Uint8Array(0);

export class SysImpl implements Sys {
  readonly label: string;
  readonly log: Logger;
  readonly clock: Clock;
  readonly transport: Transport;
  generation = 0;
  kernelBoot = "";

  constructor(transport: Transport, log: Logger, clock: Clock) {
    this.label = transport.label;
    this.transport = transport;
    this.log = log;
    this.clock = clock;
  }
  get self(): string {
    return `${this.label}#${this.generation}`;
  }
  async sendrec<T extends LayoutType>(
    dst: string,
    type: T,
    args: ReqArgs<T>,
    data: Uint8Array = EMPTY,
    timeoutMs?: number,
  ): Promise<Reply<T>> {
    const r: RawReply = await this.transport.sendrec(dst, type, args, data, timeoutMs);
    return {
      args: parseReplyArgs(type, r.args),
      data: r.data,
      ...(r.hops !== undefined ? { hops: r.hops } : {}),
      ...(r.calls !== undefined ? { calls: r.calls } : {}),
    };
  }
  send<T extends LayoutType>(dst: string, type: T, args: ReqArgs<T>, data: Uint8Array = EMPTY): Promise<void> {
    return this.transport.send(dst, type, args, data);
  }
  notify(dst: string, bits: number): Promise<void> {
    return this.transport.notify(dst, bits);
  }
  kernelCall<T extends KernelCallType>(type: T, args: ReqArgs<T>, data: Uint8Array = EMPTY, timeoutMs?: number): Promise<Reply<T>> {
    return this.sendrec(KERNEL, type, args, data, timeoutMs);
  }
}
