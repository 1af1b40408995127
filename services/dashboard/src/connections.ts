// The dashboard's connection bounds: at most MAX_CONNECTIONS sockets in all and
// MAX_CONNECTIONS_PER_ADDRESS from one remote address. A newcomer past a bound takes the
// place of the connection idle longest (one answering no request: it has not sent a whole
// request yet, or it is kept alive between requests), so connections that are merely held
// open (slowloris) cannot lock anyone out; only when every connection at the bound is
// being answered is the newcomer refused. On loopback any local process can connect from
// any 127.x.y.z, so the per-address bound is fairness among honest clients (one page
// cannot take every place), not a defence against a local attacker: the total bound caps
// what an attacker can make the process hold, and eviction keeps the door open.
import type { Socket } from "node:net";

export const MAX_CONNECTIONS = 256;
/** A browser opens at most 6 connections to a host, plus the stream and the console. */
export const MAX_CONNECTIONS_PER_ADDRESS = 32;

interface Place {
  addr: string;
  busy: boolean;
}

interface Address {
  n: number;
  /** Its idle connections, the one idle longest first. */
  idle: Set<Socket>;
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
  /** Every idle connection, the one idle longest first. */
  private readonly idleAll = new Set<Socket>();
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
   * For the server's "connection" event: takes a place for the newcomer, ending the
   * connection idle longest when a bound is hit. False (the newcomer destroyed) when every
   * connection counted against that bound is answering a request.
   */
  admit(socket: Socket): boolean {
    const addr = socket.remoteAddress ?? "";
    const own = this.addresses.get(addr);
    if (own && own.n >= this.perAddress && !this.evictOne(own.idle, "address", addr)) return this.refuse(socket, "address", addr);
    if (this.places.size >= this.max && !this.evictOne(this.idleAll, "total", addr)) return this.refuse(socket, "total", addr);
    const a = own ?? { n: 0, idle: new Set<Socket>() };
    if (!own) this.addresses.set(addr, a);
    a.n++;
    a.idle.add(socket);
    this.idleAll.add(socket);
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

  /** Its answer is sent: it idles (kept alive for the next request), the newest idle one. */
  idle(socket: Socket | null | undefined): void {
    const p = socket && this.places.get(socket);
    if (!p || socket.destroyed) return;
    p.busy = false;
    this.idleAll.delete(socket);
    this.idleAll.add(socket);
    const a = this.addresses.get(p.addr);
    a?.idle.delete(socket);
    a?.idle.add(socket);
  }

  private evictOne(from: Set<Socket>, bound: Bound, addr: string): boolean {
    const victim = first(from);
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
