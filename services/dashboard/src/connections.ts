// The dashboard's connection bounds: at most MAX_CONNECTIONS sockets in all and
// MAX_CONNECTIONS_PER_ADDRESS from one remote address. A newcomer past a bound takes the
// place of an idle connection (one answering no request): first the oldest that has not
// sent a whole request yet (a slowloris's), else the one kept alive longest since its last
// answer (a client that reuses it must open another: browsers do so by themselves), so
// connections merely held open cannot lock anyone out, and a flood of them does not cut
// the kept-alive connections of pages already served. Only when every connection at the
// bound is being answered is the newcomer refused. On loopback any local process can
// connect from any 127.x.y.z, so the per-address bound is fairness among honest clients
// (one page cannot take every place), not a defence against a local attacker: the total
// bound caps what an attacker can make the process hold, and eviction keeps the door open.
import type { Socket } from "node:net";

export const MAX_CONNECTIONS = 256;
/** A browser opens at most 6 connections to a host, plus the stream and the console. */
const MAX_CONNECTIONS_PER_ADDRESS = 32;

interface Place {
  addr: string;
  busy: boolean;
}

/** Idle connections, each set oldest first: those without a whole request yet, and those kept alive after an answer. */
class Idle {
  readonly fresh = new Set<Socket>();
  readonly kept = new Set<Socket>();
  /** The one to end for a newcomer. */
  victim(): Socket | undefined {
    return first(this.fresh) ?? first(this.kept);
  }
  delete(socket: Socket): void {
    this.fresh.delete(socket);
    this.kept.delete(socket);
  }
}

interface Address {
  n: number;
  idle: Idle;
}

export type Bound = "address" | "total";

export interface ConnectionBoundsOptions {
  max?: number;
  perAddress?: number;
  /** A connection ended to make room, or a newcomer refused (for a rate-limited log line). */
  onLimit?: (what: "evicted" | "refused", bound: Bound, addr: string) => void;
}

function first(set: Set<Socket>): Socket | undefined {
  return set.values().next().value;
}

export class ConnectionBounds {
  private readonly max: number;
  private readonly perAddress: number;
  private readonly onLimit: ConnectionBoundsOptions["onLimit"];
  private readonly places = new Map<Socket, Place>();
  private readonly idleAll = new Idle();
  private readonly addresses = new Map<string, Address>();
  evicted = 0;
  refused = 0;

  constructor(o: ConnectionBoundsOptions = {}) {
    this.max = o.max ?? MAX_CONNECTIONS;
    this.perAddress = o.perAddress ?? MAX_CONNECTIONS_PER_ADDRESS;
    this.onLimit = o.onLimit;
  }

  get size(): number {
    return this.places.size;
  }

  /**
   * For the server's "connection" event: takes a place for the newcomer, ending an idle
   * connection when a bound is hit (see above which). False (the newcomer destroyed) when
   * every connection counted against that bound is answering a request.
   */
  admit(socket: Socket): boolean {
    const addr = socket.remoteAddress ?? "";
    const own = this.addresses.get(addr);
    if (own && own.n >= this.perAddress && !this.evictOne(own.idle, "address", addr)) return this.refuse(socket, "address", addr);
    if (this.places.size >= this.max && !this.evictOne(this.idleAll, "total", addr)) return this.refuse(socket, "total", addr);
    const a = own ?? { n: 0, idle: new Idle() };
    if (!own) this.addresses.set(addr, a);
    a.n++;
    a.idle.fresh.add(socket);
    this.idleAll.fresh.add(socket);
    this.places.set(socket, { addr, busy: false });
    socket.once("close", () => this.forget(socket));
    return true;
  }

  /** A whole request arrived on it and is being answered: not to be evicted. */
  busy(socket: Socket | null | undefined): void {
    const p = socket && this.places.get(socket);
    if (!p || p.busy) return;
    p.busy = true;
    this.idleAll.delete(socket);
    this.addresses.get(p.addr)?.idle.delete(socket);
  }

  /** Its answer is sent: it idles, kept alive for the next request (the newest such). */
  idle(socket: Socket | null | undefined): void {
    const p = socket && this.places.get(socket);
    if (!p || socket.destroyed) return;
    p.busy = false;
    for (const idle of [this.idleAll, this.addresses.get(p.addr)?.idle]) {
      idle?.delete(socket);
      idle?.kept.add(socket);
    }
  }

  private evictOne(from: Idle, bound: Bound, addr: string): boolean {
    const victim = from.victim();
    if (!victim) return false;
    this.forget(victim);
    victim.destroy();
    this.evicted++;
    this.onLimit?.("evicted", bound, addr);
    return true;
  }

  private refuse(socket: Socket, bound: Bound, addr: string): false {
    socket.destroy();
    this.refused++;
    this.onLimit?.("refused", bound, addr);
    return false;
  }

  /** Its place is given back at once (a destroyed socket's "close" comes a turn later). */
  private forget(socket: Socket): void {
    const p = this.places.get(socket);
    if (!p) return;
    this.places.delete(socket);
    this.idleAll.delete(socket);
    const a = this.addresses.get(p.addr);
    if (!a) return;
    a.idle.delete(socket);
    if (--a.n <= 0) this.addresses.delete(p.addr);
  }
}
