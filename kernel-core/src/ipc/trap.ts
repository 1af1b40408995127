// A trap as the kernel's IPC sees it, in and out: what the NATS link, the in-kernel
// transport and the kernel-call dispatch exchange with Ipc (its own file, so none of them
// needs Ipc's module to name it).
import type { Args, ErrDetail, Kind } from "#abi";

export interface TrapIn {
  readonly caller: string; // authenticated label
  readonly callerClaim?: string; // the incarnation the caller says it is (Mk-Src), checked against the table
  readonly origin: "kernel" | "user";
  readonly kind: Kind;
  readonly dst: string;
  readonly type: number;
  readonly args: unknown; // parsed JSON (NATS) or an object (in-kernel); checked by the receiver
  readonly argsJson?: string; // the raw header, forwarded untouched to user endpoints
  readonly data: Uint8Array;
  readonly reqId: string;
  readonly hops?: string;
  /** W3C traceparent of the request that caused this one, carried through nested calls. */
  readonly trace?: string;
  readonly timeoutMs: number;
  /**
   * The caller's reply subject (in its own inbox; NatsLink checked), when it came over NATS:
   * on the reply-direct path the server answers there itself.
   */
  readonly reply?: string;
}

export interface TrapOut {
  status: number;
  errname?: string;
  errmsg?: string;
  /** An error's structured detail: the kernel's own, or a server's as parsed (bounded) on the way through. */
  detail?: ErrDetail;
  args?: Args;
  argsJson?: string;
  data: Uint8Array;
  hops?: string;
  /** The trails of the calls the server made for it (Mk-Calls), relayed as they came. */
  calls?: string;
  /** The request went on by reply-direct: the server answers the caller itself, the kernel sends nothing. */
  direct?: true;
}
