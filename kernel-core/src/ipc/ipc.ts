// The trap path. Every message enters here with an authenticated caller label (from the
// trap subject, or from the in-kernel binding), is checked against the caller's
// privileges, stamped with its source incarnation, and routed: to a kernel call, to a
// server inside kernel-core (a function call), or over NATS to a user-space endpoint.
import {
  HARDWARE, hasLayout, isKnownType, KERNEL, Kind, MkError, NOTIFY_MESSAGE, parseEndpoint, parseRequestArgs, Sys,
  typeName, type Args,
} from "#abi";
import type { Receiver } from "#base/transport.ts";
import type { Clock } from "#base/clock.ts";
import { callNames, callTable } from "../calls/table.ts";
import type { KernelState } from "../calls/context.ts";
import { ALWAYS_ALLOWED, type ServicePrivileges } from "#base/system-table.ts";
import type { EndpointEntry } from "./endpoint-table.ts";

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
  readonly timeoutMs: number;
}

export interface TrapOut {
  status: number;
  errname?: string;
  errmsg?: string;
  args?: Args;
  argsJson?: string;
  data: Uint8Array;
  hops?: string;
}

/** Outbound to user-placement endpoints: the NATS side of the kernel. */
export interface Link {
  forward(ep: EndpointEntry, source: string, t: TrapIn, timeoutMs: number): Promise<TrapOut>;
  post(ep: EndpointEntry, source: string, t: TrapIn): void;
  notify(ep: EndpointEntry, source: string, bits: number): void;
}

/** Thrown by a Link when nobody subscribes to the endpoint: the incarnation is gone. */
export class NoSubscriberError extends Error {}

const EMPTY = new Uint8Array(0);

export function errorOut(e: MkError): TrapOut {
  return { status: e.code, errname: e.errno, errmsg: e.message, data: EMPTY };
}

export class Ipc {
  readonly inKernel = new Map<string, Receiver>();
  private readonly k: KernelState;
  private readonly clock: Clock;
  private link?: Link;
  private readonly pending = new Map<string, Set<(e: MkError) => void>>();
  private readonly notifyPending = new Map<string, Map<string, number>>();
  private flushScheduled = false;

  constructor(k: KernelState, clock: Clock) {
    this.k = k;
    this.clock = clock;
    k.table.onDeath((ep, cause) => this.onDeath(ep, cause));
  }

  attach(link: Link): void {
    this.link = link;
  }

  /** Routes one trap. Never throws an MkError: it becomes an error reply. */
  async trap(t: TrapIn): Promise<TrapOut> {
    const t0 = performance.now();
    try {
      const out = await this.route(t);
      this.k.metrics.message(t.type, 0);
      this.k.metrics.observe(t.type, (performance.now() - t0) / 1000);
      return out;
    } catch (e) {
      if (!(e instanceof MkError)) throw e;
      this.k.metrics.message(t.type, e.code);
      return errorOut(e);
    }
  }

  private async route(t: TrapIn): Promise<TrapOut> {
    const priv = this.k.priv.services.get(t.caller);
    if (!priv) throw new MkError("ECALLDENIED", `${t.caller} is not in the privilege table`);
    let caller: EndpointEntry | undefined;
    if (!(t.dst === KERNEL && t.type === Sys.SYS_HELLO)) {
      caller = this.k.table.get(t.caller);
      if (!caller || caller.state === "dead") {
        throw new MkError("EDEADSRCDST", `caller ${t.caller} has no live incarnation (SYS_HELLO first)`);
      }
      if (t.callerClaim !== undefined && t.callerClaim !== caller.key) {
        this.k.metrics.denials.labels("trap", "stale-source").inc();
        this.k.log.warn({ caller: t.callerClaim, call: "trap", current: caller.key, msgType: typeName(t.type), reqId: t.reqId }, "trap from superseded incarnation %s refused (%s is live)", t.callerClaim, caller.key);
        throw new MkError("EDEADSRCDST", `caller ${t.callerClaim} is not the live incarnation of ${t.caller} (${caller.key} is)`);
      }
    }
    if (t.dst === KERNEL) return this.kernelCall(t, priv, caller);

    const dst = parseEndpoint(t.dst);
    if (!dst) throw new MkError("EBADSRCDST", `destination ${JSON.stringify(t.dst.slice(0, 40))} is not label or label#generation`);
    if (!this.k.priv.services.has(dst.label)) throw new MkError("EBADSRCDST", `no service ${dst.label}`);
    if (!priv.ipc.includes(dst.label) && !priv.ipc.includes("*")) {
      this.k.metrics.denials.labels("ipc", "target").inc();
      this.k.log.warn({ caller: caller!.key, call: "ipc", target: dst.label, msgType: typeName(t.type), reqId: t.reqId }, "ipc: %s may not message %s", t.caller, dst.label);
      throw new MkError("ECALLDENIED", `${t.caller} may not message ${dst.label}`);
    }
    if (t.type !== NOTIFY_MESSAGE && !isKnownType(t.type)) throw new MkError("EBADREQUEST", `unknown message type 0x${t.type.toString(16)}`);
    let ep = this.k.table.resolve(dst.label, dst.generation);
    const source = caller!.key;

    if (t.kind === Kind.NOTIFY) {
      const bits = (t.args as { bits?: unknown } | undefined)?.bits;
      if (typeof bits !== "number" || !Number.isInteger(bits) || bits < 0 || bits > 0xffffffff) {
        throw new MkError("EBADREQUEST", "notify needs args.bits, an unsigned 32-bit integer");
      }
      this.queueNotify(ep.label, source, bits);
      return { status: 0, data: EMPTY };
    }
    if (ep.state === "starting") {
      const started = await this.untilDeath(ep, this.k.table.waitReady(ep.label, ep.generation - 1, t.timeoutMs));
      if (started.generation !== ep.generation) throw new MkError("EDEADSRCDST", `${ep.key} died before it was ready`);
      ep = started;
    }
    ep.messages++;

    if (ep.placement === "kernel") {
      const receiver = this.inKernel.get(ep.label);
      if (!receiver) throw new MkError("EDEADSRCDST", `${ep.key} has no in-kernel receiver`);
      const delivered = { type: t.type, args: (t.args ?? {}) as Args, data: t.data, source, kind: t.kind, reqId: t.reqId };
      if (t.kind === Kind.SEND) {
        receiver.deliver(delivered).catch(() => undefined);
        return { status: 0, data: EMPTY };
      }
      // No race against death here: an in-kernel server cannot die alone, it panics the kernel.
      const r = await receiver.deliver(delivered);
      return { status: 0, args: r?.args, data: r?.data ?? EMPTY };
    }
    const link = this.link;
    if (!link) throw new MkError("ENOTREADY", "kernel has no NATS link");
    if (t.kind === Kind.SEND) {
      link.post(ep, source, t);
      return { status: 0, data: EMPTY };
    }
    try {
      return await this.untilDeath(ep, link.forward(ep, source, t, t.timeoutMs));
    } catch (e) {
      if (e instanceof NoSubscriberError) {
        this.k.table.markDead(ep, "no subscriber on its endpoint subject");
        throw new MkError("EDEADSRCDST", `${ep.key} is dead (nothing listens on its endpoint)`);
      }
      throw e;
    }
  }

  private async kernelCall(t: TrapIn, priv: ServicePrivileges, caller: EndpointEntry | undefined): Promise<TrapOut> {
    const call = callTable[t.type];
    if (!call || !hasLayout(t.type)) throw new MkError("EBADREQUEST", `${typeName(t.type)} is not a kernel call`);
    const name = callNames[t.type];
    if (!ALWAYS_ALLOWED.includes(t.type) && !priv.calls.includes(t.type)) {
      this.k.metrics.denials.labels(name, "call").inc();
      this.k.log.warn({ caller: caller?.key ?? t.caller, call: name, reqId: t.reqId }, "kernel call %s not granted to %s", name, t.caller);
      throw new MkError("ECALLDENIED", `kernel call ${name} not granted to ${t.caller}`);
    }
    let result = "ok";
    try {
      const args = parseRequestArgs(t.type, t.args ?? {});
      const r = await call(this.k, { caller, label: t.caller, privileges: priv, origin: t.origin, args, data: t.data, reqId: t.reqId });
      return { status: 0, args: r.args, data: r.data ?? EMPTY };
    } catch (e) {
      result = e instanceof MkError ? e.errno : "crash";
      throw e;
    } finally {
      this.k.metrics.calls.labels(name, result).inc();
    }
  }

  /** An interrupt from the bus: notify the line's owner with bit (1 << line). */
  irq(line: number): void {
    this.k.metrics.irqs.labels(String(line)).inc();
    const owner = this.k.irqs.raise(line);
    if (!owner) return;
    const ep = this.k.table.get(owner);
    if (!ep || ep.state === "dead") return;
    this.queueNotify(owner, HARDWARE, 1 << line);
  }

  /** Notifications coalesce: bits for the same destination and source OR together. */
  private queueNotify(dst: string, source: string, bits: number): void {
    let bySrc = this.notifyPending.get(dst);
    if (!bySrc) this.notifyPending.set(dst, (bySrc = new Map()));
    bySrc.set(source, (bySrc.get(source) ?? 0) | bits);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flushNotify());
    }
  }

  private flushNotify(): void {
    this.flushScheduled = false;
    const all = [...this.notifyPending];
    this.notifyPending.clear();
    for (const [dst, bySrc] of all) {
      const ep = this.k.table.get(dst);
      if (!ep || ep.state === "dead") continue;
      for (const [source, bits] of bySrc) {
        if (ep.placement === "kernel") this.inKernel.get(dst)?.notify(source, bits);
        else this.link?.notify(ep, source, bits);
      }
    }
  }

  /** Races p against the death of ep: a dying endpoint fails its callers at once. */
  private untilDeath<T>(ep: EndpointEntry, p: Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      let set = this.pending.get(ep.key);
      if (!set) this.pending.set(ep.key, (set = new Set()));
      const fail = (e: MkError) => reject(e);
      set.add(fail);
      p.then(
        (v) => { set.delete(fail); resolve(v); },
        (e) => { set.delete(fail); reject(e); },
      );
    });
  }

  private onDeath(ep: EndpointEntry, cause: string): void {
    this.k.metrics.deaths.labels(ep.label).inc();
    this.k.log.warn({ incarnation: ep.key, cause }, "incarnation %s died: %s", ep.key, cause);
    this.k.irqs.release(ep.label);
    this.notifyPending.delete(ep.label);
    this.inKernel.delete(ep.label);
    const set = this.pending.get(ep.key);
    this.pending.delete(ep.key);
    for (const fail of set ?? []) fail(new MkError("EDEADSRCDST", `${ep.key} died while handling the request (${cause})`));
  }
}
