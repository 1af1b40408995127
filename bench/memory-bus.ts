// An in-memory stand-in for a NATS server and its connections, for bench:js only: it
// measures how much of a crossing is JavaScript by taking the sockets away. Messages are
// built the way nats.js's protocol handler builds them (header block and body in one
// buffer, a MsgImpl), so every party runs its real receive and send code; delivery is a
// microtask, as a socket read would be a later event. Subjects match as NATS does (`*`
// one token, `>` the rest). No permissions, no no-responders: never a test double for
// the real server.
import { MsgImpl } from "@nats-io/nats-core/internal";
import type { Msg, MsgHdrs, NatsConnection, Subscription } from "@nats-io/transport-node";

type Callback = (err: Error | null, msg: Msg) => void;

interface Sub {
  readonly tokens: string[];
  readonly callback: Callback;
  readonly sid: number;
}

export class MemoryBus {
  private subs: Sub[] = [];
  private sid = 0;
  private clients = 0;
  private readonly tokenCache = new Map<string, string[]>();

  /** A connection as the parties see it; cast because only what mkos uses is there. */
  connect(): NatsConnection {
    return new MemoryConnection(this, ++this.clients) as unknown as NatsConnection;
  }

  subscribe(subject: string, callback: Callback): Subscription {
    const sub: Sub = { tokens: subject.split("."), callback, sid: ++this.sid };
    this.subs.push(sub);
    return { unsubscribe: () => void (this.subs = this.subs.filter((s) => s !== sub)) } as unknown as Subscription;
  }

  publish(subject: string, data: Uint8Array, headers: MsgHdrs | undefined, reply: string, publisher: MemoryConnection): void {
    // What nats.js does on publish: the header block is encoded and sent before the body.
    const block = headers ? (headers as unknown as { encode(): Uint8Array }).encode() : undefined;
    let raw = data;
    if (block) {
      raw = new Uint8Array(block.length + data.length);
      raw.set(block);
      raw.set(data, block.length);
    }
    const tokens = this.tokens(subject);
    for (const s of this.subs) {
      if (!matches(s.tokens, tokens)) continue;
      const arg = {
        subject: Buffer.from(subject),
        reply: Buffer.from(reply),
        sid: s.sid,
        hdr: block ? block.length : -1,
        size: raw.length,
      };
      const msg = new MsgImpl(arg, raw, publisher);
      queueMicrotask(() => s.callback(null, msg));
    }
  }

  private tokens(subject: string): string[] {
    let t = this.tokenCache.get(subject);
    if (!t) {
      t = subject.split(".");
      if (this.tokenCache.size < 10_000) this.tokenCache.set(subject, t);
    }
    return t;
  }
}

function matches(pattern: string[], subject: string[]): boolean {
  for (let i = 0; i < pattern.length; i++) {
    if (pattern[i] === ">") return i < subject.length;
    if (i >= subject.length || (pattern[i] !== "*" && pattern[i] !== subject[i])) return false;
  }
  return pattern.length === subject.length;
}

class MemoryConnection {
  readonly info: { client_id: number; headers: boolean; max_payload: number };
  private readonly bus: MemoryBus;

  constructor(bus: MemoryBus, id: number) {
    this.bus = bus;
    this.info = { client_id: id, headers: true, max_payload: 1024 * 1024 };
  }

  publish(subject: string, data?: Uint8Array | string, opts?: { headers?: MsgHdrs; reply?: string }): void {
    const bytes = typeof data === "string" ? Buffer.from(data) : (data ?? new Uint8Array(0));
    this.bus.publish(subject, bytes, opts?.headers, opts?.reply ?? "", this);
  }

  subscribe(subject: string, opts: { callback: Callback }): Subscription {
    return this.bus.subscribe(subject, opts.callback);
  }

  /** No server, so no asynchronous errors to report: the status stream ends at once. */
  async *status(): AsyncIterable<never> {}

  async flush(): Promise<void> {}
  isClosed(): boolean {
    return false;
  }
  async drain(): Promise<void> {}
  async close(): Promise<void> {}
}
