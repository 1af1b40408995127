// The trap path. Every message enters here with an authenticated caller label (from the
// trap subject, or from the in-kernel binding), is admitted against the caller's limits,
// checked against its privileges, stamped with its source incarnation, and routed: to a
// kernel call (kernel-dispatch.ts), to a server inside kernel-core (a function call), or
// over NATS to a user-space endpoint. Notifications coalesce (notify-queue.ts); what waits
// on an incarnation fails the moment it dies (pending.ts). A DeliveryGate sits before
// every delivery: the scheduler's seam (who waits on whom, who may run now).
import {
  baseLabel,
  Common,
  DeathCause,
  DenialKind,
  HARDWARE,
  isKnownType,
  KERNEL,
  Kind,
  MkError,
  NOTIFY_MESSAGE,
  parseEndpoint,
  SysCall,
  Subjects,
  errnoName,
  typeName,
  type Args,
  prop,
} from "#abi";
import { randomBytes } from "node:crypto";
import type { Clock } from "#base/clock.ts";
import { isLocalError, LocalError, toMkError } from "#base/errors.ts";
import { privilegesOf, type ServicePrivileges, type SystemTable } from "#base/system-table.ts";
import type { Receiver } from "#base/transport.ts";
import type { CallContext, KernelState } from "../calls/context.ts";
import type { IrqTable } from "../irq/irq-table.ts";
import type { KernelMetrics } from "../metrics/metrics.ts";
import type { EndpointEntry, EndpointTable } from "../table/endpoint-table.ts";
import { Channels, type Channel } from "./channels.ts";
import { NotifyQueue } from "./notify-queue.ts";
import { Pending } from "./pending.ts";
import type { TrapIn, TrapOut } from "./trap.ts";

export type { TrapIn, TrapOut } from "./trap.ts";

/** Outbound to user-placement endpoints: the NATS side of the kernel. */
export interface Link {
  /** A sendrec, or a send (answered once the receiver has queued it). */
  forward(ep: EndpointEntry, source: string, t: TrapIn, timeoutMs: number): Promise<TrapOut>;
  notify(ep: EndpointEntry, source: string, bits: number): void;
  /**
   * reply-direct: hands the request to ep with the caller's own reply subject (in its
   * sub-inbox for answers from servers; the random request id in it is the reply
   * capability); the server answers the caller.
   */
  forwardDirect(ep: EndpointEntry, source: string, t: TrapIn, reply: string): void;
  /** Tells every caller that ep died: what they sent it by reply-direct will not be answered. */
  died(ep: EndpointEntry): void;
}

/**
 * Told of every message before it is handed to ep (the scheduler: ep has work, the
 * caller waits when `waits`). The message waits for `wait`, if any (ep may not run yet);
 * `release` is called once it is answered.
 */
export interface DeliveryGate {
  enter(ep: EndpointEntry, source: string, waits: boolean): { wait?: Promise<void>; release: () => void };
}

/**
 * What the trap path reaches of the kernel, and nothing more: the endpoint table, the
 * privileges, the IRQ lines' owners, its counters, denials, the clock task's tick (IRQ 0)
 * and the kernel calls (kernel-dispatch.ts).
 */
export interface IpcPorts {
  readonly table: EndpointTable;
  readonly priv: SystemTable;
  readonly irqs: Pick<IrqTable, "raise" | "release">;
  readonly metrics: Pick<KernelMetrics, "message" | "observe" | "edge" | "irqs">;
  readonly deny: KernelState["deny"];
  /** IRQ 0 came: the scheduler's clock tick. */
  tick(): void;
  /** Runs a trap addressed to the kernel. */
  call(t: TrapIn, priv: ServicePrivileges, caller: EndpointEntry | undefined): Promise<TrapOut>;
}

/** MK_ERR_NO_SUBSCRIBER, thrown by a Link when nobody subscribes to `endpoint`: the incarnation is gone. */
export class NoSubscriberError extends LocalError<"MK_ERR_NO_SUBSCRIBER"> {
  readonly endpoint: string;
  constructor(endpoint: string) {
    super("MK_ERR_NO_SUBSCRIBER", `nothing subscribes to ${endpoint}'s endpoint`);
    this.name = "NoSubscriberError";
    this.endpoint = endpoint;
  }
}

const EMPTY = new Uint8Array(0);
const DIRECT: TrapOut = { status: 0, data: EMPTY, direct: true };
/** How long a server has to take a channel's token before SYS_CHANNEL fails. */
const CHANNEL_SETUP_MS = 2000;

export function errorOut(e: MkError): TrapOut {
  return { status: e.code, errname: e.errno, errmsg: e.message, detail: e.detail, data: EMPTY };
}

export class Ipc {
  readonly inKernel = new Map<string, Receiver>();
  readonly pending = new Pending();
  readonly channels = new Channels();
  gate: DeliveryGate = { enter: () => ({ release: () => undefined }) };
  /** MK_IPC_PATH: "table" (each pair as the privilege table says), "trap" (every pair), "reply-direct" (every pair it can take). */
  pathMode: "table" | "trap" | "reply-direct" = "table";
  private readonly k: IpcPorts;
  private readonly clock: Clock;
  private readonly notifications: NotifyQueue;
  private link?: Link;

  constructor(k: IpcPorts, clock: Clock) {
    this.k = k;
    this.clock = clock;
    this.notifications = new NotifyQueue((dst, source, bits) => this.deliverNotify(dst, source, bits));
    k.table.onChange((kind, ep, cause, detail) => {
      if (kind === "dead") this.onDeath(ep, detail ? `${cause} (${detail})` : cause!);
    });
  }

  attach(link: Link): void {
    this.link = link;
  }

  /** Routes one trap. Never throws an MkError: it becomes an error reply. */
  async trap(t: TrapIn): Promise<TrapOut> {
    const t0 = this.clock.nowUs();
    const bytes = t.data.length;
    // A new incarnation may always register: its SYS_HELLO ends what the old one held.
    const counted = !(t.dst === KERNEL && t.type === SysCall.SYS_HELLO);
    // Bounded per label: the runs of a tool (mkctl.<id>) share their label's bounds.
    const owner = baseLabel(t.caller);
    try {
      if (counted) this.pending.admit(owner, bytes);
    } catch (e) {
      this.k.metrics.message(t.type, (e as MkError).code);
      return errorOut(e as MkError);
    }
    try {
      const out = await this.route(t);
      this.countEdge(t);
      this.k.metrics.message(t.type, 0);
      this.k.metrics.observe(t.type, (this.clock.nowUs() - t0) / 1e6);
      return out;
    } catch (e) {
      if (!(e instanceof MkError)) throw e;
      this.k.metrics.message(t.type, e.code);
      return errorOut(e);
    } finally {
      if (counted) this.pending.release(owner, bytes);
    }
  }

  /** The statistics' edge for a trap that was delivered and answered: only labels the table names, so the map stays bounded. */
  private countEdge(t: TrapIn): void {
    // An instance (mkctl.k3f9x0a1) counts as its label: the map stays as bounded as the table.
    if (!privilegesOf(this.k.priv, t.caller)) return;
    const from = baseLabel(t.caller);
    if (t.dst === KERNEL) {
      this.k.metrics.edge(from, KERNEL);
      if (t.type === SysCall.SYS_DEVIO || t.type === SysCall.SYS_VDEVIO || t.type === SysCall.SYS_SDEVIO)
        this.k.metrics.edge(KERNEL, HARDWARE);
      return;
    }
    const dst = parseEndpoint(t.dst);
    if (dst && this.k.priv.services.has(dst.label)) this.k.metrics.edge(from, dst.label);
  }

  private async route(t: TrapIn): Promise<TrapOut> {
    const priv = privilegesOf(this.k.priv, t.caller);
    if (!priv) throw new MkError("ECALLDENIED", `${t.caller} is not in the privilege table (or its label runs no instances)`);
    let caller: EndpointEntry | undefined;
    if (!(t.dst === KERNEL && t.type === SysCall.SYS_HELLO)) {
      caller = this.k.table.get(t.caller);
      if (!caller || caller.state === "dead") {
        throw new MkError("EDEADSRCDST", `caller ${t.caller} has no live incarnation (SYS_HELLO first)`);
      }
      if (t.callerClaim !== undefined && t.callerClaim !== caller.key) {
        this.k.deny({
          label: t.caller,
          entry: caller,
          call: "trap",
          denied: DenialKind.STALE_SOURCE,
          target: t.callerClaim,
          errno: "EDEADSRCDST",
          fields: { msgType: typeName(t.type), reqId: t.reqId },
          message: `trap from superseded incarnation ${t.callerClaim} refused (${caller.key} is live)`,
        });
        throw new MkError("EDEADSRCDST", `caller ${t.callerClaim} is not the live incarnation of ${t.caller} (${caller.key} is)`);
      }
    }
    // What may wait long on a caller's behalf (a getinfo wait, a message for a starting
    // endpoint) is a waiter owned by the caller: it ends when the caller dies.
    if (t.dst === KERNEL) return this.k.call(t, priv, caller);

    const dst = parseEndpoint(t.dst);
    if (!dst) throw new MkError("EBADSRCDST", `destination ${JSON.stringify(t.dst.slice(0, 40))} is not label or label#generation`);
    if (!this.k.priv.services.has(dst.label)) throw new MkError("EBADSRCDST", `no service ${dst.label}`);
    if (!priv.ipc.includes(dst.label)) {
      this.k.deny({
        label: t.caller,
        entry: caller,
        call: "ipc",
        denied: DenialKind.IPC,
        target: dst.label,
        errno: "ECALLDENIED",
        fields: { msgType: typeName(t.type), reqId: t.reqId },
        message: `ipc: ${t.caller} may not message ${dst.label}`,
      });
      throw new MkError("ECALLDENIED", `${t.caller} may not message ${dst.label}`, { detail: { arg: "ipc", label: dst.label } });
    }
    if (t.type !== NOTIFY_MESSAGE && !isKnownType(t.type))
      throw new MkError("EBADREQUEST", `unknown message type 0x${t.type.toString(16)}`);
    if (t.type === Common.COMMON_CHANNEL) {
      this.k.deny({
        label: t.caller,
        entry: caller,
        call: "channel",
        denied: DenialKind.CHANNEL,
        target: dst.label,
        errno: "ECALLDENIED",
        fields: { reqId: t.reqId },
        message: `${t.caller} sent COMMON_CHANNEL to ${dst.label}: only the kernel opens channels`,
      });
      throw new MkError("ECALLDENIED", `only the kernel opens and revokes channels (SYS_CHANNEL asks it for one)`);
    }
    if (t.type === Common.COMMON_FAULT && !priv.chaos) {
      this.k.deny({
        label: t.caller,
        entry: caller,
        call: "fault",
        denied: DenialKind.CHAOS,
        target: dst.label,
        errno: "ECALLDENIED",
        fields: { reqId: t.reqId },
        message: `${t.caller} may not arm faults in ${dst.label} (it needs chaos: true)`,
      });
      throw new MkError("ECALLDENIED", `${t.caller} may not arm faults in ${dst.label}: it needs chaos: true in the privilege table`, {
        detail: { arg: "chaos", label: dst.label },
      });
    }
    const ep = this.k.table.resolve(dst.label, dst.generation);
    const source = caller!.key;

    if (t.kind === Kind.NOTIFY) {
      const bits = prop(t.args, "bits");
      if (typeof bits !== "number" || !Number.isInteger(bits) || bits < 0 || bits > 0xffffffff) {
        throw new MkError("EBADREQUEST", "notify needs args.bits, an unsigned 32-bit integer");
      }
      this.notifications.add(ep.label, source, bits);
      return { status: 0, data: EMPTY };
    }
    const reply = this.directReply(t, priv, dst.label, dst.generation);
    return this.deliver(ep, source, t, reply);
  }

  /**
   * The caller's reply subject when this sendrec takes the reply-direct path: between two
   * user processes, addressed to one incarnation (so the caller knows whose death ends it),
   * and chosen for the pair by the privilege table (or MK_IPC_PATH).
   */
  private directReply(t: TrapIn, priv: ServicePrivileges, label: string, generation: number): string | undefined {
    if (t.reply === undefined || t.kind !== Kind.SENDREC || generation === 0 || this.pathMode === "trap") return undefined;
    // Servers may answer only into the caller's sub-inbox for them: any other reply subject takes the trap.
    if (!t.reply.startsWith(`${Subjects.directInbox(t.caller)}.`)) return undefined;
    // A channel pair whose channel is not (yet) open goes by reply-direct, not by the trap.
    if (this.pathMode === "table" && priv.paths.get(label) !== "reply-direct" && priv.paths.get(label) !== "channel") return undefined;
    return t.reply;
  }

  /** A sendrec or send to a user or in-kernel endpoint, once it is ready and admitted. */
  private async deliver(ep: EndpointEntry, source: string, t: TrapIn, reply?: string): Promise<TrapOut> {
    if (ep.state === "starting") {
      const started = await this.pending.untilDeath(ep, this.k.table.waitReady(ep.label, ep.generation - 1, t.timeoutMs, source));
      if (started.generation !== ep.generation) throw new MkError("EDEADSRCDST", `${ep.key} died before it was ready`);
      ep = started;
    }
    ep.messages++;
    const g = this.gate.enter(ep, source, t.kind === Kind.SENDREC);
    try {
      if (g.wait) await this.held(ep, g.wait, t.timeoutMs);
      return await this.handOver(ep, source, t, reply);
    } finally {
      g.release();
    }
  }

  /** A message held until ep is dispatched: it fails with ep's death, or after timeoutMs. */
  private held(ep: EndpointEntry, dispatched: Promise<void>, timeoutMs: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const timer = this.clock.setTimeout(
        () => reject(new MkError("ETIMEDOUT", `${ep.key} was not given a CPU within ${timeoutMs} ms`)),
        timeoutMs,
      );
      this.pending.untilDeath(ep, dispatched).then(
        () => {
          timer.cancel();
          resolve();
        },
        (e) => {
          timer.cancel();
          reject(e);
        },
      );
    });
  }

  private async handOver(ep: EndpointEntry, source: string, t: TrapIn, reply?: string): Promise<TrapOut> {
    if (ep.placement === "kernel") {
      const receiver = this.inKernel.get(ep.label);
      if (!receiver) throw new MkError("EDEADSRCDST", `${ep.key} has no in-kernel receiver`);
      const delivered = { type: t.type, args: t.args ?? {}, data: t.data, source, kind: t.kind, reqId: t.reqId, trace: t.trace };
      // No race against death here: an in-kernel server cannot die alone, it panics the kernel.
      // A send resolves once the receiver has queued it, as over NATS.
      const r = await receiver.deliver(delivered);
      return { status: 0, args: r?.args, data: r?.data ?? EMPTY };
    }
    const link = this.link;
    if (!link) throw new MkError("ENOTREADY", "kernel has no NATS link");
    // It may have died while the message waited (to be ready, or for a CPU): nothing is sent to a dead incarnation.
    if (ep.state === "dead") throw new MkError("EDEADSRCDST", `${ep.key} died before the message reached it`);
    if (reply !== undefined) {
      link.forwardDirect(ep, source, t, reply);
      return DIRECT;
    }
    try {
      return await this.pending.untilDeath(ep, link.forward(ep, source, t, t.timeoutMs));
    } catch (e) {
      if (isLocalError(e, "MK_ERR_NO_SUBSCRIBER")) {
        this.k.table.markDead(ep, DeathCause.NO_SUBSCRIBER, "nothing listens on its endpoint subject");
        throw toMkError(e, `${ep.key} is dead (nothing listens on its endpoint)`);
      }
      throw e;
    }
  }

  /**
   * SYS_CHANNEL: checks the pair once (ipc, the table's path, placement, a live
   * destination), hands the server the token and the caller's incarnation, and answers the
   * subject the caller publishes its sendrecs on. A newer channel of the same caller to the
   * same label replaces the older, which its server is told to forget.
   */
  async openChannel(c: CallContext, dstText: string): Promise<{ subject: string; token: string }> {
    const caller = c.caller;
    const dst = parseEndpoint(dstText);
    if (!dst || dst.generation === 0)
      throw new MkError("EINVAL", `a channel goes to one incarnation (label#generation), not ${JSON.stringify(dstText.slice(0, 48))}`);
    if (!caller || c.origin !== "user" || caller.placement !== "user")
      throw new MkError("EINVAL", `${c.label} runs inside kernel-core: its sendrecs are function calls, a channel has nothing to skip`);
    if (c.label !== c.privileges.label)
      throw new MkError("EINVAL", `${c.label} is an instance of ${c.privileges.label}: instances take the trap, channels are per label`);
    if (!this.k.priv.services.has(dst.label)) throw new MkError("EBADSRCDST", `no service ${dst.label}`);
    const refuse = (why: string): never => {
      this.k.deny({
        label: c.label,
        entry: caller,
        call: "channel",
        denied: DenialKind.CHANNEL,
        target: dst.label,
        errno: "ECALLDENIED",
        fields: { reqId: c.reqId },
        message: `channel: ${c.label} to ${dst.label} refused: ${why}`,
      });
      throw new MkError("ECALLDENIED", `no channel from ${c.label} to ${dst.label}: ${why}`, {
        detail: { arg: "paths", label: dst.label },
      });
    };
    if (!c.privileges.ipc.includes(dst.label)) refuse(`${dst.label} is not in its ipc list`);
    if (c.privileges.paths.get(dst.label) !== "channel") refuse(`the privilege table does not say paths: { ${dst.label}: channel }`);
    if (this.pathMode !== "table") refuse(`MK_IPC_PATH=${this.pathMode} for this run`);
    const ep = this.k.table.resolve(dst.label, dst.generation);
    if (ep.placement !== "user")
      throw new MkError("EINVAL", `${ep.key} runs inside kernel-core: a sendrec to it goes by the trap, a channel has nothing to skip`);
    const token = randomBytes(12).toString("hex");
    const ch: Channel = { token, src: caller, dst: ep };
    try {
      await this.tellChannel(ep, "open", caller.key, token);
    } catch (e) {
      // The server may still take the token after the kernel gave up waiting: it is told to forget it.
      this.revoke(ch);
      throw e;
    }
    // Either end may have died while the server took the token: nothing is left behind.
    if (caller.state === "dead" || ep.state === "dead") {
      this.revoke(ch);
      throw new MkError("EDEADSRCDST", `${caller.state === "dead" ? caller.key : ep.key} died while the channel was opened`);
    }
    const old = this.channels.add(ch);
    if (old) this.revoke(old);
    return { subject: Subjects.channel(dst.label, ep.generation, c.label, token), token };
  }

  /** COMMON_CHANNEL to a server: an error reply becomes the error. */
  private async tellChannel(ep: EndpointEntry, op: "open" | "close", src: string, token: string): Promise<void> {
    const t: TrapIn = {
      caller: KERNEL,
      origin: "kernel",
      kind: Kind.SENDREC,
      dst: ep.key,
      type: Common.COMMON_CHANNEL,
      args: { op, src, token },
      data: EMPTY,
      reqId: "",
      timeoutMs: CHANNEL_SETUP_MS,
    };
    const out = await this.deliver(ep, KERNEL, t);
    if (out.status === 0) return;
    const name = errnoName(out.status);
    throw new MkError(name && name !== "OK" ? name : "EIO", `${ep.key} did not ${op} the channel: ${out.errmsg ?? "no reason given"}`);
  }

  /** The server forgets the channel's token (if it is still there to be told). */
  private revoke(ch: Channel): void {
    if (ch.dst.state === "dead") return;
    this.tellChannel(ch.dst, "close", ch.src.key, ch.token).catch((e: unknown) => {
      if (!(e instanceof MkError)) throw e;
    });
  }

  /**
   * A one-way message from the kernel itself (SCHED_NO_QUANTUM to sched): true once
   * label's live incarnation has queued it, false if there is none or it did not take it.
   */
  async sendFromKernel(label: string, type: number, args: Args, timeoutMs: number): Promise<boolean> {
    const ep = this.k.table.get(label);
    if (ep?.state !== "ready") return false;
    const t: TrapIn = { caller: KERNEL, origin: "kernel", kind: Kind.SEND, dst: ep.key, type, args, data: EMPTY, reqId: "", timeoutMs };
    try {
      return (await this.deliver(ep, KERNEL, t)).status === 0;
    } catch (e) {
      if (e instanceof MkError) return false;
      throw e;
    }
  }

  /**
   * Whether a user-placement incarnation still listens on its endpoint (a null message from
   * the kernel): one that does not is marked dead (no-subscriber) and false returned. Its
   * death may have gone unseen (its disconnect came while the kernel's own connection was
   * away); an answer or a timeout counts as there.
   */
  async stillThere(ep: EndpointEntry, timeoutMs: number): Promise<boolean> {
    const dead = (e: EndpointEntry) => e.state === "dead";
    if (dead(ep)) return false;
    if (ep.placement === "kernel" || !this.link) return true;
    const t: TrapIn = {
      caller: KERNEL,
      origin: "kernel",
      kind: Kind.SENDREC,
      dst: ep.key,
      type: Common.COMMON_PING,
      args: {},
      data: EMPTY,
      reqId: "",
      timeoutMs,
    };
    try {
      await this.handOver(ep, KERNEL, t);
      return true;
    } catch (e) {
      if (!(e instanceof MkError)) throw e;
      return !dead(ep);
    }
  }

  /** An interrupt from the bus: notify the line's owner with bit (1 << line); line 0 is the kernel's clock. */
  irq(line: number): void {
    this.k.metrics.irqs.labels(String(line)).inc();
    this.k.metrics.edge(HARDWARE, KERNEL);
    if (line === 0) this.k.tick();
    const owner = this.k.irqs.raise(line);
    if (!owner) return;
    const ep = this.k.table.get(owner);
    if (!ep || ep.state === "dead") return;
    this.notifications.add(owner, HARDWARE, 1 << line);
  }

  /** A notification from the kernel itself (source HARDWARE or KERNEL) to a live service. */
  notifyFromKernel(dst: string, source: string, bits: number): void {
    const ep = this.k.table.get(dst);
    if (ep && ep.state !== "dead") this.notifications.add(dst, source, bits);
  }

  private deliverNotify(dst: string, source: string, bits: number): void {
    const ep = this.k.table.get(dst);
    if (!ep || ep.state === "dead") return;
    if (ep.placement === "kernel") this.inKernel.get(dst)?.notify(source, bits);
    else this.link?.notify(ep, source, bits);
  }

  private onDeath(ep: EndpointEntry, cause: string): void {
    this.k.irqs.release(ep.label);
    this.notifications.drop(ep.label);
    this.inKernel.delete(ep.label);
    this.pending.died(ep, cause);
    for (const ch of this.channels.died(ep)) this.revoke(ch);
    if (ep.placement === "user") this.link?.died(ep);
  }
}
