// User placement: the service is its own process and reaches everything through its own
// trap subject. With request-mux.ts and nats-envelope.ts, the only libsys code that
// speaks NATS.
import { connect, nuid, type Msg, type NatsConnection, type Subscription } from "@nats-io/transport-node";
import {
  addHop, decodeError, decodeKind, decodeRawArgs, decodeStatus, decodeType, encodeArgs, headerSafe,
  H, Kind, MkError, NOTIFY_MESSAGE, Subjects, typeName, type Args, type Delivered, type Reply,
} from "#abi";
import { systemClock } from "#base/clock.ts";
import { Envelope, readEnvelope } from "#base/nats-envelope.ts";
import { InboxDeniedError, NoRespondersError, PublishDeniedError, RequestMux, RequestTimeoutError } from "#base/request-mux.ts";
import type { Credential } from "#base/credentials.ts";
import type { Logger } from "#base/log.ts";
import type { RawReply, Receiver, Transport } from "#base/transport.ts";

export const DEFAULT_TIMEOUT_MS = 30_000;
const DRAIN_MS = 1000;

export async function connectNats(label: string, cred: Credential): Promise<NatsConnection> {
  return connect({
    servers: cred.servers,
    user: cred.user,
    pass: cred.password,
    name: label,
    inboxPrefix: Subjects.inboxPrefix(label),
    maxReconnectAttempts: 10,
  });
}

export class NatsTransport implements Transport {
  readonly label: string;
  readonly placement = "user" as const;
  readonly nc: NatsConnection;
  private sub?: Subscription;
  private readonly trap: string;
  private readonly onPanic: (err: unknown) => never;
  private readonly mux: RequestMux;
  /** This incarnation, once the kernel assigned it: every trap after SYS_HELLO names it. */
  private self?: string;
  /** Set by the service lifecycle once the incarnation is known; debug lines per message. */
  log?: Logger;

  constructor(label: string, nc: NatsConnection, onPanic?: (err: unknown) => never) {
    this.label = label;
    this.nc = nc;
    this.trap = Subjects.trap(label);
    this.mux = new RequestMux(nc, Subjects.inboxPrefix(label), systemClock);
    this.mux.start();
    this.onPanic = onPanic ?? ((err) => {
      console.error(JSON.stringify({ level: 60, svc: label, msg: "panic", err: String((err as Error)?.stack ?? err) }));
      process.exit(70);
    });
  }

  static async connect(label: string, cred: Credential): Promise<NatsTransport> {
    return new NatsTransport(label, await connectNats(label, cred));
  }

  connectionId(): number {
    return this.nc.info?.client_id ?? 0;
  }

  private envelope(dst: string, type: number, kind: string, args: Args | undefined, timeoutMs?: number): Envelope {
    return trapEnvelope(this.label, dst, type, kind, args, timeoutMs, this.self);
  }

  async sendrec(dst: string, type: number, args: Args | undefined, data: Uint8Array, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<RawReply> {
    const h = this.envelope(dst, type, Kind.SENDREC, args, timeoutMs);
    let m: Msg;
    try {
      // The kernel answers within timeoutMs; the extra second covers its own reply hop.
      m = await this.mux.request(this.trap, data, h, timeoutMs + 1000);
    } catch (e) {
      throw natsToMkError(e, dst);
    }
    return parseReply(m);
  }

  async send(dst: string, type: number, args: Args | undefined, data: Uint8Array): Promise<void> {
    const h = this.envelope(dst, type, Kind.SEND, args);
    try {
      parseReply(await this.mux.request(this.trap, data, h, DEFAULT_TIMEOUT_MS));
    } catch (e) {
      throw natsToMkError(e, dst);
    }
  }

  async notify(dst: string, bits: number): Promise<void> {
    // Non-blocking, as in MINIX: no reply is awaited; the kernel coalesces the bits.
    this.nc.publish(this.trap, undefined, { headers: this.envelope(dst, NOTIFY_MESSAGE, Kind.NOTIFY, { bits }) });
  }

  async listen(generation: number, receiver: Receiver): Promise<void> {
    this.self = `${this.label}#${generation}`;
    this.sub = this.nc.subscribe(Subjects.endpoint(this.label, generation), {
      callback: (err, msg) => {
        if (err) return;
        void this.receive(msg, receiver);
      },
    });
    await this.nc.flush();
  }

  private async receive(msg: Msg, receiver: Receiver): Promise<void> {
    const { get } = readEnvelope(msg);
    let reply: Reply | undefined;
    try {
      const kind = decodeKind(get);
      const type = decodeType(get);
      const source = get(H.src) ?? "";
      const args = decodeRawArgs(get);
      if (kind === Kind.NOTIFY) {
        const bits = (args as { bits?: unknown }).bits;
        if (typeof bits === "number" && Number.isInteger(bits)) receiver.notify(source, bits);
        return;
      }
      const delivered: Delivered = { type, args: args as Args, data: msg.data, source, kind, reqId: get(H.req) ?? "" };
      reply = await receiver.deliver(delivered);
      this.log?.debug({ msgType: typeName(type), reqId: delivered.reqId, source, bytes: msg.data.length }, "%s from %s", typeName(type), source);
    } catch (e) {
      if (!(e instanceof MkError)) this.panic(e);
      this.log?.debug({ msgType: typeName(Number(get(H.type))), reqId: get(H.req), source: get(H.src), err: e.errno }, "refused: %s", e.message);
      if (msg.reply) msg.respond(undefined, { headers: errorHeaders(e) });
      return;
    }
    if (!msg.reply) return;
    const h = new Envelope();
    h.set(H.status, "0");
    const a = encodeArgs(reply?.args);
    if (a !== undefined) h.set(H.args, a);
    h.set(H.hops, addHop(get(H.hops), this.label, systemClock.nowUs()));
    msg.respond(reply?.data, { headers: h });
  }

  async close(): Promise<void> {
    this.mux.close(new MkError("ENOTREADY", `${this.label} is closing`));
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
 * The envelope of a trap. `self` is the caller's incarnation once it has one: the kernel
 * refuses traps from an incarnation that has been superseded (EDEADSRCDST), so a driver
 * that hung, was replaced and wakes up cannot touch the hardware again. The kernel
 * stamps the source of what it delivers itself.
 */
export function trapEnvelope(caller: string, dst: string, type: number, kind: string, args: Args | undefined, timeoutMs?: number, self?: string): Envelope {
  const h = new Envelope();
  if (self) h.set(H.src, self);
  h.set(H.type, String(type));
  h.set(H.dst, dst);
  h.set(H.req, nuid.next());
  h.set(H.hops, addHop(undefined, caller, systemClock.nowUs()));
  if (kind !== Kind.SENDREC) h.set(H.kind, kind);
  const a = encodeArgs(args);
  if (a !== undefined) h.set(H.args, a);
  if (timeoutMs !== undefined) h.set(H.timeout, String(timeoutMs));
  return h;
}

export function errorHeaders(e: MkError): Envelope {
  const h = new Envelope();
  h.set(H.status, String(e.code));
  h.set(H.errname, e.errno);
  h.set(H.errmsg, headerSafe(e.message));
  return h;
}

export function parseReply(m: Msg): RawReply {
  const { get } = readEnvelope(m);
  const status = decodeStatus(get);
  if (status !== 0) throw decodeError(get, status);
  return { args: decodeRawArgs(get), data: m.data, hops: get(H.hops) };
}

export function natsToMkError(e: unknown, dst: string): MkError {
  if (e instanceof MkError) return e;
  if (e instanceof RequestTimeoutError) {
    return new MkError("ETIMEDOUT", `no reply from ${dst} in time`, { cause: e });
  }
  if (e instanceof PublishDeniedError || e instanceof InboxDeniedError) {
    return new MkError("ETRAPDENIED", `${e.message}: this connection's NATS user may not trap as the service it claims to be (is MK_CREDS this service's own credential?)`, { cause: e });
  }
  if (e instanceof NoRespondersError) {
    return new MkError("ENOTREADY", `kernel-core is not answering traps`, { cause: e });
  }
  return new MkError("EIO", `transport failure to ${dst}: ${(e as Error)?.message ?? e}`, { cause: e });
}
