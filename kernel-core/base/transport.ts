// The seam between a server and where it runs. A Transport carries messages for one
// service label: over NATS when the service is its own process (user placement), or as
// function calls when it is loaded into kernel-core (kernel placement). Servers and
// drivers see only this interface; no server imports NATS.
import type { Delivered, KernelEvent, Reply, ReqArgs, SysCall } from "#abi";
import type { Logger } from "./log.ts";

/** A reply as it arrived: status OK, arguments not yet checked against a layout. */
export interface RawReply {
  readonly args: unknown;
  readonly data: Uint8Array;
  /** The hop trail (`who@epoch-µs,...`) the reply came back with, over NATS. */
  readonly hops?: string;
  /** The trails of the calls the server made for it (Mk-Calls: `;` between trails). */
  readonly calls?: string;
}

export interface Receiver {
  /** A sendrec or send addressed to this incarnation. Throw MkError to answer an errno. */
  deliver(msg: Delivered): Promise<Reply | undefined>;
  /** A notification (coalesced bits) from source. */
  notify(source: string, bits: number): void;
}

export interface Transport {
  readonly label: string;
  readonly placement: "kernel" | "user";
  /** Where per-message debug lines go (set by the lifecycle when debug is on). */
  log?: Logger;
  /**
   * The nonce this process's NATS connection is named by (`<label>.<nonce>`): how the kernel
   * tells this incarnation's disconnect from any other's, across NATS restarts. "" in kernel placement.
   */
  connection(): string;
  sendrec(dst: string, type: number, args: object | undefined, data: Uint8Array, timeoutMs?: number): Promise<RawReply>;
  send(dst: string, type: number, args: object | undefined, data: Uint8Array): Promise<void>;
  notify(dst: string, bits: number): Promise<void>;
  /** The labels the privilege table gives this incarnation a channel to (SYS_HELLO's answer). User placement only. */
  useChannels?(labels: readonly string[]): void;
  /** Reports each kernel-core boot it announces (a new one: register again). User placement only. */
  watchKernel?(onBoot: (boot: string) => void): void;
  /** fn is told when a round trip is counted and none was waiting to be reported (the report is then due). */
  onPathStats?(fn: () => void): void;
  /** Requests of this process waiting for their answers (a program blocked in sendrec has one). */
  inFlight?(): number;
  /** The round trips of this process's sendrecs since the last call, by path and destination (reported with SYS_IPCSTAT). */
  takePathStats?(): ReqArgs<typeof SysCall.SYS_IPCSTAT>["rows"];
  /**
   * Follows the kernel event stream (mk.ev.>) from now on. Needs `events: true` in the
   * privilege table: without it the promise rejects with ECALLDENIED.
   */
  events(onEvent: (ev: KernelEvent) => void): Promise<{ stop(): void }>;
  /** Follows another stream (rs's events) as raw bytes; the same privilege. User placement only. */
  stream?(subject: string, onData: (data: Uint8Array, subject: string) => void): Promise<{ stop(): void }>;
  /** Publishes on a stream this service may publish (rs: mk.rs.ev.>). User placement only. */
  announce?(subject: string, data: Uint8Array): void;
  /** Starts the receive loop for this incarnation; resolves once messages can arrive. */
  listen(generation: number, receiver: Receiver): Promise<void>;
  /** Stops receiving and lets in-flight work finish (drain), then disconnects. */
  close(): Promise<void>;
  /** A crash in this service: exits the process (user) or panics the kernel (kernel). */
  panic(err: unknown): never;
}
