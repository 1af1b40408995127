// Endpoints, subjects and the envelope fields shared by kernel-core and user space.

/** The longest label: its NATS user, subject token, and every place a label is checked. */
export const LABEL_MAX = 32;
/** An instance id's length (`label.id`), and so the longest label an instance may have. */
const INSTANCE_ID = 8;
const LABEL_BODY = `[a-z][a-z0-9-]{0,${LABEL_MAX - 1}}`;
const INSTANCE_LABEL_BODY = `[a-z][a-z0-9-]{0,${LABEL_MAX - INSTANCE_ID - 2}}`;
/** A service label: lower-case, starts with a letter. Also its NATS user and subject token. */
export const LABEL_RE = new RegExp(`^${LABEL_BODY}$`);
/**
 * A caller that may run several times at once (a command-line tool: `instances` in the
 * privilege table) traps as one instance of its label, `label.id`: its own endpoint, queue
 * and generations, with the label's privileges. The id is lower-case letters and digits.
 */
export const INSTANCE_RE = new RegExp(`^(${INSTANCE_LABEL_BODY})\\.([a-z0-9]{${INSTANCE_ID}})$`);
/** A label or an instance of one (what a trap subject may name after mk.trap.). */
export const CALLER_RE = new RegExp(`^${LABEL_BODY}$|^${INSTANCE_LABEL_BODY}\\.[a-z0-9]{${INSTANCE_ID}}$`);
/** An endpoint the kernel names: `label#generation`. */
export const ENDPOINT_RE = new RegExp(`^(${LABEL_BODY})(?:#([1-9][0-9]{0,8}))?$`);

/** The privilege table's label of a caller: `mkctl.k3f9x0a1` is an instance of mkctl. */
export function baseLabel(caller: string): string {
  const m = INSTANCE_RE.exec(caller);
  return m ? m[1] : caller;
}

/** The table's label of an endpoint the kernel stamped (`label#g` or `label.id#g`). */
export function labelOfSource(source: string): string {
  const i = source.indexOf("#");
  return baseLabel(i < 0 ? source : source.slice(0, i));
}

/** The kernel's own label: kernel calls are messages addressed to it (MINIX's SYSTEM). */
export const KERNEL = "kernel";
/** Source label the kernel stamps on IRQ notifications (MINIX's HARDWARE). */
export const HARDWARE = "hardware";
/** How often kernel-core announces its boot on mk.kernel.boot; a client that hears none for long takes it for gone. */
export const KERNEL_BEACON_MS = 1000;
/** The 8254 PIT's input clock: the kernel divides it for its tick, the emulator counts at it. */
export const PIT_INPUT_HZ = 1193182;

/** One incarnation of a service: `label#generation`. */
export interface Endpoint {
  readonly label: string;
  readonly generation: number;
}

/** Parses `label` (generation 0 = "whichever is current") or `label#generation`. */
export function parseEndpoint(s: string): Endpoint | undefined {
  const m = ENDPOINT_RE.exec(s);
  if (!m) return undefined;
  return { label: m[1], generation: m[2] ? Number(m[2]) : 0 };
}

export const Subjects = {
  /** A caller publishes its requests here; only that service's NATS user may. */
  trap: (label: string) => `mk.trap.${label}`,
  /** A label's own and its instances' trap subjects (`instances` in the table). */
  trapInstances: (label: string) => `mk.trap.${label}.*`,
  trapWildcard: "mk.trap.>",
  /** The kernel forwards to one incarnation: a stale incarnation never sees the new one's mail. */
  endpoint: (label: string, generation: number) => `mk.ep.${label}.${generation}`,
  endpointWildcard: (label: string) => `mk.ep.${label}.>`,
  inboxPrefix: (label: string) => `_INBOX.${label}`,
  /**
   * Where a label's sendrecs to other labels are answered (a part of its inbox): on
   * reply-direct the server answers here, and servers may publish into no other part of it.
   */
  directInbox: (label: string) => `_INBOX.${label}.rd`,
  /** Where services answer what kernel-core forwards them (its bus requests have another part: _INBOX.kernel.hw). */
  kernelAnswers: "_INBOX.kernel.ep",
  /**
   * A channel (the `channel` path) into one incarnation of dst: only src's NATS user may
   * publish here, only dst's subscribe, and only that incarnation does (an older one still
   * connected never sees, nor answers, what is meant for the new).
   */
  channel: (dst: string, generation: number, src: string, token: string) => `mk.ch.${dst}.${generation}.${src}.${token}`,
  channelsInto: (dst: string, generation: number) => `mk.ch.${dst}.${generation}.>`,
  channelsOf: (dst: string) => `mk.ch.${dst}.>`,
  channelsFrom: (dst: string, src: string) => `mk.ch.${dst}.*.${src}.*`,
  /** Where dst answers src's requests on a channel: `<this>.<token>.` narrows it to one channel. */
  channelReplies: (src: string, dst: string) => `_INBOX.${src}.ch.${dst}.>`,
  channelInbox: (src: string, dst: string, token: string) => `_INBOX.${src}.ch.${dst}.${token}`,
  hwIo: "mk.hw.io",
  hwFault: "mk.hw.fault",
  hwIrq: (line: number) => `mk.hw.irq.${line}`,
  hwIrqWildcard: "mk.hw.irq.*",
  /** The emulator announces each start (its boot id): the kernel re-programs the hardware. */
  hwBoot: "mk.hw.boot",
  /** kernel-core announces each start (its boot id): running services register again. */
  kernelBoot: "mk.kernel.boot",
  /** kernel-core announces each death of a user process (Mk-Dst: label#generation): callers fail what they sent it by reply-direct. */
  kernelDead: "mk.kernel.dead",
  consoleOut: "mk.console.out",
  consoleIn: "mk.console.in",
} as const;

/** NATS header names of the envelope. */
export const H = {
  type: "Mk-Type",
  src: "Mk-Src",
  dst: "Mk-Dst",
  req: "Mk-Req",
  hops: "Mk-Hops",
  args: "Mk-Args",
  status: "Mk-Status",
  errname: "Mk-Errname",
  errmsg: "Mk-Errmsg",
  /** An error's structured detail (ErrDetail as JSON): which argument, port, label, limit. */
  errdetail: "Mk-Err-Detail",
  timeout: "Mk-Timeout",
  kind: "Mk-Kind",
  /** W3C trace context: one trace id across every nested call a request causes. */
  trace: "traceparent",
  /** On a reply: the hop trails of the calls the server made while handling it (`;` between trails), for `mkctl trace`. */
  calls: "Mk-Calls",
} as const;

/**
 * The most characters each envelope field may hold. A party refuses a message whose field
 * is longer (EBADREQUEST naming the field), and never copies a longer one into what it
 * sends: a reply can then never outgrow the message it answers.
 */
export const HEADER_MAX = {
  [H.type]: 6,
  [H.src]: 48,
  [H.dst]: 48,
  [H.req]: 64,
  [H.hops]: 1024,
  [H.status]: 5,
  [H.errname]: 24,
  [H.errmsg]: 512,
  [H.errdetail]: 256,
  [H.timeout]: 7,
  [H.kind]: 8,
  [H.trace]: 55,
  [H.calls]: 1024,
} as const;

/** How a message travels: sendrec waits for a reply, send and notify do not. */
export const Kind = { SENDREC: "sendrec", SEND: "send", NOTIFY: "notify" } as const;
export type Kind = (typeof Kind)[keyof typeof Kind];

/** NATS's max_payload (headers and body together), as the generated server config sets it. */
export const MAX_PAYLOAD = 1024 * 1024;
/** Largest Mk-Args header, in characters. */
export const MAX_ARGS = 16 * 1024;
/** Largest body accepted on any endpoint: max_payload less room for a full envelope. */
export const MAX_BODY = MAX_PAYLOAD - 32 * 1024;
export const SECTOR_SIZE = 512;

export type Args = Readonly<Record<string, unknown>>;

/** A message as libsys and servers see it: typed arguments parsed at the edge, raw bytes. */
interface Message {
  readonly type: number;
  readonly args: Args;
  readonly data: Uint8Array;
}

/** A message delivered to a server: with its kernel-stamped source. */
export interface Delivered extends Omit<Message, "args"> {
  /** As they came off the wire: the receiver parses them by the type's layout (libsys does). */
  readonly args: unknown;
  readonly source: string; // label#generation, stamped by the kernel
  readonly kind: Kind;
  readonly reqId: string;
  /** W3C traceparent: the trace this request belongs to, passed on to the calls it causes. */
  readonly trace?: string;
}

/** What a handler returns: arguments and data of the reply (status OK). */
export interface Reply {
  readonly args?: Args;
  readonly data?: Uint8Array;
  /** The hop trails of the calls made while handling the request (set by libsys, for tracing). */
  readonly calls?: readonly string[];
}

export const EMPTY = new Uint8Array(0);

/**
 * What one caller (a service label) may have in the kernel at once: traps not yet answered,
 * and the bytes of their bodies. Past either, a trap is refused with EAGAIN at once: no
 * caller can grow the kernel's memory or crowd out the others.
 */
export const CALLER_LIMITS = { traps: 64, bytes: 16 * 1024 * 1024 } as const;
