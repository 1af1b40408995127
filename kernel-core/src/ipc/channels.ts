// The channels the kernel has opened (the `channel` path, DESIGN.md "IPC"): a caller's
// incarnation publishes its sendrecs to one server incarnation on a subject only its NATS
// user may publish (mk.ch.<dst>.<src>.<token>), and the server answers its inbox. The
// kernel acts at setup, where it checks the table, and at either party's death, where it
// revokes; in between it is off the path. At most one channel per caller incarnation and
// destination label: opening another (a new generation of the server) replaces it.
import type { EndpointEntry } from "../table/endpoint-table.ts";

export interface Channel {
  readonly token: string;
  readonly src: EndpointEntry;
  readonly dst: EndpointEntry;
}

export class Channels {
  private readonly bySrc = new Map<string, Map<string, Channel>>();

  /** Records ch; returns the channel it replaces (the same caller's to another incarnation of the label), if any. */
  add(ch: Channel): Channel | undefined {
    let mine = this.bySrc.get(ch.src.key);
    if (!mine) this.bySrc.set(ch.src.key, (mine = new Map()));
    const old = mine.get(ch.dst.label);
    mine.set(ch.dst.label, ch);
    return old;
  }

  /**
   * ep died: every channel from it is dropped and returned (its server must be told: the
   * token is void), and every channel to it is dropped (its callers hear of the death).
   */
  died(ep: EndpointEntry): Channel[] {
    const from = [...(this.bySrc.get(ep.key)?.values() ?? [])];
    this.bySrc.delete(ep.key);
    for (const [key, mine] of this.bySrc) {
      const to = mine.get(ep.label);
      if (to?.dst === ep) mine.delete(ep.label);
      if (mine.size === 0) this.bySrc.delete(key);
    }
    return from;
  }
}
