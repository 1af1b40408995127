// Request/reply without nats.js's per-request cost. nats.js request() builds two Error
// objects (stack captures) and a timer for every call; on the trap path that was a fifth
// of the kernel's CPU. This multiplexer keeps one wildcard subscription on the caller's
// own inbox, a map of pending requests, and one sweep timer for deadlines. A reply with
// status 503 is the server's no-responders answer: nobody subscribes to the subject. When
// the server refuses a publish, or the inbox subscription, it says so asynchronously on the
// connection: the requests concerned fail at once instead of waiting for their deadline.
// When the connection to the server is lost, every pending request fails at once too:
// NATS core keeps no message for a subscriber that is away, so their replies are gone;
// and until it is back, a new request fails at once rather than wait in nats.js's buffer.
import { randomBytes } from "node:crypto";
import { errors, type Msg, type NatsConnection, type Subscription } from "@nats-io/transport-node";
import type { Clock, Timer } from "./clock.ts";
import { LocalError, type LocalCode } from "./errors.ts";
import { readEnvelope, type Envelope } from "./nats-envelope.ts";
import type { Wire } from "./wire.ts";

/** Random bytes for request ids, drawn a few thousand at a time (one draw costs as much as 256 ids). */
const ID_BYTES = 12;
let idPool = Buffer.alloc(0);
let idAt = 0;

/**
 * A request id no one can guess (96 random bits; a sequence number would do for matching).
 * Others may publish into this inbox: servers answer into a caller's by reply-direct, every
 * service into the kernel's. A server that guessed the id of a request it was not sent could
 * answer it as if it were the server asked.
 */
export function unguessableId(): string {
  if (idAt + ID_BYTES > idPool.length) {
    idPool = randomBytes(ID_BYTES * 256);
    idAt = 0;
  }
  idAt += ID_BYTES;
  return idPool.toString("base64url", idAt - ID_BYTES, idAt);
}

// The errors below are rows of the local error registry (./errors.ts); each becomes the
// errno the registry names when it crosses the wire (toMkError).

/** A request that failed on one subject: the subject is a field, not only text. */
abstract class OnSubject<C extends LocalCode> extends LocalError<C> {
  readonly subject: string;
  constructor(code: C, name: string, subject: string, message: string, options?: ErrorOptions) {
    super(code, message, options);
    this.name = name;
    this.subject = subject;
  }
}

/** MK_ERR_NO_RESPONDERS: nats-server answered that nobody subscribes to `subject`. */
export class NoRespondersError extends OnSubject<"MK_ERR_NO_RESPONDERS"> {
  constructor(subject: string) {
    super("MK_ERR_NO_RESPONDERS", "NoRespondersError", subject, `no responders on ${subject}`);
  }
}

/** MK_ERR_REQUEST_TIMEOUT: no reply on `subject` within `timeoutMs`. */
export class RequestTimeoutError extends OnSubject<"MK_ERR_REQUEST_TIMEOUT"> {
  readonly timeoutMs: number;
  constructor(subject: string, ms: number) {
    super("MK_ERR_REQUEST_TIMEOUT", "RequestTimeoutError", subject, `no reply on ${subject} within ${ms} ms`);
    this.timeoutMs = ms;
  }
}

/** MK_ERR_DISCONNECTED: the connection to the server was lost: no reply to a request already sent can arrive. */
export class DisconnectedError extends OnSubject<"MK_ERR_DISCONNECTED"> {
  constructor(subject: string) {
    super("MK_ERR_DISCONNECTED", "DisconnectedError", subject, `the NATS connection is lost (a request on ${subject} cannot be answered)`);
  }
}

/** MK_ERR_PUBLISH_DENIED: the server refused to let this connection publish on the request's subject. */
export class PublishDeniedError extends OnSubject<"MK_ERR_PUBLISH_DENIED"> {
  constructor(subject: string, options?: ErrorOptions) {
    super("MK_ERR_PUBLISH_DENIED", "PublishDeniedError", subject, `the NATS server refused a publish on ${subject}`, options);
  }
}

/** MK_ERR_INBOX_DENIED: the server refused the subscription to the caller's own inbox: no reply can arrive. */
export class InboxDeniedError extends LocalError<"MK_ERR_INBOX_DENIED"> {
  readonly inbox: string;
  constructor(inbox: string, options?: ErrorOptions) {
    super("MK_ERR_INBOX_DENIED", `the NATS server refused the subscription to ${inbox}`, options);
    this.name = "InboxDeniedError";
    this.inbox = inbox;
  }
}

interface Pending {
  subject: string;
  /** The incarnation (label#generation) the request is addressed to, when it names one: its death fails the request. */
  dst?: string;
  deadline: number;
  timeoutMs: number;
  resolve: (m: Msg) => void;
  reject: (e: Error) => void;
}

const SWEEP_MS = 50;

export class RequestMux {
  private readonly nc: NatsConnection;
  private readonly wire: Wire;
  private readonly prefix: string;
  private readonly clock: Clock;
  private readonly pending = new Map<string, Pending>();
  private sub?: Subscription;
  private sweeper?: Timer;
  private inboxDenied?: InboxDeniedError;
  private closed = false;
  private stopStatuses?: () => void;
  /** Given up (a channel replaced or revoked): closes once its last pending request is answered. */
  private retired = false;
  private disconnected = false;

  /** inboxPrefix: the caller's own inbox (`_INBOX.<label>`), the only one it may read. */
  constructor(wire: Wire, inboxPrefix: string, clock: Clock) {
    this.wire = wire;
    this.nc = wire.nc;
    // Random too: a party that may publish into the inbox must not find the live prefix from another's (nuid's are one sequence).
    this.prefix = `${inboxPrefix}.${unguessableId()}.`;
    this.clock = clock;
  }

  start(): void {
    const onReply = this.wire.guard("inbox", (m) => {
      const id = m.subject.slice(this.prefix.length);
      const p = this.pending.get(id);
      if (!p) return; // late reply to a request that already timed out
      this.pending.delete(id);
      if (this.retired && this.pending.size === 0) queueMicrotask(() => this.shut());
      if (m.data.length === 0 && readEnvelope(m).code === 503) p.reject(new NoRespondersError(p.subject));
      else p.resolve(m);
    });
    this.sub = this.nc.subscribe(`${this.prefix}*`, {
      callback: (err, m) => {
        if (err) {
          this.inboxDenied = new InboxDeniedError(`${this.prefix}*`, { cause: err });
          this.failAll(this.inboxDenied);
          return;
        }
        onReply(null, m);
      },
    });
    void this.watchRefusals();
  }

  private async watchRefusals(): Promise<void> {
    const statuses = this.nc.status();
    // Stopped at close: a mux per channel comes and goes, its listener must not stay behind.
    this.stopStatuses = () => (statuses as { stop?: () => void }).stop?.();
    for await (const s of statuses) {
      if (this.closed) return;
      if (s.type === "reconnect") this.disconnected = false;
      if (s.type === "disconnect") {
        this.disconnected = true;
        for (const [id, p] of this.pending) {
          this.pending.delete(id);
          p.reject(new DisconnectedError(p.subject));
        }
        continue;
      }
      if (s.type !== "error" || !(s.error instanceof errors.PermissionViolationError) || s.error.operation !== "publish") continue;
      const refused = s.error;
      for (const [id, p] of this.pending) {
        if (p.subject !== refused.subject) continue;
        this.pending.delete(id);
        p.reject(new PublishDeniedError(refused.subject, { cause: refused }));
      }
    }
  }

  /** Fails every pending request with e (the peer that would answer them is gone). */
  failAll(e: Error): void {
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
  }

  /** No new requests from now on; closes (its subscription too) once what is pending is answered or timed out. */
  retire(): void {
    this.retired = true;
    if (this.pending.size === 0) this.shut();
  }

  /** Fails every pending request addressed to the incarnation dst (label#generation) with e: it died. */
  failTo(dst: string, e: Error): void {
    for (const [id, p] of this.pending) {
      if (p.dst !== dst) continue;
      this.pending.delete(id);
      p.reject(e);
    }
  }

  /** Pending requests (each is bounded by its deadline; callers bound how many they start). */
  get size(): number {
    return this.pending.size;
  }

  /** Rejects with the Wire's errno (EMSGSIZE, EIO) at once when the request cannot be sent. */
  request(subject: string, data: Uint8Array | undefined, headers: Envelope, timeoutMs: number, dst?: string): Promise<Msg> {
    if (this.inboxDenied) return Promise.reject(this.inboxDenied);
    if (this.disconnected) return Promise.reject(new DisconnectedError(subject));
    const id = unguessableId();
    return new Promise<Msg>((resolve, reject) => {
      this.pending.set(id, { subject, dst, deadline: this.clock.now() + timeoutMs, timeoutMs, resolve, reject });
      const err = this.wire.publish(subject, data, headers, this.prefix + id);
      if (err) {
        this.pending.delete(id); // leave nothing behind
        reject(err);
        return;
      }
      if (!this.sweeper) this.sweep();
    });
  }

  private sweep(): void {
    this.sweeper = this.clock.setTimeout(() => {
      const now = this.clock.now();
      for (const [id, p] of this.pending) {
        if (p.deadline <= now) {
          this.pending.delete(id);
          p.reject(new RequestTimeoutError(p.subject, p.timeoutMs));
        }
      }
      this.sweeper = undefined;
      if (this.pending.size > 0) this.sweep();
      else if (this.retired) this.shut();
    }, SWEEP_MS);
  }

  /** Fails every pending request (the connection is closing). */
  close(reason: Error): void {
    this.shut();
    this.failAll(reason);
  }

  /** Stops listening (nothing is pending, or close fails what is). */
  private shut(): void {
    this.closed = true;
    this.stopStatuses?.();
    this.sweeper?.cancel();
    this.sub?.unsubscribe();
  }
}
