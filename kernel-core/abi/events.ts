// The kernel event stream: kernel-core publishes every lifecycle change of every
// incarnation on mk.ev.<kind>.<label>. rs, chaos, procfs and the dashboard read the
// system through it. Subscribing needs `events: true` in etc/system.yaml (the generated
// NATS permissions enforce it). NATS core delivers at most once: `seq` counts the events
// of one kernel boot without gaps, so a reader that sees a gap (or a new `boot`) reads
// the endpoint table again (SYS_GETINFO) instead of trusting what it pieced together.

import { LABEL_MAX } from "./types.ts";
import { MkError } from "./errno.ts";
import { f, parseShape, type InferShape, type Shape } from "./schema.ts";

export const EventKind = {
  /** An incarnation said SYS_HELLO and got a new generation (its state is starting). */
  STARTED: "started",
  /** A running incarnation registered again with a restarted kernel, keeping its generation. */
  RESUMED: "resumed",
  /** The incarnation finished its init (SYS_READY): it serves from now on. */
  READY: "ready",
  /** The incarnation is dead; `cause` says why. */
  DEAD: "dead",
  /** The kernel refused something the privilege table does not grant. */
  DENIED: "denied",
  /**
   * The scheduler changed a process's settings (`detail` says how and who: the sched
   * server's policy, mkctl nice), or whose policy is in force. At most 20 per label in 10 s.
   */
  SCHED: "sched",
  /**
   * kernel-core is stopping because a server inside it crashed (monolithic, hybrid): the
   * last event of its boot. `label` is the server, `detail` what it threw.
   */
  PANIC: "panic",
} as const;
export type EventKind = (typeof EventKind)[keyof typeof EventKind];

/**
 * Why an incarnation died, as `cause` of a dead event. exit: it said SYS_EXIT (a clean
 * stop); superseded: a newer incarnation of its label said SYS_HELLO; disconnect: its
 * NATS connection closed without SYS_EXIT (a crash, a kill, a network loss);
 * no-subscriber: a message for it found nothing listening.
 */
export const DeathCause = { EXIT: "exit", SUPERSEDED: "superseded", DISCONNECT: "disconnect", NO_SUBSCRIBER: "no-subscriber" } as const;
export type DeathCause = (typeof DeathCause)[keyof typeof DeathCause];

/** What was refused, as `denied` of a denied event. */
export const DenialKind = {
  /** A kernel call not in the caller's `calls`. */
  CALL: "call",
  /** A message to a label not in the caller's `ipc`. */
  IPC: "ipc",
  /** A port outside the caller's `io`. */
  PORT: "port",
  /** An IRQ line outside the caller's `irq`. */
  IRQ: "irq",
  /** A trap from a superseded incarnation still connected. */
  STALE_SOURCE: "stale-source",
  /** COMMON_FAULT from a caller without the chaos privilege. */
  CHAOS: "chaos",
  /** A trap whose Mk-Src names an endpoint that is not the caller's. */
  SOURCE: "source",
  /** A trap naming a reply subject outside the caller's own inbox. */
  REPLY_SUBJECT: "reply-subject",
  /** SYS_CHANNEL for a pair whose table entry does not say channel (or COMMON_CHANNEL from anyone but the kernel). */
  CHANNEL: "channel",
} as const;
export type DenialKind = (typeof DenialKind)[keyof typeof DenialKind];

const kinds = Object.values(EventKind);
const causes = Object.values(DeathCause);
const denials = Object.values(DenialKind);

/** An event as it travels (JSON): checked field by field where a reader takes it off the wire. */
const KernelEventShape = {
  kind: f.enum(...kinds),
  /** The kernel boot that saw it (the boot id of mk.kernel.boot). */
  boot: f.str(32),
  /** 1, 2, 3 ... within one boot, without gaps. */
  seq: f.uint(Number.MAX_SAFE_INTEGER),
  /** Monotonic microseconds (kernel-core's performance.timeOrigin + performance.now()). */
  ts: f.uint(Number.MAX_SAFE_INTEGER),
  /** Wall-clock time, ISO 8601. */
  at: f.str(32),
  /** label#generation (a denied caller with no incarnation yet: its label). */
  endpoint: f.str(48),
  label: f.str(LABEL_MAX),
  generation: f.uint(0xffffffff),
  placement: f.enum("kernel", "user"),
  host: f.str(255),
  pid: f.uint(0xffffffff),
  /** dead: why, and the kernel's detail. */
  cause: f.opt(f.enum(...causes)),
  detail: f.opt(f.str(300)),
  /** denied: what was refused, the call, target, port or line it named, and the errno the caller got. */
  denied: f.opt(f.enum(...denials)),
  target: f.opt(f.str(80)),
  errno: f.opt(f.str(24)),
  /** denied: how many denials of this caller and kind were left out in the previous window. */
  suppressed: f.opt(f.uint(Number.MAX_SAFE_INTEGER)),
  /** sched: the process's settings after the change. */
  priority: f.opt(f.uint(15)),
  quantum_ms: f.opt(f.uint(10_000)),
  nice: f.opt(f.int(-20, 19)),
} as const;
export type KernelEvent = InferShape<typeof KernelEventShape>;

/**
 * Reads one event off the wire. Anything not shaped like an event, or larger than one
 * may be, is EBADREQUEST naming what was wrong.
 */
export function decodeKernelEvent(data: Uint8Array): KernelEvent {
  return decodeEvent(data, KernelEventShape, "event");
}

function decodeEvent<S extends Shape>(data: Uint8Array, shape: S, what: string): InferShape<S> {
  if (data.length > MAX_EVENT_BYTES)
    throw new MkError("EBADREQUEST", `${what} of ${data.length} bytes (at most ${MAX_EVENT_BYTES})`, {
      detail: { arg: what, limit: MAX_EVENT_BYTES, got: data.length },
    });
  let raw: unknown;
  try {
    raw = JSON.parse(new TextDecoder().decode(data));
  } catch {
    throw new MkError("EBADREQUEST", `${what} is not JSON`, { detail: { arg: what } });
  }
  return parseShape(shape, raw);
}

export const EventSubjects = {
  event: (kind: EventKind, label: string) => `mk.ev.${kind}.${label}`,
  /** What a reader with the events privilege subscribes to. */
  all: "mk.ev.>",
  prefix: "mk.ev.",
} as const;

/**
 * rs's own events (mk.rs.ev.<state>.<label>): every change of a supervised service's state
 * as rs sees it (starting, running, backoff, stopping, stopped, failed) with why, and the
 * recovery's times once it serves again. Published only by rs; read with `events: true`.
 */
const RsEventShape = {
  state: f.enum("starting", "running", "backoff", "stopping", "stopped", "failed"),
  label: f.str(LABEL_MAX),
  /** rs's incarnation that saw it, and its count of events: a gap means events were lost. */
  rs: f.str(48),
  seq: f.uint(Number.MAX_SAFE_INTEGER),
  at: f.str(32),
  why: f.str(300),
  restarts: f.uint(Number.MAX_SAFE_INTEGER),
  generation: f.opt(f.u32),
  pid: f.opt(f.u32),
  last_cause: f.opt(f.str(300)),
  detect_ms: f.opt(f.uint(Number.MAX_SAFE_INTEGER)),
  recover_ms: f.opt(f.uint(Number.MAX_SAFE_INTEGER)),
} as const;
export type RsEvent = InferShape<typeof RsEventShape>;

export const RsEventSubjects = {
  event: (state: string, label: string) => `mk.rs.ev.${state}.${label}`,
  all: "mk.rs.ev.>",
} as const;

export function decodeRsEvent(data: Uint8Array): RsEvent {
  return decodeEvent(data, RsEventShape, "rs event");
}

/** The most bytes one event may take (its detail is clipped to fit). */
export const MAX_EVENT_BYTES = 2048;
