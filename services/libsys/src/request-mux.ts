// Request/reply without nats.js's per-request cost. nats.js request() builds two Error
// objects (stack captures) and a timer for every call; on the trap path that was a fifth
// of the kernel's CPU. This multiplexer keeps one wildcard subscription on the caller's
// own inbox, a map of pending requests, and one sweep timer for deadlines. A reply with
// status 503 is the server's no-responders answer: nobody subscribes to the subject.
import { nuid, type Msg, type MsgHdrs, type NatsConnection, type Subscription } from "@nats-io/transport-node";
import type { Clock, Timer } from "./clock.ts";
import { readEnvelope } from "./nats-envelope.ts";

export class NoRespondersError extends Error {
  constructor(subject: string) {
    super(`no responders on ${subject}`);
    this.name = "NoRespondersError";
  }
}

export class RequestTimeoutError extends Error {
  constructor(subject: string, ms: number) {
    super(`no reply on ${subject} within ${ms} ms`);
    this.name = "RequestTimeoutError";
  }
}

interface Pending {
  subject: string;
  deadline: number;
  timeoutMs: number;
  resolve: (m: Msg) => void;
  reject: (e: Error) => void;
}

const SWEEP_MS = 50;

export class RequestMux {
  private readonly nc: NatsConnection;
  private readonly prefix: string;
  private readonly clock: Clock;
  private readonly pending = new Map<string, Pending>();
  private sub?: Subscription;
  private sweeper?: Timer;
  private seq = 0;

  /** inboxPrefix: the caller's own inbox (`_INBOX.<label>`), the only one it may read. */
  constructor(nc: NatsConnection, inboxPrefix: string, clock: Clock) {
    this.nc = nc;
    this.prefix = `${inboxPrefix}.${nuid.next()}.`;
    this.clock = clock;
  }

  start(): void {
    this.sub = this.nc.subscribe(`${this.prefix}*`, {
      callback: (_err, m) => {
        const id = m.subject.slice(this.prefix.length);
        const p = this.pending.get(id);
        if (!p) return; // late reply to a request that already timed out
        this.pending.delete(id);
        if (m.data.length === 0 && readEnvelope(m).code === 503) p.reject(new NoRespondersError(p.subject));
        else p.resolve(m);
      },
    });
  }

  request(subject: string, data: Uint8Array | undefined, headers: MsgHdrs, timeoutMs: number): Promise<Msg> {
    const id = (++this.seq).toString(36);
    return new Promise<Msg>((resolve, reject) => {
      this.pending.set(id, { subject, deadline: this.clock.now() + timeoutMs, timeoutMs, resolve, reject });
      try {
        this.nc.publish(subject, data, { headers, reply: this.prefix + id });
      } catch (e) {
        this.pending.delete(id); // a closed connection: fail now, leave nothing behind
        throw e;
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
    }, SWEEP_MS);
  }

  /** Fails every pending request (the connection is closing). */
  close(reason: Error): void {
    this.sweeper?.cancel();
    this.sub?.unsubscribe();
    for (const p of this.pending.values()) p.reject(reason);
    this.pending.clear();
  }
}
