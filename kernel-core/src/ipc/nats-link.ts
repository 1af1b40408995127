// The kernel's NATS side. Subscribes every trap subject (the subject names the caller:
// only that service's NATS user may publish there), forwards to endpoint subjects of one
// incarnation, relays replies, turns mk.hw.irq.<n> into IRQs, and watches the system
// account's disconnect events to learn at once when an incarnation's connection died.
import { nuid, type Msg, type NatsConnection, type Subscription } from "@nats-io/transport-node";
import {
  addHop,
  boundedField,
  DeathCause,
  DenialKind,
  checkBody,
  decodeHops,
  decodeKind,
  decodeRawArgs,
  decodeReqId,
  decodeStatus,
  decodeTrace,
  decodeType,
  baseLabel,
  CALLER_RE,
  encodeArgs,
  errnoName,
  H,
  headerSafe,
  MAX_ARGS,
  MkError,
  replyHops,
  replyCalls,
  Subjects,
  typeName,
  encodeErrDetail,
  parseErrDetail,
  prop,
} from "#abi";
import type { Clock } from "#base/clock.ts";
import type { KernelState } from "../calls/context.ts";
import { clip, KeyedBudget, type Logger } from "#base/log.ts";
import { Envelope, readEnvelope } from "#base/nats-envelope.ts";
import { isLocalError, toMkError } from "#base/errors.ts";
import { RequestMux } from "#base/request-mux.ts";
import { Wire } from "#base/wire.ts";
import type { KernelMetrics } from "../metrics/metrics.ts";
import type { EndpointEntry, EndpointTable } from "../table/endpoint-table.ts";
import { errorOut, NoSubscriberError, type Ipc, type Link, type TrapIn, type TrapOut } from "./ipc.ts";
import { PER_CALLER_QUEUE, TrapQueue } from "./trap-queue.ts";

const DISCONNECT_SUBJECT = (account: string) => `$SYS.ACCOUNT.${account}.DISCONNECT`;
const TRAP_PREFIX = "mk.trap.";
const MAX_TIMEOUT_MS = 600_000;
const GENERATION_SUFFIX = /^#[1-9][0-9]{0,8}$/;
const EMPTY = new Uint8Array(0);
/** EAGAIN answers to dropped traps per label and second; past it a dropped trap is not answered (its caller times out). */
const DROP_ANSWERS = 256;
/** After the kernel's NATS connection comes back, how long a missing subscriber is not yet taken for a death. */
const RESUBSCRIBE_GRACE_MS = 5000;

export interface NatsLinkOptions {
  nc: NatsConnection;
  sysNc?: NatsConnection;
  account: string;
  ipc: Ipc;
  table: EndpointTable;
  log: Logger;
  clock: Clock;
  metrics: KernelMetrics;
  trapTimeoutMs: number;
  /** The kernel's refusal: counted, logged and published as an event. */
  deny: KernelState["deny"];
}

export class NatsLink implements Link {
  private readonly o: NatsLinkOptions;
  private readonly subs: Subscription[] = [];
  readonly wire: Wire;
  private readonly mux: RequestMux;
  private readonly debug: boolean;
  private reconnectedAt = -Infinity;
  /** Traps wait here, per caller, before any work: a flood delays only its sender. */
  private readonly traps: TrapQueue<Msg>;
  /** EAGAIN answers to dropped traps, per label: at most DROP_ANSWERS a second. */
  private readonly dropAnswers: KeyedBudget;
  private readonly eagain = new MkError(
    "EAGAIN",
    `the caller has ${PER_CALLER_QUEUE} traps waiting in the kernel already: this one was dropped before any work`,
  );

  constructor(o: NatsLinkOptions) {
    this.o = o;
    this.debug = o.log.isLevelEnabled("debug");
    this.wire = new Wire(o.nc, o.log, o.clock);
    this.mux = new RequestMux(this.wire, Subjects.kernelAnswers, o.clock);
    this.dropAnswers = new KeyedBudget(o.clock, { burst: DROP_ANSWERS, windowMs: 1000 });
    const handle = this.wire.guard("trap", (m) => this.onTrap(m));
    this.traps = new TrapQueue<Msg>({
      start: (_label, m) => handle(null, m),
      size: (m) => m.data.length,
      dropped: (label, m) => {
        o.metrics.trapsDropped.labels(label).inc();
        // Answered only where the caller's own inbox asked for it (never into another's),
        // and only so many a second: a flood that asks for answers must not make the kernel write one for each.
        const caller = m.subject.slice(TRAP_PREFIX.length);
        if (m.reply?.startsWith(`${Subjects.inboxPrefix(caller)}.`) && this.dropAnswers.admit(label) !== undefined)
          this.reply(m.reply, errorOut(this.eagain));
      },
    });
  }

  async start(): Promise<void> {
    const { nc, sysNc, ipc } = this.o;
    this.mux.start();
    this.subs.push(
      nc.subscribe(Subjects.trapWildcard, {
        callback: (err, m) => {
          if (err) return;
          const label = m.subject.slice(TRAP_PREFIX.length);
          // Queued by the caller's label: an instance (mkctl.<id>) shares its label's queue.
          if (CALLER_RE.test(label)) this.traps.push(baseLabel(label), m);
        },
      }),
    );
    this.subs.push(
      nc.subscribe(Subjects.hwIrqWildcard, {
        callback: this.wire.guard("irq", (m) => {
          const line = Number(m.subject.slice("mk.hw.irq.".length));
          if (Number.isInteger(line) && line >= 0 && line < 16) ipc.irq(line);
        }),
      }),
    );
    if (sysNc) {
      const sysWire = new Wire(sysNc, this.o.log, this.o.clock);
      this.subs.push(
        sysNc.subscribe(DISCONNECT_SUBJECT(this.o.account), { callback: sysWire.guard("disconnect", (m) => this.onDisconnect(m)) }),
      );
      await sysNc.flush();
    }
    await nc.flush();
  }

  /**
   * The server says a connection closed. Which incarnation it was is told by the NATS
   * user and the connection's name (`<label>.<nonce>`, given in SYS_HELLO), never by the
   * server's client id: a restarted nats-server hands the same ids out again.
   */
  private onDisconnect(m: Msg): void {
    let ev: unknown;
    try {
      ev = JSON.parse(new TextDecoder().decode(m.data));
    } catch {
      return;
    }
    const client = prop(ev, "client");
    const user = prop(client, "user");
    const name = prop(client, "name");
    if (typeof user !== "string" || typeof name !== "string") return;
    const ep = this.o.table.byConnection(user, name);
    const why = prop(ev, "reason");
    const reason = typeof why === "string" ? why.slice(0, 64) : "disconnect";
    if (ep) this.o.table.markDead(ep, DeathCause.DISCONNECT, reason);
  }

  private async onTrap(m: Msg): Promise<void> {
    const label = m.subject.slice(TRAP_PREFIX.length);
    // A caller may only have replies sent to its own inbox: never into another's.
    if (m.reply && !m.reply.startsWith(`${Subjects.inboxPrefix(label)}.`)) {
      this.o.deny({
        label,
        call: "trap",
        denied: DenialKind.REPLY_SUBJECT,
        target: clip(m.reply, 64),
        errno: "none (dropped)",
        message: `trap from ${label} names a reply subject outside its inbox; dropped`,
      });
      return;
    }
    const { get } = readEnvelope(m);
    let t: TrapIn;
    try {
      checkBody(m.data);
      const kind = decodeKind(get);
      const type = decodeType(get);
      const dst = boundedField(get, H.dst);
      if (!dst) throw new MkError("EBADREQUEST", `missing ${H.dst} header`);
      const rawTimeout = boundedField(get, H.timeout);
      let timeoutMs = this.o.trapTimeoutMs;
      if (rawTimeout !== undefined) {
        if (!/^[0-9]{1,7}$/.test(rawTimeout) || Number(rawTimeout) < 1 || Number(rawTimeout) > MAX_TIMEOUT_MS) {
          throw new MkError("EBADREQUEST", `${H.timeout} must be 1..${MAX_TIMEOUT_MS} ms`);
        }
        timeoutMs = Number(rawTimeout);
      }
      // A caller names its own incarnation (label#generation) once it has one; the label
      // must be the authenticated one, and route() refuses a superseded generation.
      const claim = boundedField(get, H.src);
      if (claim !== undefined && !(claim.startsWith(label) && GENERATION_SUFFIX.test(claim.slice(label.length)))) {
        this.o.deny({
          label,
          entry: this.o.table.get(label),
          call: "trap",
          denied: DenialKind.SOURCE,
          target: clip(claim, 48),
          errno: "EBADSRCDST",
          message: `trap from ${label} claims to come from ${clip(claim, 48)}; refused`,
        });
        throw new MkError(
          "EBADSRCDST",
          `${H.src} ${JSON.stringify(claim.slice(0, 48))} is not an incarnation (label#generation) of the caller ${label}`,
        );
      }
      t = {
        caller: label,
        callerClaim: claim,
        origin: "user",
        kind,
        dst,
        type,
        args: decodeRawArgs(get),
        argsJson: get(H.args),
        data: m.data,
        reqId: decodeReqId(get) ?? nuid.next(),
        hops: addHop(decodeHops(get), "kernel", this.o.clock.nowUs()),
        trace: decodeTrace(get),
        timeoutMs,
        reply: m.reply,
      };
    } catch (e) {
      this.reply(m.reply, errorOut(e as MkError));
      return;
    }
    let out: TrapOut;
    try {
      out = await this.o.ipc.trap(t);
    } catch (e) {
      // A kernel bug, not the caller's fault: answer EIO and keep serving.
      this.o.log.error({ err: e, caller: label, msgType: typeName(t.type), reqId: t.reqId }, "trap handling failed");
      out = errorOut(new MkError("EIO", `kernel error: ${(e as Error).message}`));
    }
    if (!out.direct) this.reply(m.reply, out, t.hops);
    if (this.debug) {
      this.o.log.debug(
        {
          caller: label,
          msgType: typeName(t.type),
          reqId: t.reqId,
          trace: t.trace,
          dst: t.dst,
          kind: t.kind,
          status: out.status,
          err: out.errname,
        },
        "trap %s -> %s",
        typeName(t.type),
        t.dst,
      );
    }
  }

  /** Answers a trap. An answer too large to send goes back as an EMSGSIZE error reply. */
  private reply(subject: string | undefined, out: TrapOut, hops?: string): void {
    if (!subject) return;
    const h = new Envelope();
    h.set(H.status, String(out.status));
    if (out.status !== 0) {
      h.set(H.errname, errnoName(out.status) ?? "EIO");
      if (out.errmsg) h.set(H.errmsg, headerSafe(out.errmsg));
      const detail = encodeErrDetail(out.detail);
      if (detail !== undefined) h.set(H.errdetail, detail);
    }
    const a = out.argsJson ?? encodeArgs(out.args);
    if (a !== undefined) h.set(H.args, a);
    const trail = out.hops ?? hops;
    if (trail) h.set(H.hops, addHop(trail, "kernel", this.o.clock.nowUs()));
    if (out.calls) h.set(H.calls, out.calls);
    this.wire.respond(subject, out.data, h);
  }

  private envelope(ep: EndpointEntry, source: string, t: TrapIn): Envelope {
    const h = new Envelope();
    h.set(H.type, String(t.type));
    h.set(H.src, source);
    h.set(H.dst, ep.key);
    h.set(H.req, t.reqId || nuid.next());
    h.set(H.hops, t.hops ?? addHop(undefined, "kernel", this.o.clock.nowUs()));
    if (t.trace) h.set(H.trace, t.trace);
    if (t.kind !== "sendrec") h.set(H.kind, t.kind);
    const a = t.argsJson ?? encodeArgs(t.args);
    if (a !== undefined) h.set(H.args, a);
    return h;
  }

  async forward(ep: EndpointEntry, source: string, t: TrapIn, timeoutMs: number): Promise<TrapOut> {
    let m: Msg;
    try {
      m = await this.mux.request(Subjects.endpoint(ep.label, ep.generation), t.data, this.envelope(ep, source, t), timeoutMs);
    } catch (e) {
      if (isLocalError(e, "MK_ERR_NO_RESPONDERS")) {
        // Just after NATS came back, services are still re-subscribing: not a death yet (the
        // registry's ENOTREADY); otherwise the incarnation is gone.
        if (this.o.clock.now() - this.reconnectedAt < RESUBSCRIBE_GRACE_MS)
          throw toMkError(e, `${ep.key} is not reachable yet: NATS came back ${this.o.clock.now() - this.reconnectedAt} ms ago`);
        throw new NoSubscriberError(ep.key);
      }
      if (isLocalError(e, "MK_ERR_REQUEST_TIMEOUT")) throw toMkError(e, `${ep.key} did not reply within ${timeoutMs} ms`);
      if (isLocalError(e, "MK_ERR_DISCONNECTED"))
        throw toMkError(e, `the NATS connection is lost: ${ep.key} cannot answer until it is back`);
      if (e instanceof MkError) throw e; // the wire's EMSGSIZE or EIO
      throw new MkError("EIO", `forward to ${ep.key} failed: ${(e as Error).message}`);
    }
    // The reply comes from a server the kernel does not trust: bounded before it is copied on.
    const { get } = readEnvelope(m);
    let status: number;
    const argsJson = get(H.args);
    try {
      status = decodeStatus(get);
      if (argsJson !== undefined && argsJson.length > MAX_ARGS) throw new MkError("EBADREQUEST", "oversized arguments");
    } catch {
      throw new MkError("EIO", `${ep.key} sent a malformed reply`);
    }
    return {
      status,
      errmsg: get(H.errmsg),
      detail: status === 0 ? undefined : parseErrDetail(get(H.errdetail)),
      argsJson: status === 0 ? argsJson : undefined,
      data: status === 0 ? m.data : EMPTY,
      hops: replyHops(get),
      calls: status === 0 ? replyCalls(get) : undefined,
    };
  }

  forwardDirect(ep: EndpointEntry, source: string, t: TrapIn, reply: string): void {
    // The server answers the caller's own reply subject. If nothing listens on the endpoint,
    // no no-responders answer reaches the caller (a review's test saw the request run to its
    // deadline): the caller learns of the death from mk.kernel.dead, once the kernel does
    // (the connection's close, or rs's heartbeat finding no one).
    const err = this.wire.publish(Subjects.endpoint(ep.label, ep.generation), t.data, this.envelope(ep, source, t), reply);
    if (err) throw err;
  }

  died(ep: EndpointEntry): void {
    const h = new Envelope();
    h.set(H.dst, ep.key);
    this.wire.publish(Subjects.kernelDead, undefined, h);
  }

  notify(ep: EndpointEntry, source: string, bits: number): void {
    const h = new Envelope();
    h.set(H.type, "4096");
    h.set(H.kind, "notify");
    h.set(H.src, source);
    h.set(H.dst, ep.key);
    h.set(H.args, `{"bits":${bits}}`);
    this.wire.publish(Subjects.endpoint(ep.label, ep.generation), undefined, h);
  }

  /** The kernel's connection is back after an outage: services are re-subscribing. */
  reconnected(): void {
    this.reconnectedAt = this.o.clock.now();
  }

  async stop(): Promise<void> {
    for (const s of this.subs) s.unsubscribe();
    this.mux.close(new MkError("ENOTREADY", "kernel-core is stopping"));
  }
}
