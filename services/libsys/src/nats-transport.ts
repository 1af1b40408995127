// User placement: the service is its own process and reaches everything through its own
// trap subject. With base's request multiplexer, envelope codec and wire, the only libsys
// code that speaks NATS. Every field that comes off the wire is bounded before it is used
// or copied; every publish goes through the Wire (sized, never throwing).
import { nuid, type Msg, type NatsConnection, type Subscription } from "@nats-io/transport-node";
import {
  addHop,
  decodeError,
  decodeHops,
  decodeKind,
  decodeRawArgs,
  decodeReqId,
  decodeStatus,
  decodeTrace,
  decodeType,
  encodeArgs,
  decodeKernelEvent,
  EventSubjects,
  H,
  Kind,
  MkError,
  NOTIFY_MESSAGE,
  parseShape,
  replyHops,
  replyCalls,
  encodeCalls,
  Subjects,
  typeName,
  f,
  type Delivered,
  type KernelEvent,
  type Reply,
  KERNEL_BEACON_MS,
  KERNEL,
  Common,
  SysCall,
  parseEndpoint,
  parseReplyArgs,
  parseRequestArgs,
  prop,
} from "#abi";
import { systemClock, type Clock, type Timer } from "#base/clock.ts";
import { loadChannelCredential, type Credential } from "#base/credentials.ts";
import { createLogger, LogLimiter, type Logger } from "#base/log.ts";
import { connectNats, watchConnection } from "#base/nats-connect.ts";
import { Envelope, readEnvelope } from "#base/nats-envelope.ts";
import { ExitStatus, isLocalError, toMkError } from "#base/errors.ts";
import { RequestMux, unguessableId } from "#base/request-mux.ts";
import { childTrace, noteCall } from "#base/trace.ts";
import type { RawReply, Receiver, Transport } from "#base/transport.ts";
import { errorEnvelope, Wire } from "#base/wire.ts";
import { pathOf, PathStats, type PathRow } from "./path-stats.ts";

const DEFAULT_TIMEOUT_MS = 30_000;
/** How long opening a channel may take (the kernel, then the server taking the token). */
const CHANNEL_SETUP_MS = 5000;
/** Channels out this process keeps (one per destination incarnation), and channels in a server holds. */
const MAX_CHANNELS_OUT = 64;
const MAX_CHANNELS_IN = 1024;
const MAX_CHANNELS_PER_CALLER = 8;
const EMPTY = new Uint8Array(0);
/** A channel that could not be opened is asked for again after this long. */
const CHANNEL_RETRY_MS = 10_000;

/** A channel out: the subject its requests go on, and the inbox of its own its answers come to. */
interface OutChannel {
  subject: string;
  mux: RequestMux;
}
const DRAIN_MS = 1000;
/** kernel-core announces itself every KERNEL_BEACON_MS; silent for this long, it is taken to be gone. */
const KERNEL_SILENT_MS = 3500;
const BEACON = { boot: f.str(32) };

export class NatsTransport implements Transport {
  readonly label: string;
  readonly placement = "user" as const;
  readonly nc: NatsConnection;
  readonly wire: Wire;
  private sub?: Subscription;
  private kernelSub?: Subscription;
  private readonly trap: string;
  private readonly onPanic: (err: unknown) => never;
  /** Kernel calls and sends: only kernel-core answers into this inbox. */
  private readonly mux: RequestMux;
  /**
   * sendrecs to other labels, in a sub-inbox of their own (`_INBOX.<label>.rd`): on
   * reply-direct the server answers there, and the servers the table lets answer this label
   * may publish there and nowhere else in its inbox (not into its kernel calls' answers, nor
   * its channels').
   */
  private readonly direct: RequestMux;
  private readonly clock: Clock;
  /** This incarnation, once the kernel assigned it: every trap after SYS_HELLO names it. */
  private self?: string;
  /** The kernel's boot as last announced, and when. */
  private kernelBoot?: string;
  private kernelSeen = 0;
  private watchdog?: Timer;
  /** Set by the service lifecycle once the incarnation is known; debug lines per message. */
  log?: Logger;
  /** The labels the table gives this caller a channel to (SYS_HELLO says). */
  private channelLabels = new Set<string>();
  /** Channels out, by destination incarnation: the subject and the channel's own inbox, or undefined (reached by the trap). */
  private readonly channelsOut = new Map<string, Promise<OutChannel | undefined>>();
  /** Channels in, by token: the caller's incarnation the kernel named when it opened it. */
  private readonly channelsIn = new Map<string, { src: string; srcLabel: string }>();
  /** The server's channel user (`<label>@ch`): its own connection, which reads channels and answers only into their inboxes. */
  private readonly channelCred?: Credential;
  private channelConn?: { nc: NatsConnection; wire: Wire };
  private channelConnecting?: Promise<void>;
  /** close() was called: a channel connection that completes after it is closed at once. */
  private closing = false;
  private receiver?: Receiver;
  private readonly pathStats = new PathStats();
  /** sendrecs waiting for their answers (inFlight). */
  private waiting = 0;
  /** Messages on a channel refused (an unknown or revoked token, a reply subject not the caller's, a fault): counted. */
  channelRefusals = 0;

  private readonly conn: string;
  private readonly fallbackLog: Logger;
  private readonly eventLimiter: LogLimiter;

  /** conn: the nonce the connection is named by (`<label>.<conn>`), "" when it is not. */
  /** log: where the transport's own warnings go (default: a logger of its own at MK_LOG_LEVEL). */
  /** channelCred: the server's channel user (`<label>@ch`), when the table gives anyone a channel to it. */
  constructor(
    label: string,
    nc: NatsConnection,
    onPanic?: (err: unknown) => never,
    clock: Clock = systemClock,
    conn = "",
    log?: Logger,
    channelCred?: Credential,
  ) {
    this.label = label;
    this.channelCred = channelCred;
    this.conn = conn;
    this.nc = nc;
    this.clock = clock;
    this.trap = Subjects.trap(label);
    this.fallbackLog = log ?? createLogger(label);
    this.wire = new Wire(nc, this.fallbackLog, clock);
    this.eventLimiter = new LogLimiter(clock);
    this.mux = new RequestMux(this.wire, Subjects.inboxPrefix(label), clock);
    this.mux.start();
    this.direct = new RequestMux(this.wire, Subjects.directInbox(label), clock);
    this.direct.start();
    this.followDeaths();
    this.onPanic =
      onPanic ??
      ((err) => {
        console.error(JSON.stringify({ level: 60, svc: label, msg: "panic", err: String((err as Error)?.stack ?? err) }));
        process.exit(ExitStatus.SOFTWARE);
      });
  }

  /** channelCred: by default the one beside MK_CREDS (`<label>@ch.json`), if there is one. */
  static async connect(label: string, cred: Credential, log?: Logger, channelCred = loadChannelCredential()): Promise<NatsTransport> {
    const conn = nuid.next();
    const nc = await connectNats(`${label}.${conn}`, cred, Subjects.inboxPrefix(label));
    watchConnection(nc, log ?? createLogger(label));
    return new NatsTransport(label, nc, undefined, systemClock, conn, log, channelCred);
  }

  connection(): string {
    return this.conn;
  }

  /**
   * The kernel's death notices (mk.kernel.dead): a request sent to that incarnation by
   * reply-direct fails at once with EDEADSRCDST, as the trap path's does, instead of at its
   * deadline. Only kernel-core may publish there.
   */
  private followDeaths(): void {
    this.nc.subscribe(Subjects.kernelDead, {
      callback: this.wire.guard("kernel-dead", (m) => {
        const key = readEnvelope(m).get(H.dst);
        if (key === undefined || key.length > 48 || !parseEndpoint(key)?.generation) return;
        const dead = new MkError("EDEADSRCDST", `${key} died before it answered`);
        this.direct.failTo(key, dead);
        const ch = this.channelsOut.get(key);
        this.channelsOut.delete(key);
        void ch?.then((c) => c?.mux.close(dead));
      }),
    });
  }

  /** The table's channels for this incarnation (SYS_HELLO's answer): sendrecs to them go by channel once opened. */
  useChannels(labels: readonly string[]): void {
    this.channelLabels = new Set(labels);
    this.retireChannels();
  }

  /** Every channel out is given up: what is in flight on one still gets its answer, new requests go by a new one. */
  private retireChannels(): void {
    for (const p of this.channelsOut.values()) void p.then((c) => c?.mux.retire());
    this.channelsOut.clear();
  }

  async sendrec(dst: string, type: number, args: object | undefined, data: Uint8Array, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<RawReply> {
    this.waiting++;
    try {
      return await this.sendrecOnce(dst, type, args, data, timeoutMs);
    } finally {
      this.waiting--;
    }
  }

  private async sendrecOnce(dst: string, type: number, args: object | undefined, data: Uint8Array, timeoutMs: number): Promise<RawReply> {
    const opening = this.channelTo(dst);
    const channel = opening === undefined ? undefined : await opening;
    const h = trapEnvelope(this.label, dst, type, Kind.SENDREC, args, timeoutMs, this.self);
    const t0 = this.clock.nowUs();
    let m: Msg;
    try {
      // The kernel answers within timeoutMs; the extra second covers its own reply hop.
      // Addressed to one incarnation, the request may go by reply-direct or channel: its death fails it.
      const target = dst.includes("#") ? dst : undefined;
      m = channel
        ? await channel.mux.request(channel.subject, data, h, timeoutMs + 1000, target)
        : await (dst === KERNEL ? this.mux : this.direct).request(this.trap, data, h, timeoutMs + 1000, target);
    } catch (e) {
      // Nothing subscribes to the server's channels: it is gone (the request reached no one).
      if (channel !== undefined && isLocalError(e, "MK_ERR_NO_RESPONDERS"))
        throw new MkError("EDEADSRCDST", `${dst} is dead (nothing listens on its channels)`, { cause: e });
      throw natsToMkError(e, dst);
    }
    if (channel !== undefined && revokedChannel(m)) {
      // The server no longer knows the token (revoked, or a new kernel-core): the request was
      // not run, so it goes again by the trap, as every later one to that incarnation does.
      this.channelsOut.set(dst, Promise.resolve(undefined));
      channel.mux.retire();
      return this.sendrecOnce(dst, type, args, data, timeoutMs);
    }
    const reply = parseReply(m, this.label);
    if (dst !== KERNEL) {
      const label = dst.split("#")[0];
      this.pathStats.record(pathOf(reply.hops, channel !== undefined, label), label, this.clock.nowUs() - t0);
    }
    return reply;
  }

  /** fn is told when a round trip is counted and none was waiting to be reported. */
  onPathStats(fn: () => void): void {
    this.pathStats.onFirst = fn;
  }

  /** This process's sendrecs waiting for their answers, on every path. */
  inFlight(): number {
    return this.waiting;
  }

  /** The round trips counted since the last call, by path and destination (SYS_IPCSTAT reports them). */
  takePathStats(): PathRow[] {
    return this.pathStats.take();
  }

  /** The channel subject to dst (opening it the first time), or undefined when dst is reached by the trap. */
  private channelTo(dst: string): Promise<OutChannel | undefined> | undefined {
    if (this.channelLabels.size === 0) return undefined;
    const i = dst.indexOf("#");
    if (i < 0 || !this.channelLabels.has(dst.slice(0, i))) return undefined;
    let p = this.channelsOut.get(dst);
    if (p === undefined) {
      // Bounded: one per incarnation of the few labels the table names; the oldest go first.
      if (this.channelsOut.size >= MAX_CHANNELS_OUT) {
        const [oldest, ch] = this.channelsOut.entries().next().value!;
        this.channelsOut.delete(oldest);
        void ch.then((c) => c?.mux.retire());
      }
      p = this.openChannel(dst, dst.slice(0, i));
      this.channelsOut.set(dst, p);
    }
    return p;
  }

  private async openChannel(dst: string, label: string): Promise<OutChannel | undefined> {
    try {
      const r = await this.sendrec(KERNEL, SysCall.SYS_CHANNEL, { dst }, EMPTY, CHANNEL_SETUP_MS);
      const { subject, token } = parseReplyArgs(SysCall.SYS_CHANNEL, r.args);
      if (!subject.startsWith(`mk.ch.${label}.${dst.slice(label.length + 1)}.${this.label}.`))
        throw new MkError("EIO", `the kernel answered a channel subject not of this pair: ${subject}`);
      // Its answers come to an inbox of its own, the one place the server's channel user may publish for it.
      const mux = new RequestMux(this.wire, Subjects.channelInbox(this.label, label, token), this.clock);
      mux.start();
      return { subject, mux };
    } catch (e) {
      if (!(e instanceof MkError)) throw e;
      // Not for good: a refused or failed open is asked again a while later.
      this.clock.setTimeout(() => {
        if (this.channelsOut.get(dst) === failed) this.channelsOut.delete(dst);
      }, CHANNEL_RETRY_MS);
      const failed = this.channelsOut.get(dst);
      (this.log ?? this.fallbackLog).debug(
        { dst, err: e.errno },
        "no channel to %s (%s): its sendrecs go through the kernel",
        dst,
        e.message,
      );
      return undefined;
    }
  }

  async send(dst: string, type: number, args: object | undefined, data: Uint8Array): Promise<void> {
    const h = trapEnvelope(this.label, dst, type, Kind.SEND, args, undefined, this.self);
    try {
      parseReply(await this.mux.request(this.trap, data, h, DEFAULT_TIMEOUT_MS));
    } catch (e) {
      throw natsToMkError(e, dst);
    }
  }

  async notify(dst: string, bits: number): Promise<void> {
    // Non-blocking, as in MINIX: no reply is awaited; the kernel coalesces the bits.
    const err = this.wire.publish(
      this.trap,
      undefined,
      trapEnvelope(this.label, dst, NOTIFY_MESSAGE, Kind.NOTIFY, { bits }, undefined, this.self),
    );
    if (err) throw err;
  }

  async listen(generation: number, receiver: Receiver): Promise<void> {
    this.self = `${this.label}#${generation}`;
    this.receiver = receiver;
    this.sub?.unsubscribe();
    this.sub = this.nc.subscribe(Subjects.endpoint(this.label, generation), {
      callback: this.wire.guard("endpoint", (m) => this.receive(m, receiver)),
    });
    await this.nc.flush();
    // A server others reach by channel reads them on a second connection: made now, beside
    // its start, not on the path of the first request of a caller after a restart.
    if (this.channelCred && !this.channelConnecting) void this.connectChannels().catch(() => undefined);
  }

  /** The channel connection, made once: two opens at the same time share the one being made; a failure is tried again at the next open. */
  private connectChannels(): Promise<void> {
    this.channelConnecting ??= this.subscribeChannels().catch((e: unknown) => {
      this.channelConnecting = undefined;
      throw e;
    });
    return this.channelConnecting;
  }

  /**
   * Follows kernel-core's announcements: a new boot is reported to onBoot (the lifecycle
   * registers again); a kernel silent for KERNEL_SILENT_MS fails every request waiting on
   * it at once (ENOTREADY) instead of leaving them to their deadlines.
   */
  watchKernel(onBoot: (boot: string) => void): void {
    // The kernel just answered SYS_HELLO: that counts as its first announcement.
    this.kernelSeen = this.clock.now();
    this.kernelSub = this.nc.subscribe(Subjects.kernelBoot, {
      callback: this.wire.guard("kernel-boot", (m) => {
        const { boot } = parseShape(BEACON, decodeRawArgs(readEnvelope(m).get));
        this.kernelSeen = this.clock.now();
        if (boot !== this.kernelBoot) {
          if (this.kernelBoot !== undefined) {
            const lost = new MkError("ENOTREADY", "kernel-core restarted: the request was lost with the old kernel");
            this.mux.failAll(lost);
            this.direct.failAll(lost);
            // The new kernel knows no channel the old one opened: it could not revoke them, nor
            // tell of a server that died with it. What waits on one fails now, as on the trap
            // (the caller's recovery sends it again), instead of at its deadline.
            for (const p of this.channelsOut.values()) void p.then((c) => c?.mux.close(lost));
            this.channelsOut.clear();
            this.channelsIn.clear();
          }
          this.kernelBoot = boot;
          onBoot(boot);
        }
      }),
    });
    const check = () => {
      this.watchdog = this.clock.setTimeout(check, KERNEL_BEACON_MS);
      if (this.mux.size + this.direct.size === 0) return;
      const silent = this.clock.now() - this.kernelSeen;
      if (silent <= KERNEL_SILENT_MS) return;
      const gone = new MkError("ENOTREADY", `kernel-core is gone: no announcement for ${silent} ms`);
      this.mux.failAll(gone);
      this.direct.failAll(gone);
    };
    check();
  }

  /**
   * COMMON_CHANNEL from the kernel (and only from it: the source is the kernel's stamp): a
   * caller's incarnation may now publish to this server on its channel under `token`, or
   * may no longer.
   */
  private async channelControl(source: string, raw: unknown): Promise<Reply> {
    if (source !== KERNEL) throw new MkError("ECALLDENIED", "only the kernel opens and revokes channels");
    const { op, src, token } = parseRequestArgs(Common.COMMON_CHANNEL, raw);
    const srcLabel = src.slice(0, Math.max(0, src.indexOf("#")));
    if (op === "close") {
      if (this.channelsIn.get(token)?.src === src) this.channelsIn.delete(token);
      return {};
    }
    if (!srcLabel) throw new MkError("EINVAL", `a channel's source is label#generation, not ${JSON.stringify(src)}`);
    if (this.channelsIn.size >= MAX_CHANNELS_IN)
      throw new MkError("EAGAIN", `${this.label} holds ${MAX_CHANNELS_IN} channels already`, { detail: { limit: MAX_CHANNELS_IN } });
    await this.connectChannels();
    // A caller label holds a few at most (the kernel revokes an incarnation's at its death):
    // past that its oldest is forgotten, and a request on it goes again by the trap.
    const mine = [...this.channelsIn].filter(([, c]) => c.srcLabel === srcLabel);
    if (mine.length >= MAX_CHANNELS_PER_CALLER) this.channelsIn.delete(mine[0][0]);
    this.channelsIn.set(token, { src, srcLabel });
    return {};
  }

  /**
   * Channels into this incarnation are read on a connection of the server's channel user,
   * which has no response grants: it answers only into each caller's channel inbox for
   * this server (its NATS permissions), whatever reply subject a caller names.
   */
  private async subscribeChannels(): Promise<void> {
    if (!this.channelCred)
      throw new MkError(
        "ECALLDENIED",
        `${this.label} has no channel credential (${this.label}@ch): no label has paths: { ${this.label}: channel }`,
      );
    const nc = await connectNats(`${this.label}@ch.${this.conn || nuid.next()}`, this.channelCred);
    if (this.closing) {
      // Closed while it connected (made at listen, beside the start): nothing may keep it open.
      await nc.close().catch(() => undefined);
      throw new MkError("ENOTREADY", `${this.label} is closing`);
    }
    const wire = new Wire(nc, this.fallbackLog, this.clock);
    let refused: Error | undefined;
    const into = Subjects.channelsInto(this.label, parseEndpoint(this.self ?? "")?.generation ?? 0);
    const prefix = into.slice(0, -1);
    const take = wire.guard("channel", (m) => this.onChannel(m, prefix, wire));
    const sub = nc.subscribe(into, {
      callback: (err, m) => {
        if (err) refused = err;
        else take(null, m);
      },
    });
    await nc.flush();
    if (refused || sub.isClosed()) {
      await nc.close().catch(() => undefined);
      throw new MkError("ECALLDENIED", `${this.label}@ch may not read ${into}`, { cause: refused });
    }
    this.channelConn = { nc, wire };
  }

  /** A request on a channel: the token names the caller's incarnation, the subject its label (NATS checked who published). */
  private onChannel(m: Msg, prefix: string, wire: Wire): void {
    const rest = m.subject.slice(prefix.length);
    const dot = rest.lastIndexOf(".");
    const srcLabel = rest.slice(0, dot);
    const token = rest.slice(dot + 1);
    const ch = this.channelsIn.get(token);
    const refuse = (why: string) => {
      this.channelRefusals++;
      this.eventLimiter.allow(this.log ?? this.fallbackLog, "channel-refused", () =>
        (this.log ?? this.fallbackLog).warn(
          { subject: m.subject.slice(0, 96), reply: m.reply?.slice(0, 64) },
          "channel message refused: %s",
          why,
        ),
      );
    };
    // Answered only into the caller's inbox for this very channel (the only place this user may publish for it).
    if (!m.reply?.startsWith(`${Subjects.channelInbox(srcLabel, this.label, token)}.`))
      return refuse("its reply subject is not the channel's inbox");
    if (!ch || ch.srcLabel !== srcLabel || !this.receiver) {
      refuse("no open channel has that token");
      wire.respond(
        m.reply,
        undefined,
        errorEnvelope(
          new MkError("EBADSRCDST", `no open channel from ${srcLabel} has that token (revoked, or never opened)`, {
            detail: { arg: "channel" },
          }),
        ),
      );
      return;
    }
    void this.receive(m, this.receiver, ch.src, wire);
  }

  private async receive(msg: Msg, receiver: Receiver, channelSource?: string, wire = this.wire): Promise<void> {
    const { get } = readEnvelope(msg);
    let reply: Reply | undefined;
    let hops: string | undefined;
    try {
      const kind = decodeKind(get);
      const type = decodeType(get);
      // On a channel the source is the incarnation the kernel named for the token, never a header.
      const source = channelSource ?? get(H.src) ?? "";
      const args = decodeRawArgs(get);
      if (channelSource !== undefined && (kind !== Kind.SENDREC || type === Common.COMMON_FAULT || type === Common.COMMON_CHANNEL)) {
        this.channelRefusals++;
        throw new MkError(
          "ECALLDENIED",
          "a channel carries the pair's sendrecs: sends, notifications, faults and channel control go through the kernel",
        );
      }
      if (kind === Kind.NOTIFY) {
        const bits = prop(args, "bits");
        if (typeof bits === "number" && Number.isInteger(bits)) receiver.notify(source.slice(0, 48), bits);
        return;
      }
      hops = decodeHops(get);
      const delivered: Delivered = {
        type,
        args,
        data: msg.data,
        source: source.slice(0, 48),
        kind,
        reqId: decodeReqId(get) ?? "",
        trace: decodeTrace(get),
      };
      reply = type === Common.COMMON_CHANNEL ? await this.channelControl(delivered.source, args) : await receiver.deliver(delivered);
      this.log?.debug(
        { msgType: typeName(type), reqId: delivered.reqId, trace: delivered.trace, source, bytes: msg.data.length },
        "%s from %s",
        typeName(type),
        source,
      );
    } catch (e) {
      if (!(e instanceof MkError)) this.panic(e);
      this.log?.debug({ msgType: typeName(Number(get(H.type))), reqId: get(H.req)?.slice(0, 64), err: e.errno }, "refused: %s", e.message);
      wire.respond(msg.reply, undefined, errorEnvelope(e));
      return;
    }
    if (!msg.reply) return;
    // A channel's reply subject was checked on arrival (its own inbox); the rest answer the kernel or the caller's sub-inbox.
    if (channelSource === undefined && !answerable(msg.reply, get(H.src) ?? "")) {
      this.log?.warn({ reply: msg.reply.slice(0, 64) }, "not answered: the reply subject is neither the kernel's inbox nor the caller's");
      return;
    }
    const h = new Envelope();
    h.set(H.status, "0");
    const a = encodeArgs(reply?.args);
    if (a !== undefined) h.set(H.args, a);
    h.set(H.hops, addHop(hops, this.label, this.clock.nowUs()));
    const calls = reply?.calls ? encodeCalls(reply.calls) : undefined;
    if (calls !== undefined) h.set(H.calls, calls);
    wire.respond(msg.reply, reply?.data, h);
  }

  async events(onEvent: (ev: KernelEvent) => void): Promise<{ stop(): void }> {
    return this.stream(EventSubjects.all, (data) => onEvent(decodeKernelEvent(data)));
  }

  async stream(subject: string, onData: (data: Uint8Array, subject: string) => void): Promise<{ stop(): void }> {
    let refused: Error | undefined;
    const take = this.wire.guard("events", (m) => {
      try {
        onData(m.data, m.subject);
      } catch (e) {
        if (!(e instanceof MkError)) this.panic(e);
        this.eventLimiter.allow(this.log ?? this.fallbackLog, "bad-event", () =>
          (this.log ?? this.fallbackLog).warn({ subject: m.subject, err: e.message }, "event dropped: %s", e.message),
        );
      }
    });
    const sub = this.nc.subscribe(subject, {
      callback: (err, m) => {
        if (err) refused = err;
        else take(null, m);
      },
    });
    // The server answers a refused subscription before the flush's PONG.
    await this.nc.flush();
    if (refused || sub.isClosed()) {
      sub.unsubscribe();
      throw new MkError(
        "ECALLDENIED",
        `${this.label} may not read the event stream ${subject}: it needs events: true in the privilege table`,
        { cause: refused },
      );
    }
    return { stop: () => sub.unsubscribe() };
  }

  announce(subject: string, data: Uint8Array): void {
    this.wire.publish(subject, data);
  }

  async close(): Promise<void> {
    this.closing = true;
    this.watchdog?.cancel();
    this.kernelSub?.unsubscribe();
    this.mux.close(new MkError("ENOTREADY", `${this.label} is closing`));
    this.direct.close(new MkError("ENOTREADY", `${this.label} is closing`));
    for (const p of this.channelsOut.values()) void p.then((c) => c?.mux.close(new MkError("ENOTREADY", `${this.label} is closing`)));
    this.channelsOut.clear();
    await this.channelConn?.nc.close().catch(() => undefined);
    if (this.nc.isClosed()) return;
    // Drain lets in-flight replies go out; a server that is gone must not hold us up.
    const drained = this.nc.drain().catch(() => undefined);
    await Promise.race([drained, new Promise((r) => setTimeout(r, DRAIN_MS).unref())]);
    if (!this.nc.isClosed()) await this.nc.close().catch(() => undefined);
  }

  panic(err: unknown): never {
    return this.onPanic(err);
  }
}

/**
 * A responder answers only the kernel's answer inbox or the caller's sub-inbox for them
 * (reply-direct): a reply subject that names anywhere else is never published to, whoever
 * put it there (NATS would refuse most of them anyway: a service may publish only there).
 */
function answerable(reply: string, source: string): boolean {
  if (reply.startsWith(`${Subjects.kernelAnswers}.`)) return true;
  const i = source.indexOf("#");
  return i > 0 && reply.startsWith(`${Subjects.directInbox(source.slice(0, i))}.`);
}

/**
 * The envelope of a trap. `self` is the caller's incarnation once it has one: the kernel
 * refuses traps from an incarnation that has been superseded (EDEADSRCDST), so a driver
 * that hung, was replaced and wakes up cannot touch the hardware again. The kernel
 * stamps the source of what it delivers itself. The trace in force (the request this
 * call is made for) goes along, with a span of this call's own.
 */
export function trapEnvelope(
  caller: string,
  dst: string,
  type: number,
  kind: string,
  args: object | undefined,
  timeoutMs?: number,
  self?: string,
): Envelope {
  const h = new Envelope();
  if (self) h.set(H.src, self);
  h.set(H.type, String(type));
  h.set(H.dst, dst);
  h.set(H.req, unguessableId());
  h.set(H.hops, addHop(undefined, caller, systemClock.nowUs()));
  h.set(H.trace, childTrace());
  if (kind !== Kind.SENDREC) h.set(H.kind, kind);
  const a = encodeArgs(args);
  if (a !== undefined) h.set(H.args, a);
  if (timeoutMs !== undefined) h.set(H.timeout, String(timeoutMs));
  return h;
}

/** The server's answer that it knows no channel by the token the request came with: nothing was run. */
function revokedChannel(m: Msg): boolean {
  const { get } = readEnvelope(m);
  return get(H.errname) === "EBADSRCDST" && (get(H.errdetail) ?? "").includes('"arg":"channel"');
}

/** receiver: who takes the reply (stamped on the trail of a call made for a traced request). */
export function parseReply(m: Msg, receiver?: string): RawReply {
  const { get } = readEnvelope(m);
  const status = decodeStatus(get);
  if (status !== 0) throw decodeError(get, status);
  const hops = replyHops(get);
  const calls = replyCalls(get);
  // The request being handled, if any, carries this call's trail back to its own caller.
  noteCall(hops, calls, receiver);
  return { args: decodeRawArgs(get), data: m.data, hops, ...(calls !== undefined ? { calls } : {}) };
}

/** A request's failure as the caller sees it: the registry's errno, with what the caller knows. */
export function natsToMkError(e: unknown, dst: string): MkError {
  if (e instanceof MkError) return e;
  if (isLocalError(e, "MK_ERR_REQUEST_TIMEOUT")) return toMkError(e, `no reply from ${dst} in time`);
  if (isLocalError(e, "MK_ERR_PUBLISH_DENIED") || isLocalError(e, "MK_ERR_INBOX_DENIED")) {
    return toMkError(
      e,
      `${e.message}: this connection's NATS user may not trap as the service it claims to be (is MK_CREDS this service's own credential?)`,
    );
  }
  if (isLocalError(e, "MK_ERR_NO_RESPONDERS")) return toMkError(e, `kernel-core is not answering traps`);
  if (isLocalError(e, "MK_ERR_DISCONNECTED")) return toMkError(e, `the NATS connection is lost: ${dst} cannot answer until it is back`);
  return new MkError("EIO", `transport failure to ${dst}: ${(e as Error)?.message ?? e}`, { cause: e });
}
