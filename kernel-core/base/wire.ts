// Every message mkos puts on NATS goes out through a Wire: sized against the server's
// max_payload before it is sent, and never throwing. A reply that cannot be sent becomes
// an error reply in its place; a one-way message that cannot be sent is counted and
// logged (rate-limited), and the sender gets the errno. Subscription callbacks run inside
// `guard`, so no message can end a process by throwing in NATS's own read loop.
import type { Msg, NatsConnection } from "@nats-io/transport-node";
import { encodeErrDetail, H, headerSafe, MAX_PAYLOAD, MkError } from "#abi";
import type { Clock } from "./clock.ts";
import { LogLimiter, type Logger } from "./log.ts";
import { Envelope } from "./nats-envelope.ts";

export class Wire {
  readonly nc: NatsConnection;
  private readonly log: Logger;
  private readonly limiter: LogLimiter;

  constructor(nc: NatsConnection, log: Logger, clock: Clock) {
    this.nc = nc;
    this.log = log;
    this.limiter = new LogLimiter(clock);
  }

  get maxPayload(): number {
    return this.nc.info?.max_payload ?? MAX_PAYLOAD;
  }

  /** Publishes; returns the errno that stopped it (EMSGSIZE, or EIO when the connection failed). */
  publish(subject: string, data: Uint8Array | undefined, headers?: Envelope, reply?: string): MkError | undefined {
    const size = (data?.length ?? 0) + (headers ? headers.encode().length : 0);
    let err: MkError;
    if (size > this.maxPayload) {
      err = new MkError("EMSGSIZE", `a message of ${size} bytes exceeds the server's max_payload of ${this.maxPayload}`);
    } else {
      try {
        this.nc.publish(subject, data, reply ? { headers, reply } : { headers });
        return undefined;
      } catch (e) {
        err = new MkError("EIO", `publish failed: ${(e as Error).message}`, { cause: e });
      }
    }
    this.limiter.allow(this.log, `unsent:${err.errno}`, () =>
      this.log.warn({ subject: subject.slice(0, 64), bytes: size, err: err.errno }, "message not sent: %s", err.message),
    );
    return err;
  }

  /** Answers a request. An answer that cannot be sent is replaced by an error reply naming why. */
  respond(reply: string | undefined, data: Uint8Array | undefined, headers: Envelope): void {
    if (!reply) return;
    const err = this.publish(reply, data, headers);
    if (err) this.publish(reply, undefined, errorEnvelope(err));
  }

  /** A subscription callback that cannot throw into NATS's read loop, sync or async. */
  guard(what: string, fn: (m: Msg) => unknown): (err: Error | null, m: Msg) => void {
    const fail = (e: unknown) =>
      this.limiter.allow(this.log, `callback:${what}`, () =>
        this.log.error({ err: e, subscription: what }, "%s: message handling failed", what),
      );
    return (err, m) => {
      if (err) return;
      try {
        const r = fn(m);
        if (r instanceof Promise) r.catch(fail);
      } catch (e) {
        fail(e);
      }
    };
  }
}

/** The envelope of an error reply: status, stable name, one bounded line of text. */
export function errorEnvelope(e: MkError): Envelope {
  const h = new Envelope();
  h.set(H.status, String(e.code));
  h.set(H.errname, e.errno);
  h.set(H.errmsg, headerSafe(e.message));
  const detail = encodeErrDetail(e.detail);
  if (detail !== undefined) h.set(H.errdetail, detail);
  return h;
}
