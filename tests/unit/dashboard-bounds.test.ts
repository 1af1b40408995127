// The dashboard's connection and stream bounds on stand-in sockets and responses: which
// one a newcomer replaces when a bound is hit, and when it is refused instead.
import { EventEmitter } from "node:events";
import type { ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { describe, expect, it } from "vitest";
import { ConnectionBounds, EventStreams, MAX_STREAMS, MAX_STREAMS_PER_ADDRESS } from "../../services/dashboard/src/index.ts";

/** What the bounds read of a socket or a response: an address, its unsent bytes, destroy(). */
class Conn extends EventEmitter {
  destroyed = false;
  writableLength = 0;
  written: string[] = [];
  readonly remoteAddress: string;
  constructor(remoteAddress: string) {
    super();
    this.remoteAddress = remoteAddress;
  }
  destroy(): void {
    this.destroyed = true;
  }
  write(s: string): boolean {
    this.written.push(s);
    return true;
  }
  end(): void {}
}
const socket = (addr: string) => new Conn(addr) as Conn & Socket;
const response = () => new Conn("") as unknown as Conn & ServerResponse;

describe("dashboard bounds", () => {
  it("connections - past the total bound a newcomer ends the oldest connection without a whole request before any kept-alive one, then the one kept alive longest", () => {
    const b = new ConnectionBounds({ max: 3, perAddress: 10 });
    const [k1, k2, fresh, n1, n2] = ["127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"].map(socket);
    for (const k of [k1, k2]) {
      expect(b.admit(k)).toBe(true);
      b.busy(k);
      b.idle(k); // answered, kept alive
    }
    b.admit(fresh);
    expect(b.admit(n1)).toBe(true);
    expect([k1.destroyed, k2.destroyed, fresh.destroyed]).toEqual([false, false, true]);
    b.busy(n1);
    b.idle(n1);
    expect(b.admit(n2)).toBe(true);
    expect([k1.destroyed, k2.destroyed, n1.destroyed]).toEqual([true, false, false]);
    expect({ size: b.size, evicted: b.evicted, refused: b.refused }).toEqual({ size: 3, evicted: 2, refused: 0 });
  });

  it("connections - a connection answering a request is never ended for a newcomer: with every one busy the newcomer is refused", () => {
    const b = new ConnectionBounds({ max: 2, perAddress: 10 });
    const [s1, s2, s3] = ["127.0.0.1", "127.0.0.2", "127.0.0.3"].map(socket);
    b.admit(s1);
    b.admit(s2);
    b.busy(s1);
    b.busy(s2);
    expect(b.admit(s3)).toBe(false);
    expect([s1.destroyed, s2.destroyed, s3.destroyed]).toEqual([false, false, true]);
    expect(b.refused).toBe(1);
    s2.emit("close"); // its place is given back
    const s4 = socket("127.0.0.4");
    expect(b.admit(s4)).toBe(true);
  });

  it("connections - past the per-address bound a newcomer replaces its own address's idle connection, not another address's", () => {
    const b = new ConnectionBounds({ max: 10, perAddress: 2 });
    const a1 = socket("127.0.0.9");
    const [x1, x2, x3] = ["127.0.0.1", "127.0.0.1", "127.0.0.1"].map(socket);
    b.admit(a1);
    b.admit(x1);
    b.admit(x2);
    expect(b.admit(x3)).toBe(true);
    expect([a1.destroyed, x1.destroyed, x2.destroyed]).toEqual([false, true, false]);
    b.busy(x2);
    b.busy(x3);
    expect(b.admit(socket("127.0.0.1"))).toBe(false); // its own are all busy; others' idle ones are not its to take
    expect(a1.destroyed).toBe(false);
  });

  it("streams - a full table ends the stream furthest behind, else the oldest; a full address ends its own oldest", () => {
    const s = new EventStreams();
    const all = Array.from({ length: MAX_STREAMS }, () => response());
    all.forEach((r, i) => s.add(r, `127.0.0.${10 + Math.floor(i / MAX_STREAMS_PER_ADDRESS)}`));
    all[5].writableLength = 1000; // its kernel buffers are full: not keeping up
    s.add(response(), "127.0.0.1");
    expect(all.filter((r) => r.destroyed)).toEqual([all[5]]);
    s.add(response(), "127.0.0.2");
    expect(all[0].destroyed).toBe(true); // none behind: the oldest
    const own = all[MAX_STREAMS - MAX_STREAMS_PER_ADDRESS]; // the oldest of the last address
    s.add(response(), `127.0.0.${10 + MAX_STREAMS / MAX_STREAMS_PER_ADDRESS - 1}`);
    expect(own.destroyed).toBe(true);
    expect({ size: s.size, evicted: s.evicted }).toEqual({ size: MAX_STREAMS, evicted: 3 });
  });

  it("streams - a stream with more than STREAM_BACKLOG unsent is dropped at its next event; the others get it", () => {
    const s = new EventStreams();
    const [slow, fine] = [response(), response()];
    s.add(slow, "127.0.0.1");
    s.add(fine, "127.0.0.1");
    slow.writableLength = 10 * 2 ** 20;
    s.broadcast("state", "{}");
    expect([slow.destroyed, fine.written]).toEqual([true, ["event: state\ndata: {}\n\n"]]);
    expect(s.size).toBe(1);
  });
});
